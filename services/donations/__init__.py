"""The donations service: the double-entry ledger of donations and disbursements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

SERVICE = "donations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.donations import internal, views, web
    from services.donations.models import IdempotencyRecord
    from shared.app import create_service_app, mount_blueprints
    from shared.idempotency import IdempotencyStore
    from shared.peers import RemoteAuthority

    app = create_service_app(SERVICE, __name__, config)
    app.extensions["idempotency"] = IdempotencyStore(app.extensions["database"], IdempotencyRecord)
    authority = RemoteAuthority(app.extensions["peers"], app.config["SETTINGS"].auth_cache_seconds)
    mount_blueprints(app, authority, title="Donations service",
                     description="The double-entry ledger: donations, disbursements, reversals, balances.",
                     api=(views.blp,), internal=(internal.bp,), web=(web.bp,))
    return app
