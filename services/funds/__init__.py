"""The funds service: organisations, named funds, users and API keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy.exc import IntegrityError

SERVICE = "funds"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.funds import commands, internal, views, web
    from services.funds.authority import LocalAuthority
    from services.funds.models import IdempotencyRecord
    from shared.app import create_service_app, mount_blueprints
    from shared.contracts.ledger import LedgerClient
    from shared.idempotency import IdempotencyStore

    app = create_service_app(SERVICE, __name__, config)
    database = app.extensions["database"]
    app.extensions["idempotency"] = IdempotencyStore(database, IdempotencyRecord)
    app.extensions["ledger"] = LedgerClient(app.extensions["peers"])
    mount_blueprints(app, LocalAuthority(database), title="Funds service",
                     description="Organisations, named charity funds, their lifecycle, and API keys.",
                     api=(views.blp,), internal=(internal.bp,), web=(web.bp,))

    settings = app.config["SETTINGS"]
    if settings.bootstrap_admin_api_key or settings.bootstrap_admin_password:
        # Several workers may start at once: whoever loses the race retries.
        for attempt in range(3):
            try:
                with database.transaction() as session:
                    commands.bootstrap(session, settings.bootstrap_admin_api_key,
                                       settings.bootstrap_admin_password)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
    return app
