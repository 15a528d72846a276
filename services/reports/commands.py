"""What people and keys do with reports: ask for one, read them, subscribe. Validate, then act.

Views and pages call these; they flush, the request commits (one commit per
request), and a report's task is sent only after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.reports.facts import Scope
from services.reports.models import AuditLog, ReportFile, ReportRun, RunLog, Subscription
from shared.audit import record
from shared.auth import Principal, authority
from shared.contracts.funds import is_fund_code
from shared.db import MAX_BIG_ID, MAX_ID, after_commit, utcnow
from shared.errors import Problem
from shared.periods import Period


def scope_for(actor: Principal, *, fund_code: str | None = None, organization_id: int | None = None,
              field_prefix: str = "") -> tuple[Scope, int | None]:
    """The scope the caller names, and the organisation it belongs to; 404 for what is not theirs.

    Every fund (neither named) is for those who see every organisation.
    """
    if fund_code is not None:
        info = authority().fund(fund_code) if is_fund_code(fund_code) else None
        if info is None or not actor.may_read(info.organization_id):
            raise Problem("fund_not_found", fund_code=fund_code)
        return Scope(organization_id=None, fund_code=fund_code), info.organization_id
    if organization_id is not None:
        if not actor.may_read(organization_id):
            raise Problem("organization_not_found", id=organization_id)
        return Scope(organization_id=organization_id), organization_id
    if not actor.sees_all_organizations:
        raise Problem("scope_all_forbidden")
    return Scope(), None


def request_report(session: Session, actor: Principal, *, period: str, fund_code: str | None = None,
                   organization_id: int | None = None, notify: bool = False) -> tuple[ReportRun, bool]:
    """A report of the scope and period: the one queued or running already, else a new one
    (sent to a worker once this request commits). Whether it is new."""
    scope, owner = scope_for(actor, fund_code=fund_code, organization_id=organization_id)
    label = Period.parse(period).label
    new_id = session.scalar(
        insert(ReportRun).values(
            scope_key=scope.key, organization_id=scope.organization_id if scope.fund_code is None else owner,
            fund_code=scope.fund_code, period=label, trigger="request", notify=notify, status="queued",
            progress=0, attempts=0, requested_by=actor.actor, owner_organization_id=owner, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["scope_key", "period"],
                                index_where=text("status IN ('queued', 'running')"))
        .returning(ReportRun.id))
    if new_id is None:  # one is queued or running for this scope and period: that one
        live = session.scalar(select(ReportRun).where(ReportRun.scope_key == scope.key, ReportRun.period == label,
                                                      ReportRun.status.in_(("queued", "running"))))
        if live is not None:
            return live, False
        # It finished between the two statements: ask again.
        return request_report(session, actor, period=period, fund_code=fund_code,
                              organization_id=organization_id, notify=notify)
    session.add(RunLog(report_id=new_id, at=utcnow(), from_status=None, to_status="queued",
                       message=f"{actor.name}（{actor.actor}）申请" + ("，完成后发送给订阅者" if notify else "")))
    record(session, AuditLog, actor, "report.request", f"report:{new_id}",
           {"scope": scope.key, "period": label, "notify": notify})
    session.flush()
    dispatch_after_commit(new_id)
    return session.get(ReportRun, new_id), True  # type: ignore[return-value]


def dispatch_after_commit(report_id: int) -> None:
    from services.reports import tasks

    after_commit(lambda: tasks.build_report.delay(report_id))


def _visible(actor: Principal, query: Select[Any], organization_column: Any) -> Select[Any]:
    if actor.sees_all_organizations:
        return query
    return query.where(organization_column == actor.organization_id)


def visible_reports(actor: Principal, *, period: str | None = None, fund_code: str | None = None,
                    organization_id: int | None = None, status: str | None = None) -> Select[Any]:
    query = _visible(actor, select(ReportRun), ReportRun.owner_organization_id).order_by(ReportRun.id.desc())
    if period is not None:
        query = query.where(ReportRun.period == period)
    if fund_code is not None:
        query = query.where(ReportRun.fund_code == fund_code)
    if organization_id is not None:
        query = query.where(ReportRun.organization_id == organization_id)
    if status is not None:
        query = query.where(ReportRun.status == status)
    return query


def get_report(session: Session, actor: Principal, report_id: int) -> ReportRun:
    run = session.get(ReportRun, report_id) if 0 < report_id <= MAX_BIG_ID else None  # else no row's id
    if run is None or not (actor.sees_all_organizations or run.owner_organization_id == actor.organization_id):
        raise Problem("report_not_found", id=report_id)
    return run


def report_files(session: Session, report_id: int) -> list[ReportFile]:
    return list(session.scalars(select(ReportFile).where(ReportFile.report_id == report_id)
                                .order_by(ReportFile.format)))


def report_file(session: Session, actor: Principal, report_id: int, fmt: str) -> ReportFile:
    """A report's file; a format it has no file in (or no such format) is not found."""
    get_report(session, actor, report_id)
    found = session.scalar(select(ReportFile).where(ReportFile.report_id == report_id, ReportFile.format == fmt))
    if found is None:
        raise Problem("report_file_not_found", id=report_id, format=fmt)
    return found


def run_log(session: Session, actor: Principal, report_id: int) -> list[RunLog]:
    get_report(session, actor, report_id)
    return list(session.scalars(select(RunLog).where(RunLog.report_id == report_id).order_by(RunLog.id)))


def create_subscription(session: Session, actor: Principal, *, email: str, frequency: str,
                        fund_code: str | None = None, organization_id: int | None = None) -> Subscription:
    """A standing order; the same address, scope and frequency again is the one that exists."""
    scope, owner = scope_for(actor, fund_code=fund_code, organization_id=organization_id)
    existing = session.scalar(select(Subscription).where(
        Subscription.email == email, Subscription.scope_key == scope.key, Subscription.frequency == frequency,
        Subscription.cancelled_at.is_(None)))
    if existing is not None:
        return existing
    subscription = Subscription(email=email, frequency=frequency, scope_key=scope.key,
                                organization_id=scope.organization_id if scope.fund_code is None else owner,
                                fund_code=scope.fund_code, created_by=actor.actor,
                                owner_organization_id=actor.organization_id, created_at=utcnow())
    session.add(subscription)
    session.flush()
    record(session, AuditLog, actor, "subscription.create", f"subscription:{subscription.id}",
           {"email": email, "frequency": frequency, "scope": scope.key})
    return subscription


def visible_subscriptions(actor: Principal) -> Select[Any]:
    """An auditor's own subscriptions; an organisation's users and keys see their organisation's;
    the federation's admins see all."""
    query = select(Subscription).where(Subscription.cancelled_at.is_(None)).order_by(Subscription.id.desc())
    if actor.is_admin and actor.sees_all_organizations:
        return query
    if actor.role == "auditor":
        return query.where(Subscription.created_by == actor.actor)
    return query.where(Subscription.owner_organization_id == actor.organization_id)


def cancel_subscription(session: Session, actor: Principal, subscription_id: int) -> None:
    subscription = (session.scalar(visible_subscriptions(actor).where(Subscription.id == subscription_id))
                    if 0 < subscription_id <= MAX_ID else None)  # else no row's id
    if subscription is None:
        raise Problem("subscription_not_found", id=subscription_id)
    subscription.cancelled_at = utcnow()
    record(session, AuditLog, actor, "subscription.cancel", f"subscription:{subscription_id}", {})
    session.flush()
