"""A fund's figures for its page in the funds service: the internal API it reads.

    POST /internal/v1/funds/<code>/summary   {"reader": <the principal the page serves>}

The funds service shows a fund's page to a user it has authenticated; it
names that user here as the funds service describes users to the other
services (shared.auth.Principal's JSON), and the answer is scoped to them: a
fund of another organisation than the reader's is 404, as in the public API.
The answer: the fund's balances (balance, cash, cash available to pay, goods,
set aside), this month's and this year's income and spending (dashboard.py),
its last donations and disbursements (anonymous donors unnamed). Money as
text, as everywhere.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select

from services.donations import dashboard
from services.donations.models import Disbursement, Donation
from shared.api import json_body
from shared.auth import require_internal
from shared.contracts.reader import READER, reader_from
from shared.db import db_session, snapshot
from shared.errors import Problem
from shared.money import Money
from shared.shapes import Nested, Shape

bp = Blueprint("donations_fund_summary", __name__, url_prefix="/internal/v1")

LAST = 5
SUMMARY_REQUEST = Shape("FundSummaryRequest", {"reader": Nested(READER)})


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


@bp.post("/funds/<code>/summary")
def fund_summary(code: str) -> Any:
    reader = reader_from(json_body(SUMMARY_REQUEST)["reader"])
    session = db_session()
    snapshot(session)  # the balances, the months and the lists of one moment
    view = dashboard.overview(session, reader, fund_code=code)
    if not view.funds:
        # No entries yet, or not the reader's: nothing to say either way.
        raise Problem("fund_not_found", fund_code=code)
    donations = session.scalars(select(Donation).where(Donation.fund_code == code)
                                .order_by(Donation.id.desc()).limit(LAST))
    disbursements = session.scalars(select(Disbursement).where(Disbursement.fund_code == code)
                                    .order_by(Disbursement.id.desc()).limit(LAST))
    return jsonify({
        **dashboard.to_json(view)["funds"][0], "month": view.month.label, "year": view.year.label,
        "donations": [{"id": d.id, "receipt_no": d.receipt_no, "received_on": d.received_on.isoformat(),
                       "amount": str(Money(d.amount_fen)), "channel": d.channel, "status": d.status,
                       "donor_name": None if d.donor_anonymous else d.donor_name} for d in donations],
        "disbursements": [{"id": b.id, "amount": str(Money(b.amount_fen)), "payee": b.payee, "status": b.status,
                           "requested_at": b.created_at.isoformat(),
                           "paid_on": b.paid_on.isoformat() if b.paid_on else None} for b in disbursements],
    })
