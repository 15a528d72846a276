"""The reports service: periodic audit reports for auditors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

SERVICE = "reports"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.reports import fund_reports_api, internal, tasks, views, web
    from services.reports.models import IdempotencyRecord
    from shared.app import create_service_app, mount_blueprints
    from shared.contracts.funds import FundsClient
    from shared.idempotency import IdempotencyStore

    app = create_service_app(SERVICE, __name__, config)
    app.extensions["idempotency"] = IdempotencyStore(app.extensions["database"], IdempotencyRecord)
    authority = FundsClient(app.extensions["peers"], app.config["SETTINGS"].auth_cache_seconds)
    mount_blueprints(app, authority, title="Reports service",
                     description="Periodic audit reports, their files, subscriptions and ledger exports.",
                     api=(views.blp,), internal=(internal.bp, fund_reports_api.bp), web=(web.bp,))
    tasks.init_celery(app)
    return app
