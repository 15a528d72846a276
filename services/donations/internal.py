"""The internal API the other services call (never part of the public API)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from services.donations import commands
from shared.auth import FundInfo, require_internal
from shared.db import db_session
from shared.errors import NotFound, ValidationProblem
from shared.money import Money

bp = Blueprint("donations_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


@bp.get("/funds/<code>/balance")
def fund_balance(code: str) -> Any:
    row = commands.fund_ledger_row(db_session(), code)
    if row is None:
        raise NotFound(f"The ledger has no entries for {code}.")
    return jsonify({"fund_code": code, "balance": str(Money(row.balance_fen)),
                    "available": str(Money(row.available_fen)), "entries": row.entry_count, "closed": row.closed})


@bp.post("/funds/<code>/close")
def close_fund(code: str) -> Any:
    """Close the fund in the ledger (409 unless it holds nothing): it then takes nothing."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationProblem.field("body", "Expected the fund as JSON.")
    try:
        info = FundInfo.from_json({**body, "code": code})
    except (KeyError, TypeError):
        raise ValidationProblem.field("body", "Expected the fund's code, name, organization_id, "
                                      "restricted, status and purpose.") from None
    balance = commands.close_fund(db_session(), info)
    return jsonify({"fund_code": code, "balance": str(balance), "closed": True})

