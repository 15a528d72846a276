"""The internal API the other services call (never part of the public API).

Every call carries the internal token derived from the shared SECRET_KEY.
The funds service tells the ledger of a fund's status changes here (see
funds_status.py for the protocol) and asks for a fund's balance; the
programmes service sets the spending caps of projects, budget lines and
needs (shared/contracts/caps.py); expired Idempotency-Keys are pruned here
(POST /internal/v1/idempotency/prune).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from services.donations import ledger
from services.donations.reads import fund_ledger_row
from shared.api import json_body
from shared.auth import require_internal
from shared.contracts.caps import CAP_CHANGE, CAP_KEYS
from shared.contracts.funds import FundInfo
from shared.contracts.ledger import FUND_STATUS_CHANGE, FUND_STATUS_SETTLED
from shared.db import db_session
from shared.errors import Problem
from shared.idempotency import add_prune_endpoint
from shared.money import MAX_AMOUNT_FEN, Money

bp = Blueprint("donations_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


add_prune_endpoint(bp)


@bp.get("/funds/<code>/balance")
def fund_balance(code: str) -> Any:
    row = fund_ledger_row(db_session(), code)
    if row is None:
        return jsonify({"fund_code": code, "balance": "0.00", "reserved": "0.00", "entries": 0, "status": None})
    return jsonify({"fund_code": code, "balance": str(Money(row.balance_fen)),
                    "reserved": str(Money(row.reserved_fen)), "entries": row.entry_count, "status": row.status})


@bp.post("/funds/<code>/status/prepare")
def prepare_fund_status(code: str) -> Any:
    """The funds service is about to commit this status: the ledger applies a restriction at once.
    A close is refused (409 fund_not_empty) while the fund holds anything."""
    body = json_body(FUND_STATUS_CHANGE)
    fund = FundInfo.from_json(body["fund"])
    if fund.code != code:
        raise Problem.field("fund.code", "not_one_of", choices=code)
    ledger.prepare_fund_status(db_session(), fund, body["status"], body["version"])
    return jsonify({"fund_code": code, "status": body["status"], "version": body["version"]})


@bp.post("/funds/<code>/status/settle")
def settle_fund_status(code: str) -> Any:
    """The funds service committed this status (after a prepare, or alone for a change that frees the fund)."""
    body = json_body(FUND_STATUS_SETTLED)
    ledger.settle_fund_status(db_session(), code, body["status"], body["version"], final=False)
    return jsonify({"fund_code": code, "status": body["status"], "version": body["version"]})


def _limit_fen(text: str) -> int:
    """A cap's limit: an amount with two decimals, "0.00" included."""
    try:
        limit = Money.parse(text)
    except (ValueError, ArithmeticError):
        raise Problem.field("limit", "amount_format") from None
    if not 0 <= limit.fen <= MAX_AMOUNT_FEN:
        raise Problem.field("limit", "amount_out_of_range", min="0.00", max=str(Money(MAX_AMOUNT_FEN)))
    return limit.fen


@bp.put("/caps")
def set_cap() -> Any:
    """The programmes service sets a cap (version ordered); 409 cap_below_committed."""
    body = json_body(CAP_CHANGE)
    return jsonify(ledger.set_cap(db_session(), body, _limit_fen(body["limit"])).to_json())


@bp.post("/caps/figures")
def cap_figures() -> Any:
    """The figures of the caps the ledger knows among `cap_keys`."""
    body = json_body(CAP_KEYS)
    return jsonify({"items": [figures.to_json() for figures in ledger.caps_figures(db_session(), body["cap_keys"])]})
