"""The donations service: the double-entry ledger of donations and disbursements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

SERVICE = "donations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.donations import (
        commands, disclosure_api, fund_summary_api, funds_status, internal, report_api, views, web,
    )
    from services.donations.models import IdempotencyRecord
    from services.donations.poster import DonationPoster
    from shared.app import create_service_app, mount_blueprints
    from shared.contracts.funds import FundsClient
    from shared.idempotency import IdempotencyStore

    app = create_service_app(SERVICE, __name__, config)
    app.extensions["idempotency"] = IdempotencyStore(app.extensions["database"], IdempotencyRecord)
    app.extensions["donation_poster"] = DonationPoster(app, commands.donation_created)
    funds = FundsClient(app.extensions["peers"], app.config["SETTINGS"].auth_cache_seconds)
    mount_blueprints(app, funds, title="Donations service",
                     description="The double-entry ledger: donations, disbursements, reversals, balances.",
                     api=(views.blp,), internal=(internal.bp, report_api.bp, fund_summary_api.bp, disclosure_api.bp),
                     web=(web.bp,))
    funds_status.init_app(app)
    return app
