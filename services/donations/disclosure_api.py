"""What the ledger discloses to the public: the internal API the programmes service's public pages read.

    GET /internal/v1/public/funds/<code>            a fund's months, totals, last donations, corrections,
                                                     last payments
    GET /internal/v1/public/projects/<code>/months  what was paid for a project, by month

Only what shared/disclosure.py lets out: a donor who asked to stay anonymous
is 匿名, never named; a payment's payee is named when the payment names a
project or a need (the village or the implementer), else it is an individual,
shown only by a pseudonym made here with the SECRET_KEY, scoped to the fund.
Why a donation was reversed stays in the ledger: a correction shows its
receipt number, its amount and its day.

Months go by business date in Asia/Shanghai, as the statements do: a
donation by its `received_on`, a payment by its `paid_on`, a correction by
the day its reversal was posted. Each answer reads one moment of the ledger.
Money as text, as everywhere.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from services.donations.models import Disbursement, Donation, JournalEntry
from services.donations.reads import fund_ledger_row
from shared.auth import require_internal
from shared.db import db_session, snapshot
from shared.disclosure import donor_shown, public_only, pseudonym
from shared.money import Money

bp = Blueprint("donations_disclosure", __name__, url_prefix="/internal/v1/public")

LAST = 50


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


def _month(column: Any) -> Any:
    return func.to_char(column, "YYYY-MM").label("month")


def _fen_sum(column: Any) -> Any:
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _months(session: Session, fund_id: int) -> list[dict[str, str]]:
    """Received (donations by received_on), corrections (reversals by their posting day) and spent
    (payments by paid_on), per month, the oldest first."""
    months: dict[str, dict[str, int]] = {}

    def add(rows: Any, name: str) -> None:
        for month, fen in rows:
            months.setdefault(month, {"received": 0, "corrections": 0, "spent": 0})[name] += int(fen)

    received, corrected, paid = (_month(Donation.received_on), _month(JournalEntry.effective_on),
                                 _month(Disbursement.paid_on))
    add(session.execute(select(received, _fen_sum(Donation.amount_fen))
                        .where(Donation.fund_id == fund_id).group_by(received)), "received")
    add(session.execute(select(corrected, _fen_sum(Donation.amount_fen))
                        .join(Donation, Donation.id == JournalEntry.source_id)
                        .where(JournalEntry.fund_id == fund_id, JournalEntry.kind == "reversal").group_by(corrected)),
        "corrections")
    add(session.execute(select(paid, _fen_sum(Disbursement.amount_fen))
                        .where(Disbursement.fund_id == fund_id, Disbursement.status == "paid").group_by(paid)), "spent")
    return [{"month": month, **{name: str(Money(fen)) for name, fen in figures.items()},
             "net": str(Money(figures["received"] - figures["corrections"] - figures["spent"]))}
            for month, figures in sorted(months.items())]


def _totals(months: list[dict[str, str]]) -> dict[str, str]:
    fen = {name: sum(Money.parse_signed(month[name]).fen for month in months)
           for name in ("received", "corrections", "spent", "net")}
    return {name: str(Money(value)) for name, value in fen.items()}


def _donations(session: Session, fund_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Donation).where(Donation.fund_id == fund_id).order_by(Donation.id.desc()).limit(LAST))
    return [public_only("donation", {
        "receipt_no": d.receipt_no, "received_on": d.received_on.isoformat(), "amount": str(Money(d.amount_fen)),
        "channel": d.channel, "donor": donor_shown(d.donor_name, d.donor_anonymous), "anonymous": d.donor_anonymous,
        "donor_kind": d.donor_kind, "status": d.status, "reversed": d.status == "reversed"}) for d in rows]


def _corrections(session: Session, fund_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(JournalEntry.effective_on, Donation)
                           .join(Donation, Donation.id == JournalEntry.source_id)
                           .where(JournalEntry.fund_id == fund_id, JournalEntry.kind == "reversal")
                           .order_by(JournalEntry.seq.desc()).limit(LAST))
    return [public_only("correction", {"receipt_no": d.receipt_no, "amount": str(Money(d.amount_fen)),
                                       "posted_on": on.isoformat()}) for on, d in rows]


def _disbursements(session: Session, fund_code: str, fund_id: int) -> list[dict[str, Any]]:
    secret = current_app.config["SECRET_KEY"]
    rows = session.scalars(select(Disbursement).where(Disbursement.fund_id == fund_id, Disbursement.status == "paid")
                           .order_by(Disbursement.paid_on.desc(), Disbursement.id.desc()).limit(LAST))
    shown = []
    for b in rows:
        named = b.project_code is not None or b.need_id is not None
        shown.append(public_only("disbursement", {
            "paid_on": b.paid_on.isoformat() if b.paid_on else None, "amount": str(Money(b.amount_fen)),
            "purpose": b.purpose, "payee": b.payee if named else None,
            "payee_pseudonym": None if named else pseudonym(secret, fund_code, b.payee),
            "project_code": b.project_code, "budget_line": b.budget_line, "need_id": b.need_id}))
    return shown


@bp.get("/funds/<code>")
def public_fund(code: str) -> Any:
    session = db_session()
    snapshot(session)  # the months, the totals and the lists of one moment
    row = fund_ledger_row(session, code)
    if row is None:  # a fund with nothing in its ledger yet (the funds service says whether it exists)
        return jsonify({"fund_code": code, "months": [], "totals": _totals([]), "donations": [],
                        "corrections": [], "disbursements": []})
    months = _months(session, row.id)
    return jsonify({"fund_code": code, "months": months, "totals": _totals(months),
                    "donations": _donations(session, row.id), "corrections": _corrections(session, row.id),
                    "disbursements": _disbursements(session, code, row.id)})


@bp.get("/projects/<code>/months")
def project_months(code: str) -> Any:
    month = _month(Disbursement.paid_on)
    rows = db_session().execute(
        select(month, _fen_sum(Disbursement.amount_fen))
        .where(Disbursement.project_code == code, Disbursement.status == "paid").group_by(month).order_by(month))
    return jsonify({"project_code": code, "months": [{"month": month, "paid": str(Money(int(fen)))}
                                                     for month, fen in rows]})
