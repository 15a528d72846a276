"""The funds service's tables, in the `funds` schema."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Sequence, String, Text, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from services.funds.rules import DEFAULT_CHARITY_KIND, FUND, MANAGEMENT_COST_LIMIT_PERCENT, ORGANIZATION, USER
from shared.audit import AuditLogMixin
from shared.contracts.funds import DEFAULT_APPROVAL_RULE, FUND_CODE, FUND_STATUSES
from shared.db import declarative_base, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.shapes import Choice

SCHEMA = "funds"
Base = declarative_base(SCHEMA)

# Every status change of every fund takes the next number: the ledger keeps the newest it hears.
STATUS_VERSION = Sequence("fund_status_version_seq", metadata=Base.metadata)


class Organization(Base):
    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(ORGANIZATION.fields["kind"].sql_check("kind"), name="kind_known"),
        CheckConstraint(ORGANIZATION.fields["charity_kind"].sql_check("charity_kind"), name="charity_kind_known"),
        CheckConstraint(ORGANIZATION.fields["approval_rule"].sql_check("approval_rule"), name="approval_rule_known"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    charity_kind: Mapped[str] = mapped_column(String(32), server_default=DEFAULT_CHARITY_KIND)
    # Who may approve its disbursements (shared.contracts.funds.APPROVAL_RULES, where the rule is written).
    approval_rule: Mapped[str] = mapped_column(String(32), server_default=DEFAULT_APPROVAL_RULE)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    funds: Mapped[list[Fund]] = relationship(back_populates="organization", lazy="raise")

    @property
    def management_cost_limit_percent(self) -> int:
        return MANAGEMENT_COST_LIMIT_PERCENT[self.charity_kind]


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(USER.fields["role"].sql_check("role"), name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every login session: changing it (password change, deactivation)
    # ends that user's sessions in every service.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined")


class LoginSession(Base):
    """One login in a browser: ended by logging out, or with all of the user's others when the user
    changes (password, role, deactivation: the user's session_token changes). Only a hash of its
    secret is kept, like a key's."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the secret; the secret itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the secret, so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None]

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Fund(Base):
    __tablename__ = "fund"
    __table_args__ = (
        CheckConstraint(FUND.fields["kind"].sql_check("kind"), name="kind_known"),
        CheckConstraint(Choice(FUND_STATUSES).sql_check("status"), name="status_known"),
        CheckConstraint(FUND_CODE.sql_check("code"), name="code_format"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_at_iff_closed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    restricted: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    status_version: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_on: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    organization: Mapped[Organization] = relationship(back_populates="funds", lazy="raise")
    # Its organisation's approval rule, read with the fund: the ledger hears it with the fund (fund_info).
    approval_rule: Mapped[str] = column_property(
        select(Organization.approval_rule).where(Organization.id == organization_id)
        .correlate_except(Organization).scalar_subquery())


class AuditLog(AuditLogMixin, Base):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    pass
