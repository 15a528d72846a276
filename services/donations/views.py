"""The donations service's public API, /donations/api/v1 (see API.md)."""

from __future__ import annotations

from flask_smorest import Blueprint

from shared.api import add_me_endpoint

blp = Blueprint("donations_api", __name__, url_prefix="/api/v1",
                description="Donations, disbursements, reversals and balances")
add_me_endpoint(blp)
