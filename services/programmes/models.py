"""The programmes service's tables, in the `programmes` schema.

Money is integer fen. What a need or a project may be paid lives in the
ledger as caps (shared/contracts/caps.py); these tables keep what was asked,
pledged, budgeted and reported, and the version each cap was last set at.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger, CheckConstraint, Date, ForeignKey, Index, Numeric, Sequence, String, Text, UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.programmes.rules import (
    ACTIVITY_KINDS, AMENDMENT_STATUSES, CLAIM_STATUSES, DISCLOSURE_KINDS, DRIVE_STATUSES, MEMBER_ROLES,
    MILESTONE_STATUSES, NEED_CATEGORIES, NEED_STATUSES, PRIORITIES, PROJECT_CODE_PATTERN, PROJECT_STATUSES, PURCHASE_KINDS,
)
from shared.audit import AuditLogMixin
from shared.contracts.caps import CAP_LABEL_MAX_LENGTH
from shared.db import declarative_base, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.shapes import Choice

SCHEMA = "programmes"
Base = declarative_base(SCHEMA)

# Every change of a ledger cap takes the next number: the ledger keeps the newest it hears.
CAP_VERSION = Sequence("cap_version_seq", metadata=Base.metadata)


def _known(column: str, choices: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(Choice(choices).sql_check(column), name=f"{column}_known")


def _not_blank(column: str) -> CheckConstraint:
    return CheckConstraint(f"length({column}) > 0", name=f"{column}_not_empty")


class Village(Base):
    """A village (or community) the bureau lists, with its township."""

    __tablename__ = "village"
    __table_args__ = (
        UniqueConstraint("township", "name"),
        _not_blank("name"),
        _not_blank("township"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    township: Mapped[str] = mapped_column(String(200), index=True)
    weak: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Need(Base):
    """A village's need on the needs list (点单). `pledged_fen` is the sum of its live claims,
    kept on the row so that a claim checks and adds under the row's lock."""

    __tablename__ = "need"
    __table_args__ = (
        _known("category", NEED_CATEGORIES),
        _known("priority", PRIORITIES),
        _known("status", NEED_STATUSES),
        _not_blank("title"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("pledged_fen BETWEEN 0 AND amount_fen", name="pledged_within_amount"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_at_iff_closed"),
        CheckConstraint("(quantity IS NULL) = (unit IS NULL)", name="quantity_with_unit"),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # When it asks for goods: how many of what unit (35 盏); its amount is then their value.
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    unit: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    pledged_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    due_on: Mapped[dt.date] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    village: Mapped[Village] = relationship(lazy="joined", innerjoin=True)


class Claim(Base):
    """An organisation's pledge of a share of a need (接单); the village's sign-off is 回单."""

    __tablename__ = "claim"
    __table_args__ = (
        _known("status", CLAIM_STATUSES),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("(signed_off_at IS NULL) OR status = 'fulfilled'", name="signed_off_only_fulfilled"),
        CheckConstraint("(signed_off_at IS NULL) = (signed_off_by IS NULL)", name="signed_off_by_with_at"),
        Index("ix_claim_need_status", "need_id", "status"),
        Index("ix_claim_organization", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("need.id"))
    organization_id: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pledged")
    due_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When the organisation was last reminded of the date (the reminder runs once a day at most).
    reminded_at: Mapped[dt.datetime | None]
    signed_off_at: Mapped[dt.datetime | None]
    signed_off_by: Mapped[str | None] = mapped_column(String(64))

    need: Mapped[Need] = relationship(lazy="joined", innerjoin=True)


class LedgerCap(Base):
    """The last version of each ledger cap this service set (or is about to set), and what it
    said: a cap whose `synced_version` lags `version` is sent again (shared/contracts/caps.py)."""

    __tablename__ = "ledger_cap"
    __table_args__ = (
        CheckConstraint("limit_fen >= 0", name="limit_not_negative"),
        CheckConstraint("synced_version IS NULL OR synced_version <= version", name="synced_not_ahead"),
    )

    cap_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    fund_code: Mapped[str | None] = mapped_column(String(32))
    organization_id: Mapped[int]
    limit_fen: Mapped[int] = mapped_column(BigInteger)
    clamp: Mapped[bool] = mapped_column(default=False)
    label: Mapped[str] = mapped_column(String(CAP_LABEL_MAX_LENGTH), default="")
    version: Mapped[int] = mapped_column(BigInteger)
    synced_version: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- micro public-welfare projects ------------------------------------------------------------

class Project(Base):
    __tablename__ = "project"
    __table_args__ = (
        _known("status", PROJECT_STATUSES),
        CheckConstraint(f"code ~ '^{PROJECT_CODE_PATTERN}$'", name="code_format"),
        _not_blank("name"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("approved_by IS NULL OR approved_by <> created_by", name="four_eyes"),
        Index("ix_project_organization", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    organization_id: Mapped[int]  # the implementing organisation
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    fund_code: Mapped[str] = mapped_column(String(32), index=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The budget in force: its lines are those of this version (amendments add versions).
    budget_version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime | None]
    stopped_at: Mapped[dt.datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None]
    final_report: Mapped[str | None] = mapped_column(Text)
    # Where money left over goes (to a similar project, as the law requires).
    leftover_to: Mapped[str | None] = mapped_column(Text)

    village: Mapped[Village | None] = relationship(lazy="joined")


class BudgetLine(Base):
    """A line of one version of a project's budget; versions are never changed."""

    __tablename__ = "budget_line"
    __table_args__ = (
        UniqueConstraint("project_id", "version", "name"),
        UniqueConstraint("project_id", "version", "position"),
        _not_blank("name"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    version: Mapped[int]
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class Milestone(Base):
    __tablename__ = "milestone"
    __table_args__ = (
        UniqueConstraint("project_id", "n"),
        _known("status", MILESTONE_STATUSES),
        _not_blank("name"),
        CheckConstraint("n >= 1", name="n_positive"),
        CheckConstraint("instalment_fen >= 0", name="instalment_not_negative"),
        CheckConstraint("status NOT IN ('reported', 'accepted') OR reported_at IS NOT NULL", name="reported_at_set"),
        CheckConstraint("(status = 'accepted') = (accepted_at IS NOT NULL)", name="accepted_at_iff_accepted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    n: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[dt.date] = mapped_column(Date)
    instalment_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    report: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[str | None] = mapped_column(String(64))
    reported_at: Mapped[dt.datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(String(64))
    accepted_at: Mapped[dt.datetime | None]


class Amendment(Base):
    """A change of a project's budget, approved like a payout; approved, it becomes the project's
    next budget version (its lines are written as BudgetLine rows of that version)."""

    __tablename__ = "amendment"
    __table_args__ = (
        _known("status", AMENDMENT_STATUSES),
        UniqueConstraint("project_id", "version"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    version: Mapped[int]  # the budget version it would make
    lines: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None]


# -- assistance teams ---------------------------------------------------------------------------

class Team(Base):
    __tablename__ = "team"
    __table_args__ = (_not_blank("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_member"
    __table_args__ = (
        UniqueConstraint("team_id", "organization_id"),
        _known("role", MEMBER_ROLES),
        # "1+N": one lead.
        Index("uq_team_member_one_lead", "team_id", unique=True, postgresql_where="role = 'lead'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    organization_id: Mapped[int] = mapped_column(index=True)
    role: Mapped[str] = mapped_column(String(16))
    contribution: Mapped[str] = mapped_column(Text, default="")


class TeamVillage(Base):
    __tablename__ = "team_village"
    __table_args__ = (UniqueConstraint("team_id", "village_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (
        _known("kind", ACTIVITY_KINDS),
        CheckConstraint("people_helped >= 0", name="people_helped_not_negative"),
        Index("ix_activity_team_on", "team_id", "on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    organization_id: Mapped[int]  # the member that recorded it
    on: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    people_helped: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class VolunteerHours(Base):
    """A volunteer's hours at an activity (personal data: never on a public page)."""

    __tablename__ = "volunteer_hours"
    __table_args__ = (
        _not_blank("name"),
        CheckConstraint("hours > 0 AND hours <= 24", name="hours_in_a_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    hours: Mapped[Decimal] = mapped_column(Numeric(4, 1))


# -- consumer-assistance drives ------------------------------------------------------------------

class Drive(Base):
    __tablename__ = "drive"
    __table_args__ = (
        _known("status", DRIVE_STATUSES),
        _not_blank("name"),
        _not_blank("product"),
        _not_blank("unit"),
        CheckConstraint("unit_price_fen > 0", name="unit_price_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(index=True)  # who runs the drive
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    seller: Mapped[str] = mapped_column(String(200), default="")  # the village's co-operative, say
    product: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32))
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)  # the market price of a unit
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))  # the drive's target
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DrivePledge(Base):
    __tablename__ = "drive_pledge"
    __table_args__ = (
        UniqueConstraint("drive_id", "organization_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id"))
    organization_id: Mapped[int]
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Purchase(Base):
    """A purchase in a drive, classified for the books (rules.PURCHASE_KINDS)."""

    __tablename__ = "purchase"
    __table_args__ = (
        _known("kind", PURCHASE_KINDS),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("market_value_fen > 0", name="market_value_positive"),
        # A premium is paid above market; the difference is the donation.
        CheckConstraint("kind <> 'premium' OR amount_fen > market_value_fen", name="premium_above_market"),
        Index("ix_purchase_drive", "drive_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id"))
    organization_id: Mapped[int] = mapped_column(index=True)
    purchased_on: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # paid to the village
    market_value_fen: Mapped[int] = mapped_column(BigInteger)  # quantity x the drive's unit price
    kind: Mapped[str] = mapped_column(String(16))
    # The seller is related to the buying organisation (to be disclosed within 30 days).
    related_party: Mapped[bool] = mapped_column(default=False)
    fund_code: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- the disclosure calendar ----------------------------------------------------------------------

class DisclosureRecord(Base):
    """That an item of an organisation's disclosure calendar was published, when and by whom."""

    __tablename__ = "disclosure_record"
    __table_args__ = (
        UniqueConstraint("organization_id", "kind", "subject", "due_on"),
        _known("kind", DISCLOSURE_KINDS),
        _not_blank("subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))  # a project's code, a purchase's id, a year
    due_on: Mapped[dt.date] = mapped_column(Date)  # the item's date: tells a project's quarters apart
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")


class AuditLog(AuditLogMixin, Base):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    pass
