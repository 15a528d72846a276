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
    from services.funds.models import AuditLog, IdempotencyRecord  # noqa: F401
    from shared.api import api_config, init_api
    from shared.app import create_service_app
    from shared.auth import init_auth
    from shared.idempotency import IdempotencyStore

    app = create_service_app(SERVICE, __name__, config)
    app.config.update(api_config(
        "Funds service", "Organisations, named charity funds, their lifecycle, and API keys."))
    database = app.extensions["database"]
    app.extensions["idempotency"] = IdempotencyStore(database, IdempotencyRecord)
    init_auth(app, LocalAuthority(database))

    api = init_api(app)
    api.register_blueprint(views.blp)
    app.register_blueprint(internal.bp)
    app.register_blueprint(web.bp)
    csrf = app.extensions["csrf_protect"]
    csrf.exempt(views.blp)
    csrf.exempt(internal.bp)

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
