"""Setting the ledger's caps from this service (the protocol: shared/contracts/caps.py).

Each change is recorded in `ledger_cap` with the next version, in the
request's transaction. A lower limit is sent to the ledger at once, before
the commit, so that the ledger's refusal (the money is already approved or
paid) refuses the whole change; a higher one after the commit, so that the
ledger never allows what this service has not committed.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.programmes.models import CAP_VERSION, LedgerCap
from shared.contracts.caps import CAP_LABEL_MAX_LENGTH, CapFigures, CapsClient
from shared.db import after_commit, utcnow
from shared.money import Money


def client() -> CapsClient:
    return current_app.extensions["caps"]  # type: ignore[no-any-return]


def set_cap(session: Session, cap_key: str, kind: str, limit_fen: int, *, organization_id: int,
            fund_code: str | None = None, clamp: bool = False, label: str = "") -> None:
    """Make the cap `limit_fen` (with `clamp`, at least what is already approved or paid)."""
    row = session.get(LedgerCap, cap_key, with_for_update=True)
    version = int(session.execute(CAP_VERSION.next_value()).scalar_one())
    lowering = clamp or (row is not None and limit_fen < row.limit_fen)
    if row is None:
        row = LedgerCap(cap_key=cap_key, kind=kind, organization_id=organization_id, limit_fen=limit_fen,
                        version=version)
        session.add(row)
    row.fund_code, row.organization_id, row.limit_fen = fund_code, organization_id, limit_fen
    # A project's and a line's names, 200 characters each, may together be longer than a label holds.
    row.clamp, row.label, row.version, row.updated_at = clamp, label[:CAP_LABEL_MAX_LENGTH], version, utcnow()
    session.flush()
    if lowering:
        _send(row)  # a refusal (409 cap_below_committed) ends the request: nothing is committed
        row.synced_version = version
    else:
        database = current_app.extensions["database"]
        sent = _Sent(row)

        def send_after_commit() -> None:
            _send(sent)
            with database.transaction() as later:
                later.execute(update(LedgerCap).where(LedgerCap.cap_key == sent.cap_key)
                              .where((LedgerCap.synced_version.is_(None)) | (LedgerCap.synced_version < sent.version))
                              .values(synced_version=sent.version))

        after_commit(send_after_commit)


class _Sent:
    """What a row said when it was changed (the row itself may change again before the commit)."""

    def __init__(self, row: LedgerCap) -> None:
        self.cap_key, self.kind, self.limit_fen, self.version = row.cap_key, row.kind, row.limit_fen, row.version
        self.organization_id, self.fund_code, self.clamp, self.label = (row.organization_id, row.fund_code,
                                                                        row.clamp, row.label)


def _send(row: LedgerCap | _Sent) -> CapFigures:
    return client().set(row.cap_key, row.kind, Money(row.limit_fen), row.version,
                        organization_id=row.organization_id, fund_code=row.fund_code, clamp=row.clamp,
                        label=row.label)


def figures(cap_keys: list[str]) -> dict[str, CapFigures]:
    """What the ledger has reserved and paid against these caps."""
    return client().figures(sorted(set(cap_keys)))


def paid_fen(found: dict[str, CapFigures], cap_keys: list[str]) -> int:
    return sum(found[key].paid.fen for key in set(cap_keys) if key in found)


def resend_unsynced(session: Session) -> int:
    """Send every cap the ledger may not have heard of yet (a call lost after a commit)."""
    rows = list(session.scalars(select(LedgerCap).where(
        LedgerCap.synced_version.is_(None) | (LedgerCap.synced_version < LedgerCap.version))))
    for row in rows:
        _send(row)
        session.execute(update(LedgerCap).where(LedgerCap.cap_key == row.cap_key)
                        .where(LedgerCap.version == row.version).values(synced_version=row.version))
    return len(rows)
