"""Running a report: claim it, build it, keep its files, then email it. Once, whatever happens.

A report is built outside any transaction (it asks the other services over
HTTP and renders its files), then kept in ONE transaction: its files, its
summary, `done`, and a delivery row per subscriber. A worker killed before
that commit leaves nothing behind but a running report whose lease runs out;
the task comes back (acknowledged late) or beat's sweep queues it again, and
another worker takes it over and builds it whole. Emails go after the commit,
one delivery row each, claimed before sending and marked sent after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.reports import mailer, states
from services.reports.facts import Head, PreviousReport, Scope
from services.reports.models import Delivery, ReportFile, ReportRun, RunLog, Subscription
from services.reports.render import FORMATS, render
from shared.config import Settings
from shared.db import Database, utcnow
from shared.errors import Problem
from shared.periods import KIND_OF_FREQUENCY, Period

log = logging.getLogger(__name__)

# A delivery is tried this often before it is given up (and logged as failed).
MAX_DELIVERY_ATTEMPTS = 8
# A report whose building fails for a reason other than a peer being away is not retried forever.
MAX_ATTEMPTS = 5


class Transient(Exception):
    """Worth another try later: a peer service away, the SMTP server refusing, another worker's lease."""

    def __init__(self, message: str, countdown: float | None = None) -> None:
        super().__init__(message)
        self.countdown = countdown


class LostClaim(Exception):
    """Another worker took the report over: this one stops without writing anything."""


@dataclass(frozen=True)
class Outcome:
    report_id: int
    status: str


def _lease(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.report_lease_seconds)


def _scope(run: ReportRun) -> Scope:
    if run.fund_code is not None:
        return Scope(fund_code=run.fund_code)
    return Scope(organization_id=run.organization_id)


def previous_report(session: Session, run: ReportRun) -> PreviousReport | None:
    """The last finished report of the same scope before this one."""
    found = session.scalar(select(ReportRun).where(
        ReportRun.scope_key == run.scope_key, ReportRun.status == "done", ReportRun.id != run.id)
        .order_by(ReportRun.finished_at.desc(), ReportRun.id.desc()).limit(1))
    if found is None:
        return None
    heads = tuple(Head(code, int(seq), digest) for code, (seq, digest) in sorted((found.heads or {}).items()))
    return PreviousReport(found.id, found.period, heads)


def run_report(db: Database, sources: object, settings: Settings, report_id: int,
               worker: str | None = None) -> Outcome:
    """Build the report if it is queued (or its worker went silent); raises Transient to be retried."""
    from services.reports.build import build_content, summary_json

    worker = worker or states.worker_name()
    lease = _lease(settings)
    with db.transaction() as session:
        claim = states.claim(session, report_id, worker, lease)
        run = session.get(ReportRun, report_id)
        if run is None:
            return Outcome(report_id, "missing")
        if claim is None:
            if run.status == "running":  # another worker holds it: look again when its lease ends
                wait = max(1.0, (run.lease_until - utcnow()).total_seconds()) if run.lease_until else 1.0
                raise Transient(f"report {report_id} is being built by {run.worker}", countdown=wait)
            return Outcome(report_id, run.status)
        scope, period, previous = _scope(run), Period.parse(run.period), previous_report(session, run)
    started = time.monotonic()

    def progress(percent: int) -> None:
        with db.transaction() as session:
            if not states.renew(session, claim, lease, percent):
                raise LostClaim(f"report {report_id} was taken over")

    try:
        content = build_content(sources, report_id=report_id, scope=scope, period=period,
                                generated_at=utcnow(), previous=previous, progress=progress)
        files = {}
        for fmt in FORMATS:
            files[fmt] = render(content, fmt)
            progress(90 + 3 * (FORMATS.index(fmt) + 1))
        summary = summary_json(content)
    except LostClaim:
        log.warning("report %s: taken over by another worker; this attempt stops", report_id)
        return Outcome(report_id, "taken_over")
    except (Problem, httpx.HTTPError) as error:  # a peer service away or failing: try again later
        _fail(db, claim, f"无法连接其他服务：{error}", started, retrying=True)
        raise Transient(str(error)) from error
    except Exception as error:
        log.exception("report %s failed", report_id)
        retrying = claim.attempt < MAX_ATTEMPTS
        _fail(db, claim, f"{type(error).__name__}: {error}", started, retrying=retrying)
        if retrying:
            raise Transient(str(error)) from error
        return Outcome(report_id, "failed")

    with db.transaction() as session:
        for fmt, content_bytes in files.items():
            session.add(ReportFile(report_id=report_id, format=fmt, size=len(content_bytes),
                                   sha256=hashlib.sha256(content_bytes).hexdigest(), content=content_bytes))
        try:
            states.finish(session, claim, summary=summary,
                          heads={h.fund_code: [h.seq, h.hash] for h in content.heads},
                          previous_report_id=previous.id if previous else None,
                          duration_ms=int((time.monotonic() - started) * 1000), note="；".join(content.notes))
        except states.TransitionRefused:
            session.rollback()
            return Outcome(report_id, "taken_over")
        run = session.get(ReportRun, report_id)
        assert run is not None
        if run.notify:
            add_deliveries(session, run)
    return Outcome(report_id, "done")


def _fail(db: Database, claim: states.Claim, error: str, started: float, *, retrying: bool) -> None:
    with db.transaction() as session:
        try:
            states.fail(session, claim, error[:2000], int((time.monotonic() - started) * 1000), retrying=retrying)
        except states.TransitionRefused:
            pass  # taken over meanwhile: the other worker's attempt stands


def add_deliveries(session: Session, run: ReportRun) -> int:
    """A delivery per live subscription of the report's scope and kind of period; none twice."""
    kind = Period.parse(run.period).kind
    frequencies = [f for f, k in KIND_OF_FREQUENCY.items() if k == kind]
    subscriptions = session.scalars(select(Subscription).where(
        Subscription.scope_key == run.scope_key, Subscription.frequency.in_(frequencies),
        Subscription.cancelled_at.is_(None)).order_by(Subscription.id)).all()
    added = 0
    for subscription in subscriptions:
        new = session.scalar(insert(Delivery).values(
            report_id=run.id, subscription_id=subscription.id, email=subscription.email, scope_key=run.scope_key,
            period=run.period, status="pending", attempts=0, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["email", "scope_key", "period"]).returning(Delivery.id))
        added += new is not None
    return added


def deliver_pending(db: Database, settings: Settings, report_id: int | None = None) -> tuple[int, int]:
    """Send every pending delivery (of one report, or all); (sent, failed). Raises Transient if
    some are left to retry."""
    sent = failed = 0
    retry_later: list[str] = []
    with db.transaction() as session:
        query = select(Delivery.id).where(Delivery.status == "pending")
        if report_id is not None:
            query = query.where(Delivery.report_id == report_id)
        ids = list(session.scalars(query.order_by(Delivery.id)))
    for delivery_id in ids:
        try:
            if deliver_one(db, settings, delivery_id):
                sent += 1
        except mailer.MailFailed as error:
            failed += 1
            retry_later.append(str(error))
    if retry_later:
        raise Transient(f"{len(retry_later)} email(s) not accepted: {retry_later[0]}")
    return sent, failed


def deliver_one(db: Database, settings: Settings, delivery_id: int) -> bool:
    """Claim the delivery (no other worker sends it meanwhile), send it, mark it sent."""
    now = utcnow()
    with db.transaction() as session:
        claimed = session.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending",
                                   (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now))
            .values(lease_until=now + dt.timedelta(minutes=2), attempts=Delivery.attempts + 1)
            .returning(Delivery.attempts)).first()
        if claimed is None:
            return False
        delivery = session.get(Delivery, delivery_id)
        run = session.get(ReportRun, delivery.report_id)  # type: ignore[union-attr]
        assert delivery is not None and run is not None
        files = {f.format: f.content for f in session.scalars(
            select(ReportFile).where(ReportFile.report_id == run.id))}
        mail = mail_for(settings, run, delivery, files)
    try:
        where = mailer.send(settings, mail)
    except mailer.MailFailed as error:
        give_up = claimed.attempts >= MAX_DELIVERY_ATTEMPTS
        with db.transaction() as session:
            session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
                last_error=str(error)[:2000], lease_until=None, status="failed" if give_up else "pending"))
            _log_delivery(session, run, f"发送邮件至 {delivery.email} 失败（第 {claimed.attempts} 次，"
                                        f"{'不再重试' if give_up else '稍后重试'}）：{error}")
        if give_up:
            return False
        raise
    with db.transaction() as session:
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(
            status="sent", sent_at=utcnow(), lease_until=None, last_error=None))
        _log_delivery(session, run, f"已发送邮件至 {delivery.email}（{where}）")
    return True


def _log_delivery(session: Session, run: ReportRun, message: str) -> None:
    session.add(RunLog(report_id=run.id, at=utcnow(), from_status=run.status, to_status=run.status,
                       worker=states.worker_name(), message=message))


def mail_for(settings: Settings, run: ReportRun, delivery: Delivery, files: dict[str, bytes]) -> mailer.Mail:
    from services.reports.summary_text import summary_text

    summary = run.summary or {}
    subject = f"{summary.get('title') or '审计报告'}（报告 {run.id}）"
    body = summary_text(run, settings.public_url)
    attachments = tuple(mailer.attachment(run.id, run.period, run.scope_key, fmt, files[fmt])
                        for fmt in FORMATS if fmt in files)
    return mailer.Mail(to=delivery.email, subject=subject, body=body, attachments=attachments,
                       message_id=f"<report-{run.id}-delivery-{delivery.id}@charity-ledger>")


def sweep(db: Database, settings: Settings) -> list[int]:
    """Reports to send to a worker again: queued ones nobody picked up for a while (their task
    was lost), and running ones whose lease ran out (their worker died)."""
    now = utcnow()
    stale = now - dt.timedelta(seconds=max(settings.schedule_every_seconds, 30.0))
    with db.transaction() as session:
        return list(session.scalars(select(ReportRun.id).where(
            ((ReportRun.status == "queued") & (ReportRun.created_at < stale)
             & ~select(RunLog.id).where(RunLog.report_id == ReportRun.id, RunLog.at > stale).exists())
            | ((ReportRun.status == "running") & (ReportRun.lease_until < now))).order_by(ReportRun.id)))
