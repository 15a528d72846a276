"""Villages, their needs and organisations' claims on them (点单, 接单, 回单).

The bureau (admin) keeps the villages and posts their needs. An organisation
claims a share of a need: the need's row is locked, the share checked
against what is still open and added to `pledged_fen`, so however many claim
at once the need is never over-pledged (the table's CHECK holds it too). Each
organisation's live claims on a need are its cap in the ledger, which its
funds may pay for the need (shared/contracts/caps.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.programmes import caps, organizations
from services.programmes.models import AuditLog, Claim, Need, Village
from services.programmes.rules import LIVE_CLAIM_STATUSES
from shared import audit
from shared.auth import Principal
from shared.contracts.caps import CapFigures, need_cap_key
from shared.db import MAX_ID, utcnow
from shared.errors import Problem
from shared.money import Money
from shared.shapes import quantity_text


def require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise Problem("scope_missing", scope="admin")


def _by_id(session: Session, model: Any, row_id: int, **kwargs: Any) -> Any:
    return session.get(model, row_id, **kwargs) if 0 < row_id <= MAX_ID else None


# -- villages --------------------------------------------------------------------------------------

def create_village(session: Session, actor: Principal, data: dict[str, Any]) -> Village:
    require_admin(actor)
    taken = session.scalar(select(Village.id).where(Village.township == data["township"],
                                                    Village.name == data["name"]))
    if taken is not None:
        raise Problem("village_taken", name=data["name"], township=data["township"])
    village = Village(**data)
    session.add(village)
    session.flush()
    audit.record(session, AuditLog, actor, "village.create", f"village:{village.id}", data)
    return village


def get_village(session: Session, village_id: int) -> Village:
    village = _by_id(session, Village, village_id)
    if village is None:
        raise Problem("village_not_found", id=village_id)
    return village


def village_query(*, township: str | None = None, weak: bool | None = None, q: str | None = None) -> Select[Any]:
    query = select(Village).order_by(Village.id.desc())
    if township is not None:
        query = query.where(Village.township == township)
    if weak is not None:
        query = query.where(Village.weak.is_(weak))
    if q:
        from shared.db import contains_pattern

        pattern = contains_pattern(q)
        query = query.where(Village.name.ilike(pattern) | Village.township.ilike(pattern))
    return query


# -- needs ------------------------------------------------------------------------------------------

def create_need(session: Session, actor: Principal, data: dict[str, Any]) -> Need:
    require_admin(actor)
    village = _by_id(session, Village, data["village_id"])
    if village is None:
        raise Problem.field("village_id", "no_such_village", id=data["village_id"])
    need = Need(village_id=village.id, title=data["title"], category=data["category"],
                description=data["description"], amount_fen=data["amount"].fen, due_on=data["due_on"],
                quantity=data["quantity"], unit=data["unit"], priority=data["priority"], created_by=actor.actor)
    session.add(need)
    session.flush()
    audit.record(session, AuditLog, actor, "need.create", f"need:{need.id}",
                 {**data, "amount": str(data["amount"]), "due_on": data["due_on"].isoformat(),
                  "quantity": None if data["quantity"] is None else quantity_text(data["quantity"])})
    return need


def get_need(session: Session, need_id: int, *, lock: bool = False) -> Need:
    # Only the need's row is locked (not its village's, read with it).
    need = _by_id(session, Need, need_id, with_for_update={"of": Need}) if lock else _by_id(session, Need, need_id)
    if need is None:
        raise Problem("need_not_found", id=need_id)
    return need


def need_query(*, village_id: int | None = None, status: str | None = None,
               category: str | None = None) -> Select[Any]:
    query = select(Need).order_by(Need.id.desc())
    if village_id is not None:
        query = query.where(Need.village_id == village_id)
    if status is not None:
        query = query.where(Need.status == status)
    if category is not None:
        query = query.where(Need.category == category)
    return query


def close_need(session: Session, actor: Principal, need_id: int) -> Need:
    """The bureau closes a need: nothing more can be claimed; live claims stay as they are."""
    require_admin(actor)
    need = get_need(session, need_id, lock=True)
    if need.status == "closed":
        raise Problem("need_closed", id=need.id)
    need.status, need.closed_at = "closed", utcnow()
    audit.record(session, AuditLog, actor, "need.close", f"need:{need.id}")
    return need


@dataclass(frozen=True)
class NeedFigures:
    """A need as the API shows it: its row, what the ledger paid for it, and what of it the village
    signed off (回单: the claims it confirmed fulfilled)."""

    need: Need
    paid_fen: int
    signed_off_fen: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.need, name)

    @property
    def open_fen(self) -> int:
        return 0 if self.need.status == "closed" else self.need.amount_fen - self.need.pledged_fen


def _need_cap_keys(session: Session, need_ids: list[int]) -> dict[int, list[str]]:
    keys: dict[int, list[str]] = {need_id: [] for need_id in need_ids}
    if need_ids:
        for need_id, organization_id in session.execute(
                select(Claim.need_id, Claim.organization_id).where(Claim.need_id.in_(need_ids)).distinct()):
            keys[need_id].append(need_cap_key(need_id, organization_id))
    return keys


def with_figures(session: Session, needs: list[Need]) -> list[NeedFigures]:
    """The needs with what the ledger has paid for each (one call for them all) and what was signed off."""
    ids = [need.id for need in needs]
    keys = _need_cap_keys(session, ids)
    found = caps.figures([key for need_keys in keys.values() for key in need_keys])
    signed = dict(session.execute(
        select(Claim.need_id, func.sum(Claim.amount_fen)).where(Claim.need_id.in_(ids), Claim.signed_off_at.is_not(None))
        .group_by(Claim.need_id)).all()) if ids else {}
    return [NeedFigures(need, caps.paid_fen(found, keys[need.id]), int(signed.get(need.id) or 0)) for need in needs]


def _settle_status(session: Session, need: Need) -> None:
    """The need's status from its claims (a closed need stays closed)."""
    if need.status == "closed":
        return
    if need.pledged_fen < need.amount_fen:
        need.status = "open"
        return
    unfinished = session.scalar(select(func.count()).select_from(Claim).where(
        Claim.need_id == need.id, Claim.status.in_(("pledged", "in_progress"))))
    need.status = "fulfilled" if unfinished == 0 else "fully_pledged"


# -- claims -----------------------------------------------------------------------------------------

def _set_need_cap(session: Session, need: Need, organization_id: int) -> None:
    """The organisation's cap on the need: what its live claims pledge."""
    pledged = session.scalar(select(func.coalesce(func.sum(Claim.amount_fen), 0)).where(
        Claim.need_id == need.id, Claim.organization_id == organization_id,
        Claim.status.in_(LIVE_CLAIM_STATUSES)))
    caps.set_cap(session, need_cap_key(need.id, organization_id), "need", int(pledged or 0),
                 organization_id=organization_id, label=f"{need.village.name}: {need.title}")


def claim_need(session: Session, actor: Principal, need_id: int, data: dict[str, Any]) -> Claim:
    organization_id = organizations.acting(actor, data.get("organization_id"))
    need = get_need(session, need_id, lock=True)  # claims on one need are decided one at a time
    if need.status == "closed":
        raise Problem("need_closed", id=need.id)
    amount: Money = data["amount"]
    open_fen = need.amount_fen - need.pledged_fen
    if amount.fen > open_fen:
        raise Problem("claim_exceeds_open", need_id=need.id, open_fen=open_fen, amount_fen=amount.fen)
    claim = Claim(need_id=need.id, organization_id=organization_id, amount_fen=amount.fen,
                  due_on=data.get("due_on") or need.due_on, created_by=actor.actor)
    session.add(claim)
    need.pledged_fen += amount.fen
    session.flush()
    _settle_status(session, need)
    _set_need_cap(session, need, organization_id)
    audit.record(session, AuditLog, actor, "claim.create", f"claim:{claim.id}",
                 {"need_id": need.id, "organization_id": organization_id, "amount": str(amount)})
    return claim


def get_claim(session: Session, actor: Principal, claim_id: int) -> Claim:
    claim = _by_id(session, Claim, claim_id)
    if claim is None or not actor.may_read(claim.organization_id):
        raise Problem("claim_not_found", id=claim_id)
    return claim


def claim_query(actor: Principal, *, need_id: int | None = None, status: str | None = None) -> Select[Any]:
    query = select(Claim).order_by(Claim.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Claim.organization_id == actor.organization_id)
    if need_id is not None:
        query = query.where(Claim.need_id == need_id)
    if status is not None:
        query = query.where(Claim.status == status)
    return query


def _claim_for_change(session: Session, actor: Principal, claim_id: int) -> tuple[Claim, Need]:
    claim = get_claim(session, actor, claim_id)
    if not actor.may_write(claim.organization_id):
        raise Problem("claim_not_found", id=claim_id)
    need = get_need(session, claim.need_id, lock=True)  # the need first, as a claim does
    session.refresh(claim, with_for_update={"of": Claim})
    return claim, need


def _move(claim: Claim, allowed: tuple[str, ...], target: str) -> None:
    if claim.status not in allowed:
        raise Problem("claim_transition_invalid", id=claim.id, status=claim.status, target=target)
    claim.status, claim.updated_at = target, utcnow()


def start_claim(session: Session, actor: Principal, claim_id: int, note: str = "") -> Claim:
    claim, need = _claim_for_change(session, actor, claim_id)
    _move(claim, ("pledged",), "in_progress")
    claim.note = note or claim.note
    audit.record(session, AuditLog, actor, "claim.start", f"claim:{claim.id}", {"note": note})
    return claim


def fulfil_claim(session: Session, actor: Principal, claim_id: int, note: str = "") -> Claim:
    claim, need = _claim_for_change(session, actor, claim_id)
    _move(claim, ("pledged", "in_progress"), "fulfilled")
    claim.note = note or claim.note
    session.flush()
    _settle_status(session, need)
    audit.record(session, AuditLog, actor, "claim.fulfil", f"claim:{claim.id}", {"note": note})
    return claim


def _free(session: Session, actor: Principal, claim: Claim, need: Need, target: str, *, clamp: bool) -> None:
    _move(claim, ("pledged", "in_progress"), target)
    need.pledged_fen -= claim.amount_fen
    session.flush()
    _settle_status(session, need)
    # Lower first, in the ledger: money already approved or paid for this claim refuses a withdrawal;
    # an expiry keeps what was paid (clamp).
    caps.set_cap(session, need_cap_key(need.id, claim.organization_id), "need",
                 _live_pledged(session, need.id, claim.organization_id), organization_id=claim.organization_id,
                 clamp=clamp, label=f"{need.village.name}: {need.title}")


def _live_pledged(session: Session, need_id: int, organization_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(Claim.amount_fen), 0)).where(
        Claim.need_id == need_id, Claim.organization_id == organization_id,
        Claim.status.in_(LIVE_CLAIM_STATUSES))) or 0)


def withdraw_claim(session: Session, actor: Principal, claim_id: int, note: str = "") -> Claim:
    claim, need = _claim_for_change(session, actor, claim_id)
    _free(session, actor, claim, need, "withdrawn", clamp=False)
    claim.note = note or claim.note
    audit.record(session, AuditLog, actor, "claim.withdraw", f"claim:{claim.id}",
                 {"amount": str(Money(claim.amount_fen)), "note": note})
    return claim


def sign_off_claim(session: Session, actor: Principal, claim_id: int, note: str = "") -> Claim:
    """The village (through the bureau) confirms a fulfilled claim: 回单."""
    require_admin(actor)
    claim, need = _claim_for_change(session, actor, claim_id)
    if claim.status != "fulfilled" or claim.signed_off_at is not None:
        raise Problem("claim_not_signable", id=claim.id, status=claim.status)
    claim.signed_off_at, claim.signed_off_by = utcnow(), actor.actor
    claim.note = note or claim.note
    audit.record(session, AuditLog, actor, "claim.sign_off", f"claim:{claim.id}", {"note": note})
    return claim


def expire_claims(session: Session, today: dt.date) -> list[int]:
    """Claims whose date has passed unfulfilled expire, and free their share (what was paid stays)."""
    expired = []
    for claim_id in session.scalars(select(Claim.id).where(Claim.status.in_(("pledged", "in_progress")),
                                                             Claim.due_on < today).order_by(Claim.id)):
        claim = session.get(Claim, claim_id)
        need = get_need(session, claim.need_id, lock=True)
        session.refresh(claim, with_for_update={"of": Claim})
        if claim.status in ("pledged", "in_progress") and claim.due_on < today:
            _free(session, None, claim, need, "expired", clamp=True)  # type: ignore[arg-type]
            audit.record(session, AuditLog, None, "claim.expire", f"claim:{claim.id}",
                         {"due_on": claim.due_on.isoformat()})
            expired.append(claim.id)
    return expired


def claim_figures(session: Session, claims: list[Claim]) -> dict[int, CapFigures | None]:
    """Each claim's organisation's figures on its need (one cap per need and organisation)."""
    keys = {claim.id: need_cap_key(claim.need_id, claim.organization_id) for claim in claims}
    found = caps.figures(list(keys.values()))
    return {claim_id: found.get(key) for claim_id, key in keys.items()}
