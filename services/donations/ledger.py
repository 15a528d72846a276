"""The ledger's SQL functions, as Python calls them.

Every posting is made by a function of the database (migrations/versions/
0002_one_posting_path.sql): the rules, the postings and the hashed text of
the chain exist there once. This module passes them what they need and turns
their refusals into Problems: a refusal is raised with SQLSTATE LR001 and its
code as the constraint name, a CHECK constraint is known by its name.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from flask import g, has_request_context
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.donations.models import Disbursement, SpendingCap
from shared.auth import Principal
from shared.contracts.caps import CapFigures
from shared.contracts.funds import FundInfo
from shared.errors import Problem
from shared.money import Money
from shared.refusals import KINDS

REFUSAL_SQLSTATE = "LR001"
FIELD_PARAM = "field"


@contextmanager
def refusals() -> Iterator[None]:
    """The database's refusals as Problems; anything else propagates."""
    try:
        yield
    except DBAPIError as error:
        problem = problem_of(error.orig)
        if problem is None:
            raise
        raise problem from None


def problem_of(error: BaseException | None) -> Problem | None:
    """The Problem a database error stands for, if it is a refusal."""
    if not isinstance(error, psycopg.Error) or error.diag is None:
        return None
    constraint = error.diag.constraint_name or ""
    if error.sqlstate == REFUSAL_SQLSTATE and constraint in KINDS:
        params = json.loads(error.diag.message_detail or "{}")
        field = params.pop(FIELD_PARAM, None)
        if field is not None:
            return Problem.field(field, constraint, **params)
        return Problem(constraint, **params)
    # The last guard: a CHECK, unique or trigger constraint, by its name (a race the
    # functions did not foresee, or a write that bypassed them).
    if error.sqlstate in ("23514", "23505", "23503") and constraint:
        return Problem("ledger_rule", rule=constraint)
    return None


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def actor_json(actor: Principal) -> dict[str, Any]:
    return {"actor": actor.actor, "name": actor.name, "organization_id": actor.organization_id,
            "request_id": request_id()}


def fund_json(fund: FundInfo) -> dict[str, Any]:
    """The fund as the ledger's functions read it, with its organisation's approval rule."""
    return {"code": fund.code, "organization_id": fund.organization_id, "restricted": fund.restricted,
            "status": fund.status, "status_version": fund.status_version, "approval_rule": fund.approval_rule}


def _json(value: Any) -> str:
    """Arguments as JSON text (dates as YYYY-MM-DD); a batch passes ten thousand rows."""
    return orjson.dumps(value).decode()


# -- donations ---------------------------------------------------------------------

@dataclass(frozen=True)
class NewDonation:
    """A donation the shapes passed, for a fund the caller may post to."""

    fund: FundInfo
    amount_fen: int
    donor_name: str
    donor_kind: str
    donor_anonymous: bool
    received_on: dt.date
    channel: str
    purpose: str
    reference: str | None
    # A gift in kind's goods: all four, or none.
    goods_item: str | None = None
    goods_quantity: Decimal | None = None
    goods_unit: str | None = None
    goods_unit_price_fen: int | None = None

    def row(self, n: int, request: int) -> dict[str, Any]:
        """As record_donations reads it: its place `n` and its request's, both 1-based."""
        return {"n": n, "request": request, "fund_code": self.fund.code,
                "organization_id": self.fund.organization_id, "restricted": self.fund.restricted,
                "status": self.fund.status, "status_version": self.fund.status_version,
                "amount_fen": self.amount_fen, "donor_name": self.donor_name, "donor_kind": self.donor_kind,
                "donor_anonymous": self.donor_anonymous, "received_on": self.received_on, "channel": self.channel,
                "purpose": self.purpose, "reference": self.reference, "goods_item": self.goods_item,
                # The quantity as text: JSON numbers would not keep it exact.
                "goods_quantity": None if self.goods_quantity is None else str(self.goods_quantity),
                "goods_unit": self.goods_unit, "goods_unit_price_fen": self.goods_unit_price_fen}


@dataclass(frozen=True)
class Outcome:
    """What became of one donation: recorded (with its ids), duplicate, fund_closed, fund_status_changing."""

    outcome: str
    id: int | None
    receipt_year: int | None
    receipt_seq: int | None
    entry_id: int | None
    created_at: dt.datetime


_RECORD = text("SELECT n, outcome, id, receipt_year, receipt_seq, entry_id, created_at "
               "FROM donations.record_donations(CAST(:rows AS jsonb), CAST(:requests AS jsonb))")


def record_donations(connection: Session | Connection, donations: Sequence[NewDonation],
                     requests: Sequence[dict[str, Any]]) -> list[Outcome]:
    """Record donations in one call; an outcome per donation, in order.

    `requests` says who sent them: one request for all (a batch), or one each
    (single donations posted together).
    """
    if not donations:
        return []
    if len(requests) not in (1, len(donations)):
        raise ValueError(f"{len(requests)} requests for {len(donations)} donations")
    each = len(requests) > 1
    rows = _json([donation.row(n, n if each else 1) for n, donation in enumerate(donations, start=1)])
    with refusals():
        result = connection.execute(_RECORD, {"rows": rows, "requests": _json(list(requests))})
        return [Outcome(*row[1:]) for row in result]


# -- reversals and disbursements ------------------------------------------------------------

def _call(session: Session, sql: str, **params: Any) -> Any:
    with refusals():
        return session.execute(text(sql), params)


def reverse_donation(session: Session, actor: Principal, fund: FundInfo, donation_id: int, reason: str) -> int:
    """The reversing entry's id."""
    return int(_call(session, "SELECT donations.reverse_donation(:id, CAST(:fund AS jsonb), :reason, "
                              "CAST(:actor AS jsonb))",
                     id=donation_id, fund=_json(fund_json(fund)), reason=reason,
                     actor=_json(actor_json(actor))).scalar_one())


def _disbursement(session: Session, sql: str, **params: Any) -> Disbursement:
    row = _call(session, f"SELECT (d).* FROM (SELECT {sql} AS d) s", **params).mappings().one()
    disbursement = session.get(Disbursement, row["id"], populate_existing=True)
    assert disbursement is not None
    return disbursement


def request_disbursement(session: Session, actor: Principal, fund: FundInfo, amount_fen: int, payee: str,
                         purpose: str, project: str | None, category: str, *, project_code: str | None = None,
                         budget_line: str | None = None, need_id: int | None = None) -> Disbursement:
    """Requested; naming a project's budget line or a need, whose caps must exist and have the amount left."""
    return _disbursement(session, "donations.request_disbursement(CAST(:fund AS jsonb), :amount, :payee, :purpose, "
                                  ":project, :category, :project_code, :budget_line, :need_id, "
                                  "CAST(:actor AS jsonb))",
                         fund=_json(fund_json(fund)), amount=amount_fen, payee=payee, purpose=purpose,
                         project=project, category=category, project_code=project_code, budget_line=budget_line,
                         need_id=need_id, actor=_json(actor_json(actor)))


def approve_disbursement(session: Session, actor: Principal, fund: FundInfo, disbursement_id: int) -> Disbursement:
    return _disbursement(session, "donations.approve_disbursement(:id, CAST(:fund AS jsonb), CAST(:actor AS jsonb))",
                         id=disbursement_id, fund=_json(fund_json(fund)), actor=_json(actor_json(actor)))


def pay_disbursement(session: Session, actor: Principal, fund: FundInfo, disbursement_id: int, paid_on: dt.date,
                     bank_reference: str) -> Disbursement:
    return _disbursement(session, "donations.pay_disbursement(:id, CAST(:fund AS jsonb), :paid_on, :reference, "
                                  "CAST(:actor AS jsonb))",
                         id=disbursement_id, fund=_json(fund_json(fund)), paid_on=paid_on,
                         reference=bank_reference, actor=_json(actor_json(actor)))


def reject_disbursement(session: Session, actor: Principal, fund: FundInfo, disbursement_id: int,
                        reason: str) -> Disbursement:
    return _end_disbursement(session, "reject_disbursement", actor, fund, disbursement_id, reason)


def withdraw_disbursement(session: Session, actor: Principal, fund: FundInfo, disbursement_id: int,
                          reason: str) -> Disbursement:
    return _end_disbursement(session, "withdraw_disbursement", actor, fund, disbursement_id, reason)


def _end_disbursement(session: Session, function: str, actor: Principal, fund: FundInfo, disbursement_id: int,
                      reason: str) -> Disbursement:
    """A disbursement ended unpaid, with a reason, by the ledger's function of that name."""
    return _disbursement(session, f"donations.{function}(:id, CAST(:fund AS jsonb), :reason, CAST(:actor AS jsonb))",
                         id=disbursement_id, fund=_json(fund_json(fund)), reason=reason,
                         actor=_json(actor_json(actor)))


def attach_to_disbursement(session: Session, actor: Principal, disbursement_id: int, filename: str,
                           content_type: str, content: bytes) -> int:
    """The new attachment's id."""
    return int(_call(session, "SELECT donations.attach_to_disbursement(:id, :filename, :content_type, :content, "
                              "CAST(:actor AS jsonb))",
                     id=disbursement_id, filename=filename, content_type=content_type, content=content,
                     actor=_json(actor_json(actor))).scalar_one())


# -- a fund's status ---------------------------------------------------------------------

def prepare_fund_status(session: Session, fund: FundInfo, status: str, version: int) -> None:
    _call(session, "SELECT donations.prepare_fund_status(CAST(:fund AS jsonb), :status, :version)",
          fund=_json(fund_json(fund)), status=status, version=version)


def settle_fund_status(session: Session, code: str, status: str, version: int, *, final: bool) -> None:
    _call(session, "SELECT donations.settle_fund_status(:code, :status, :version, :final)",
          code=code, status=status, version=version, final=final)


# -- spending caps (shared/contracts/caps.py) ----------------------------------------------

def cap_figures(cap: SpendingCap) -> CapFigures:
    return CapFigures(cap_key=cap.cap_key, limit=Money(cap.limit_fen), reserved=Money(cap.reserved_fen),
                      paid=Money(cap.paid_fen), version=cap.version)


# Who sets a cap: the programmes service, through the internal API.
CAPS_ACTOR = {"actor": "service:programmes", "name": "programmes service"}


def set_cap(session: Session, change: dict[str, Any], limit_fen: int) -> CapFigures:
    """Set a cap as CAP_CHANGE loaded it, at `limit_fen`: a version not newer than the ledger's changes
    nothing; a limit below what is approved or paid is refused (cap_below_committed), or with `clamp`
    becomes that."""
    row = _call(session, "SELECT (c).* FROM (SELECT donations.set_cap(:cap_key, :kind, :fund_code, "
                         ":organization_id, :limit_fen, :version, :clamp, :label, CAST(:actor AS jsonb)) AS c) s",
                cap_key=change["cap_key"], kind=change["kind"], fund_code=change.get("fund_code"),
                organization_id=change["organization_id"], limit_fen=limit_fen, version=change["version"],
                clamp=change["clamp"], label=change.get("label") or "",
                actor=_json({**CAPS_ACTOR, "organization_id": change["organization_id"],
                             "request_id": request_id()})).mappings().one()
    return cap_figures(SpendingCap(**row))


def caps_figures(session: Session, cap_keys: Sequence[str]) -> list[CapFigures]:
    """The figures of the caps the ledger knows among these keys, in key order."""
    caps = session.scalars(select(SpendingCap).where(SpendingCap.cap_key.in_(list(cap_keys)))
                           .order_by(SpendingCap.cap_key))
    return [cap_figures(cap) for cap in caps]
