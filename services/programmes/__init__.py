"""The programmes service: villages' needs, micro projects, assistance teams, consumer-assistance drives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

SERVICE = "programmes"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.programmes import (
        calendar_api, calendar_web, drives_api, internal, projects_api, public, report_api, teams_api, views, web,
        web_projects, web_teams_drives,
    )
    from services.programmes.models import IdempotencyRecord
    from shared.app import create_service_app, mount_blueprints
    from shared.contracts.caps import CapsClient
    from shared.contracts.funds import FundsClient
    from shared.idempotency import IdempotencyStore

    app = create_service_app(SERVICE, __name__, config)
    app.extensions["idempotency"] = IdempotencyStore(app.extensions["database"], IdempotencyRecord)
    app.extensions["caps"] = CapsClient(app.extensions["peers"])
    app.extensions["funds"] = FundsClient(app.extensions["peers"], app.config["SETTINGS"].auth_cache_seconds)
    mount_blueprints(app, app.extensions["funds"], title="Programmes service",
                     description="Weak villages and their needs, micro public-welfare projects, assistance teams, "
                                 "consumer-assistance drives, and what is disclosed to the public.",
                     api=(views.blp, projects_api.blp, teams_api.blp, drives_api.blp, calendar_api.blp),
                     internal=(internal.bp, report_api.bp),
                     web=(web.bp, web_projects.bp, web_teams_drives.bp, calendar_web.bp, public.bp))
    return app
