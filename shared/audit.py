"""The append-only audit log every service keeps of its writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.auth import Principal
from shared.db import utcnow


class AuditLogMixin:
    """Who did what, when, through which request and service. Never updated."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    service: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))


def record(session: Session, model: type[AuditLogMixin], principal: Principal | None,
           action: str, subject: str, details: dict[str, Any] | None = None) -> None:
    """Add an audit entry to the current transaction."""
    session.add(model(  # type: ignore[call-arg]
        at=utcnow(),
        service=current_app.config["SERVICE_NAME"],
        actor=principal.actor if principal else "system",
        actor_name=principal.name if principal else "system",
        organization_id=principal.organization_id if principal else None,
        action=action,
        subject=subject,
        details=details or {},
        request_id=g.get("request_id") if has_request_context() else None,
    ))
