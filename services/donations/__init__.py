"""The donations service: the double-entry ledger of donations and disbursements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

SERVICE = "donations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.donations import internal, views, web
    from shared.api import api_config, init_api
    from shared.app import create_service_app
    from shared.auth import init_auth
    from shared.peers import RemoteAuthority

    app = create_service_app(SERVICE, __name__, config)
    app.config.update(api_config(
        "Donations service", "The double-entry ledger: donations, disbursements, reversals, balances."))
    settings = app.config["SETTINGS"]
    init_auth(app, RemoteAuthority(app.extensions["peers"], settings.auth_cache_seconds))

    api = init_api(app)
    api.register_blueprint(views.blp)
    app.register_blueprint(internal.bp)
    app.register_blueprint(web.bp)
    csrf = app.extensions["csrf_protect"]
    csrf.exempt(views.blp)
    csrf.exempt(internal.bp)
    return app
