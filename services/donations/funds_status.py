"""A fund's status in the ledger: what the funds service committed, applied at once.

The funds service owns a fund's status; money moves here. So that money
stops the instant a freeze or a close commits there, the funds service
*prepares* such a change in the ledger before it commits (the ledger acts on
it from then on: `pending_status`), and *settles* it after its commit.
Every ledger call also carries the fund's status and version as the funds
service last told this service, and the ledger takes any newer one it hears.

If the funds service's commit failed after the ledger prepared, or its
settle never arrived, the ledger holds a change nobody confirms. Before money
leaves a fund with such a change, and after a donation met one, this service
asks the funds service what it committed (its answer waits for a change still
in flight there) and settles the ledger with that final word.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.donations import ledger
from services.donations.models import FundLedger
from shared.auth import Principal
from shared.contracts.funds import FundInfo, FundsClient
from shared.errors import Problem

log = logging.getLogger(__name__)


def _funds() -> FundsClient:
    return current_app.extensions["authority"]  # type: ignore[no-any-return]


def settled_fund(session: Session, actor: Principal, code: str) -> FundInfo:
    """The fund before money leaves it, any unconfirmed change of its status settled first."""
    from services.donations.commands import visible_fund

    info = visible_fund(actor, code)
    pending = session.scalar(select(FundLedger.pending_version).where(FundLedger.code == code))
    if pending is not None and pending > info.status_version:
        info = settle(code) or info
    return info


def settle(code: str) -> FundInfo | None:
    """Take the funds service's final word on the fund's status into the ledger, in a transaction of
    its own (the caller must hold no lock on the fund's ledger row)."""
    info = _funds().fund_now(code)
    if info is None:
        return None
    with current_app.extensions["database"].transaction() as session:
        ledger.settle_fund_status(session, code, info.status, info.status_version, final=True)
    return info


def settle_after_request(code: str) -> None:
    """Settle the fund once this request has ended (and released its locks)."""
    g.setdefault("funds_to_settle", set()).add(code)


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _settle_funds(_error: BaseException | None) -> None:
        for code in sorted(g.pop("funds_to_settle", ())):
            try:
                settle(code)
            except Problem as problem:
                log.warning("could not settle the status of fund %s: %s", code, problem.detail)
