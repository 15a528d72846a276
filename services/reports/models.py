"""The reports service's tables, in the `reports` schema.

A report is a run for one scope and period: it moves through the states of
states.py, and every move appends a row to its log (never updated or
deleted: a trigger refuses). Its files are kept with their sha256. A
delivery is one recipient's copy of one scope and period: unique, so a
recipient gets each report once however often it is built or retried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.reports.rules import DELIVERY_STATUSES, FILE_FORMATS, FREQUENCIES, RUN_STATES, TRIGGERS
from shared.audit import AuditLogMixin
from shared.db import declarative_base, utcnow
from shared.idempotency import IdempotencyRecordMixin
from shared.periods import PERIOD_PATTERN
from shared.shapes import Choice

SCHEMA = "reports"
Base = declarative_base(SCHEMA)

SCOPE_KEY_PATTERN = "^(all|org:[0-9]+|fund:[A-Z0-9-]{3,32})$"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return Choice(values).sql_check(column)


class Subscription(Base):
    """An auditor's standing order: the reports of a scope, by frequency, to an address."""

    __tablename__ = "subscription"
    __table_args__ = (
        CheckConstraint(_one_of("frequency", FREQUENCIES), name="frequency_known"),
        CheckConstraint(f"scope_key ~ '{SCOPE_KEY_PATTERN}'", name="scope_key_format"),
        # One live subscription per address, scope and frequency.
        Index("uq_subscription_live", "email", "scope_key", "frequency", unique=True,
              postgresql_where=text("cancelled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    frequency: Mapped[str] = mapped_column(String(16))
    scope_key: Mapped[str] = mapped_column(String(48))
    organization_id: Mapped[int | None]      # the scope's organisation (a fund's too); None: all
    fund_code: Mapped[str | None] = mapped_column(String(32))
    # Who made it: an auditor manages their own; an organisation's keys and users see their organisation's.
    created_by: Mapped[str] = mapped_column(String(64))
    owner_organization_id: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]


class ReportRun(Base):
    """One report: a scope, a period, its state, its summary once done."""

    __tablename__ = "report_run"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATES), name="status_known"),
        CheckConstraint(_one_of("trigger", TRIGGERS), name="trigger_known"),
        CheckConstraint(f"period ~ '^{PERIOD_PATTERN}$'", name="period_format"),
        CheckConstraint(f"scope_key ~ '{SCOPE_KEY_PATTERN}'", name="scope_key_format"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
        CheckConstraint("(status = 'done') = (summary IS NOT NULL)", name="done_iff_summary"),
        CheckConstraint("status <> 'running' OR (worker IS NOT NULL AND lease_until IS NOT NULL)",
                        name="running_has_lease"),
        # While one is queued or running, the same scope and period is that one (API.md).
        Index("uq_report_run_live", "scope_key", "period", unique=True,
              postgresql_where=text("status IN ('queued', 'running')")),
        # The schedule builds a scope and period once.
        Index("uq_report_run_scheduled", "scope_key", "period", unique=True,
              postgresql_where=text("trigger = 'schedule'")),
        Index("ix_report_run_scope_period", "scope_key", "period", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(48))
    organization_id: Mapped[int | None]
    fund_code: Mapped[str | None] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(16))
    notify: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(128))
    # A running report belongs to its worker until then; past it, another takes it over.
    lease_until: Mapped[dt.datetime | None]
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The chain heads the figures were taken at ({fund_code: [seq, hash]}): the report can be rebuilt from them.
    heads: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    previous_report_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    owner_organization_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class RunLog(Base):
    """A report's history: every change of state, by whom, how long it took, what failed. Append-only."""

    __tablename__ = "run_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("report_run.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    worker: Mapped[str | None] = mapped_column(String(128))
    duration_ms: Mapped[int | None]
    message: Mapped[str] = mapped_column(Text, default="")


class ReportFile(Base):
    """A report's file, as built: kept, with its sha256, so what was sent can be proven later."""

    __tablename__ = "report_file"
    __table_args__ = (
        CheckConstraint(_one_of("format", FILE_FORMATS), name="format_known"),
        CheckConstraint("size = octet_length(content)", name="size_is_content_length"),
    )

    report_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("report_run.id"), primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class Delivery(Base):
    """One recipient's email of one scope and period's report."""

    __tablename__ = "delivery"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status_known"),
        # Each recipient gets each report once, however often it is built or retried.
        Index("uq_delivery_once", "email", "scope_key", "period", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("report_run.id"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"))
    email: Mapped[str] = mapped_column(String(254))
    scope_key: Mapped[str] = mapped_column(String(48))
    period: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # While one worker sends it, the others leave it alone.
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class AuditLog(AuditLogMixin, Base):
    pass


class IdempotencyRecord(IdempotencyRecordMixin, Base):
    pass
