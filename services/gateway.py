"""All four services behind one address: /funds, /donations, /reports, /programmes.

The services run in this one process and call each other's internal APIs
directly through WSGI. Each also runs alone (see README).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, redirect
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from shared.config import SERVICES, load_settings


class Gateway(DispatcherMiddleware):
    def __init__(self, root: Flask, apps: dict[str, Flask]) -> None:
        super().__init__(root, {f"/{name}": app for name, app in apps.items()})
        self.apps = apps


def create_gateway(config: Mapping[str, Any] | None = None) -> Gateway:
    from services.donations import create_app as create_donations
    from services.funds import create_app as create_funds
    from services.programmes import create_app as create_programmes
    from services.reports import create_app as create_reports
    from shared.app import create_service_app

    overrides = dict(config or {})
    settings = overrides.pop("SETTINGS", None) or load_settings(overrides)
    overrides["SETTINGS"] = settings
    factories = {"funds": create_funds, "donations": create_donations, "reports": create_reports,
                 "programmes": create_programmes}
    apps = {name: factories[name](overrides) for name in SERVICES}
    for app in apps.values():
        for peer_name, peer in apps.items():
            if peer is not app:
                app.extensions["peers"].wire_local(peer_name, peer)

    # The root only redirects to the overview of how the funds are doing (which asks for a login
    # first) and answers 404 elsewhere.
    root = create_service_app("gateway", __name__, overrides)

    @root.get("/")
    def index() -> Any:
        return redirect("/donations/")

    return Gateway(root, apps)
