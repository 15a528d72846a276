"""The funds service's tables, in the `funds` schema."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.audit import AuditLogMixin
from shared.auth import ROLES
from shared.db import declarative_base, utcnow
from shared.idempotency import IdempotencyRecordMixin

SCHEMA = "funds"
Base = declarative_base(SCHEMA)

ORGANIZATION_KINDS = ("township", "chamber_of_commerce", "federation", "other")
FUND_KINDS = ("township_named", "chamber_named", "general")
FUND_STATUSES = ("active", "frozen", "closed")
FUND_CODE_PATTERN = r"[A-Z0-9-]{3,32}"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Organization(Base):
    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ORGANIZATION_KINDS), name="kind_known"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    funds: Mapped[list[Fund]] = relationship(back_populates="organization", lazy="raise")


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role_known"),
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
        CheckConstraint(_one_of("kind", FUND_KINDS), name="kind_known"),
        CheckConstraint(_one_of("status", FUND_STATUSES), name="status_known"),
        CheckConstraint("length(code) BETWEEN 3 AND 32", name="code_length"),
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
    opened_on: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    organization: Mapped[Organization] = relationship(back_populates="funds", lazy="raise")


class AuditLog(AuditLogMixin, Base):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    pass
