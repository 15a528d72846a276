"""Consumer-assistance drives (消费帮扶): organisations buy a village's produce.

An organisation runs a drive for a village's product at its market price per
unit, with a target quantity; organisations pledge quantities and record
purchases. What a purchase is for a fund's books depends on its kind (README,
"Consumer-assistance drives: what a purchase is"):

- `market`: bought at market price, an exchange, neither a donation nor
  charitable spending; its amount is exactly its market value;
- `given_on`: the produce is given on to people in need, charitable spending
  at its market value (paid at market value or above; anything above is a
  donation of the difference);
- `premium`: paid above market, the difference is a donation.

A purchase from a seller related to the buying organisation is flagged, to be
disclosed within 30 days. A drive is seen by its organiser, by the
organisations that pledged or bought in it, and by admins and auditors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from services.programmes import organizations
from services.programmes.models import AuditLog, Drive, DrivePledge, Purchase, Village
from services.programmes.rules import RELATED_PARTY_DISCLOSURE_DAYS
from shared import audit
from shared.auth import Principal
from shared.db import MAX_ID
from shared.errors import Problem
from shared.money import Money, priced_fen
from shared.shapes import quantity_text


def _by_id(session: Session, model: Any, row_id: int, **kwargs: Any) -> Any:
    return session.get(model, row_id, **kwargs) if 0 < row_id <= MAX_ID else None


def _taking_part(organization_id: int) -> Any:
    """The drives an organisation runs, pledged to or bought in."""
    return or_(Drive.organization_id == organization_id,
               Drive.id.in_(select(DrivePledge.drive_id).where(DrivePledge.organization_id == organization_id)),
               Drive.id.in_(select(Purchase.drive_id).where(Purchase.organization_id == organization_id)))


# -- drives ----------------------------------------------------------------------------------------

def create_drive(session: Session, actor: Principal, data: dict[str, Any]) -> Drive:
    village = _by_id(session, Village, data["village_id"])
    if village is None:
        raise Problem.field("village_id", "no_such_village", id=data["village_id"])
    drive = Drive(name=data["name"], organization_id=actor.organization_id, village_id=village.id,
                  seller=data["seller"], product=data["product"], unit=data["unit"],
                  unit_price_fen=data["unit_price"].fen, quantity=data["quantity"], created_by=actor.actor)
    session.add(drive)
    session.flush()
    audit.record(session, AuditLog, actor, "drive.create", f"drive:{drive.id}", {
        **data, "unit_price": str(data["unit_price"]), "quantity": quantity_text(data["quantity"])})
    return drive


def get_drive(session: Session, actor: Principal, drive_id: int, *, lock: bool = False) -> Drive:
    drive = _by_id(session, Drive, drive_id, **({"with_for_update": True} if lock else {}))
    if drive is None or not (actor.sees_all_organizations or session.scalar(
            select(Drive.id).where(Drive.id == drive.id, _taking_part(actor.organization_id))) is not None):
        raise Problem("drive_not_found", id=drive_id)
    return drive


def drive_query(actor: Principal, *, village_id: int | None = None, status: str | None = None) -> Select[Any]:
    query = select(Drive).order_by(Drive.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(_taking_part(actor.organization_id))
    if village_id is not None:
        query = query.where(Drive.village_id == village_id)
    if status is not None:
        query = query.where(Drive.status == status)
    return query


def _buyer(actor: Principal, drive: Drive, requested: int | None) -> int:
    """The organisation that pledges or buys: the caller's own; the organiser or an admin may name another."""
    return organizations.acting(actor, requested, refusal="not_drive_organiser",
                                may_name_another=actor.is_admin or drive.organization_id == actor.organization_id)


# -- pledges -----------------------------------------------------------------------------------------

def pledge(session: Session, actor: Principal, drive_id: int, data: dict[str, Any]) -> DrivePledge:
    """The organisation's pledge of a quantity; a second pledge replaces the first."""
    drive = get_drive(session, actor, drive_id, lock=True)  # pledges to one drive are set one at a time
    organization_id = _buyer(actor, drive, data.get("organization_id"))
    row = session.scalar(select(DrivePledge).where(DrivePledge.drive_id == drive.id,
                                                   DrivePledge.organization_id == organization_id))
    if row is None:
        row = DrivePledge(drive_id=drive.id, organization_id=organization_id, quantity=data["quantity"])
        session.add(row)
    else:
        row.quantity = data["quantity"]
    session.flush()
    audit.record(session, AuditLog, actor, "drive.pledge", f"drive:{drive.id}",
                 {"organization_id": organization_id, "quantity": quantity_text(data["quantity"])})
    return row


# -- purchases ----------------------------------------------------------------------------------------

def _check_amount(kind: str, amount_fen: int, market_fen: int) -> None:
    expected = str(Money(market_fen))
    if kind == "market" and amount_fen != market_fen:
        raise Problem.field("amount", "purchase_not_at_market", expected=expected)
    if kind == "premium" and amount_fen <= market_fen:
        raise Problem.field("amount", "purchase_not_above_market", expected=expected)
    if kind == "given_on" and amount_fen < market_fen:
        raise Problem.field("amount", "purchase_below_market", expected=expected)


def record_purchase(session: Session, actor: Principal, drive_id: int, data: dict[str, Any]) -> Purchase:
    drive = get_drive(session, actor, drive_id)
    organization_id = _buyer(actor, drive, data.get("organization_id"))
    market_fen = priced_fen(data["quantity"], drive.unit_price_fen)
    if market_fen <= 0:  # a quantity too small to be worth a fen
        raise Problem.field("quantity", "quantity_not_positive")
    _check_amount(data["kind"], data["amount"].fen, market_fen)
    if data["fund_code"] is not None:
        organizations.own_fund(data["fund_code"], organization_id)
    purchase = Purchase(drive_id=drive.id, organization_id=organization_id, purchased_on=data["purchased_on"],
                        quantity=data["quantity"], amount_fen=data["amount"].fen, market_value_fen=market_fen,
                        kind=data["kind"], related_party=data["related_party"], fund_code=data["fund_code"],
                        created_by=actor.actor)
    session.add(purchase)
    session.flush()
    audit.record(session, AuditLog, actor, "purchase.create", f"purchase:{purchase.id}", {
        "drive_id": drive.id, "organization_id": organization_id, "quantity": quantity_text(data["quantity"]),
        "amount": str(data["amount"]), "market_value": str(Money(market_fen)), "kind": data["kind"],
        "related_party": data["related_party"], "purchased_on": data["purchased_on"].isoformat(),
        "fund_code": data["fund_code"]})
    return purchase


def purchase_query(drive: Drive, *, kind: str | None = None) -> Select[Any]:
    query = select(Purchase).where(Purchase.drive_id == drive.id).order_by(Purchase.id.desc())
    if kind is not None:
        query = query.where(Purchase.kind == kind)
    return query


@dataclass(frozen=True)
class PurchaseView:
    """A purchase and what it is in the books."""

    purchase: Purchase

    def __getattr__(self, name: str) -> Any:
        return getattr(self.purchase, name)

    @property
    def exchange_fen(self) -> int:
        return self.purchase.amount_fen if self.purchase.kind == "market" else 0

    @property
    def charitable_spending_fen(self) -> int:
        return self.purchase.market_value_fen if self.purchase.kind == "given_on" else 0

    @property
    def donation_of_difference_fen(self) -> int:
        return 0 if self.purchase.kind == "market" else self.purchase.amount_fen - self.purchase.market_value_fen

    @property
    def disclose_by(self) -> dt.date | None:
        if not self.purchase.related_party:
            return None
        return self.purchase.purchased_on + dt.timedelta(days=RELATED_PARTY_DISCLOSURE_DAYS)


# -- what a drive adds up to ---------------------------------------------------------------------------

@dataclass
class DriveView:
    drive: Drive
    village_name: str = ""
    pledged: Decimal = Decimal(0)
    bought: Decimal = Decimal(0)
    purchases: int = 0
    paid_to_village_fen: int = 0
    exchange_fen: int = 0
    charitable_spending_fen: int = 0
    donation_of_difference_fen: int = 0
    related_party_count: int = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.drive, name)


def _sums(session: Session, key: Any, where: Any) -> dict[Any, dict[str, Any]]:
    rows = session.execute(select(
        key,
        func.count(Purchase.id),
        func.coalesce(func.sum(Purchase.quantity), 0),
        func.coalesce(func.sum(Purchase.amount_fen), 0),
        func.coalesce(func.sum(case((Purchase.kind == "market", Purchase.amount_fen), else_=0)), 0),
        func.coalesce(func.sum(case((Purchase.kind == "given_on", Purchase.market_value_fen), else_=0)), 0),
        func.coalesce(func.sum(case((Purchase.kind != "market", Purchase.amount_fen - Purchase.market_value_fen),
                                    else_=0)), 0),
        func.count(Purchase.id).filter(Purchase.related_party.is_(True)),
    ).join(Drive, Drive.id == Purchase.drive_id).where(where).group_by(key))
    return {row[0]: {"purchases": int(row[1]), "bought": Decimal(row[2]), "paid_to_village_fen": int(row[3]),
                     "exchange_fen": int(row[4]), "charitable_spending_fen": int(row[5]),
                     "donation_of_difference_fen": int(row[6]), "related_party_count": int(row[7])}
            for row in rows}


def with_figures(session: Session, drives: list[Drive]) -> list[DriveView]:
    ids = [drive.id for drive in drives]
    sums = _sums(session, Purchase.drive_id, Purchase.drive_id.in_(ids)) if ids else {}
    pledged = dict(session.execute(select(DrivePledge.drive_id, func.sum(DrivePledge.quantity))
                                   .where(DrivePledge.drive_id.in_(ids))
                                   .group_by(DrivePledge.drive_id)).all()) if ids else {}
    names = dict(session.execute(select(Village.id, Village.name).where(
        Village.id.in_({drive.village_id for drive in drives}))).all()) if ids else {}
    return [DriveView(drive, village_name=names[drive.village_id], pledged=Decimal(pledged.get(drive.id) or 0),
                      **sums.get(drive.id, {})) for drive in drives]


@dataclass
class VillageDrives:
    """What drives paid a village (those the caller may see), in money: their units differ."""

    village: Village
    drives: int = 0
    purchases: int = 0
    paid_to_village_fen: int = 0
    exchange_fen: int = 0
    charitable_spending_fen: int = 0
    donation_of_difference_fen: int = 0
    related_party_count: int = 0

    @property
    def village_id(self) -> int:
        return self.village.id


def village_totals(session: Session, actor: Principal, village_id: int) -> VillageDrives:
    village = _by_id(session, Village, village_id)
    if village is None:
        raise Problem("village_not_found", id=village_id)
    visible = drive_query(actor, village_id=village.id).with_only_columns(Drive.id).order_by(None)
    sums = _sums(session, Drive.village_id, Drive.id.in_(visible)).get(village.id, {})
    count = session.scalar(select(func.count()).select_from(visible.subquery()))
    sums.pop("bought", None)  # the drives' units differ: only money adds up across them
    return VillageDrives(village, drives=int(count or 0), **sums)
