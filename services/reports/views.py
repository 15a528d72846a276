"""The reports service's public API, /reports/api/v1 (see API.md)."""

from __future__ import annotations

from flask_smorest import Blueprint

from shared.api import add_me_endpoint

blp = Blueprint("reports_api", __name__, url_prefix="/api/v1",
                description="Audit reports, subscriptions and ledger exports")
add_me_endpoint(blp)
