"""A report's states, the moves allowed between them, and the log every move appends to.

    queued --claim--> running --finish--> done
       ^                 |  \\--fail----> failed --requeue--> queued
       '---requeue-------'   (a transient error, or a run whose worker went
                              silent past its lease, is queued again)

A worker owns a running report until `lease_until`; it renews the lease as it
makes progress. Past the lease, any worker may take the report over: the
claim is one UPDATE, so two workers never both hold it. Every move is
conditional on the state it leaves (and, for the owner's moves, on still
owning it), so a worker that lost its report cannot finish it twice.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from services.reports.models import ReportRun, RunLog
from shared.db import utcnow

ALLOWED: dict[str, frozenset[str]] = {
    "queued": frozenset({"running"}),
    "running": frozenset({"done", "failed", "queued", "running"}),  # running -> running: taken over
    "done": frozenset(),
    "failed": frozenset({"queued"}),
}


class TransitionRefused(Exception):
    """The report is not in a state that allows the move (or is no longer this worker's)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claim:
    report_id: int
    worker: str
    attempt: int
    taken_over: str | None  # the worker whose lease had run out, if any


def log(session: Session, report_id: int, from_status: str | None, to_status: str, *,
        worker: str | None = None, duration_ms: int | None = None, message: str = "") -> None:
    session.execute(insert(RunLog).values(report_id=report_id, at=utcnow(), from_status=from_status,
                                          to_status=to_status, worker=worker, duration_ms=duration_ms,
                                          message=message))


def claim(session: Session, report_id: int, worker: str, lease: dt.timedelta) -> Claim | None:
    """Take a queued report, or a running one whose lease has run out; None if another holds it
    (or it is finished)."""
    now = utcnow()
    previous = session.execute(
        select(ReportRun.status, ReportRun.worker).where(ReportRun.id == report_id).with_for_update()).first()
    if previous is None:
        return None
    row = session.execute(
        update(ReportRun)
        .where(ReportRun.id == report_id,
               (ReportRun.status == "queued")
               | ((ReportRun.status == "running") & (ReportRun.lease_until < now)))
        .values(status="running", worker=worker, lease_until=now + lease, attempts=ReportRun.attempts + 1,
                started_at=func.coalesce(ReportRun.started_at, now), error=None)
        .returning(ReportRun.attempts)).first()
    if row is None:
        return None
    taken_over = previous.worker if previous.status == "running" else None
    log(session, report_id, previous.status, "running", worker=worker,
        message=(f"接管：原处理进程 {taken_over} 已超时无响应" if taken_over else "开始生成")
        + f"（第 {row.attempts} 次尝试）")
    return Claim(report_id, worker, row.attempts, taken_over)


def renew(session: Session, claim: Claim, lease: dt.timedelta, progress: int) -> bool:
    """The owner's sign of life: progress and a longer lease. False if the report is no longer its own."""
    result = session.execute(
        update(ReportRun).where(ReportRun.id == claim.report_id, ReportRun.status == "running",
                                ReportRun.worker == claim.worker)
        .values(lease_until=utcnow() + lease, progress=max(0, min(progress, 100))))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _owned_move(session: Session, claim: Claim, to_status: str, values: dict[str, object],
                duration_ms: int | None, message: str) -> None:
    assert to_status in ALLOWED["running"]
    result = session.execute(
        update(ReportRun).where(ReportRun.id == claim.report_id, ReportRun.status == "running",
                                ReportRun.worker == claim.worker)
        .values(status=to_status, **values))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise TransitionRefused(f"report {claim.report_id} is no longer {claim.worker}'s")
    log(session, claim.report_id, "running", to_status, worker=claim.worker, duration_ms=duration_ms,
        message=message)


def finish(session: Session, claim: Claim, *, summary: dict[str, object], heads: dict[str, object],
           previous_report_id: int | None, duration_ms: int, note: str = "") -> None:
    """Done; `note` says what the report could not include (a peer that did not answer)."""
    _owned_move(session, claim, "done", {
        "summary": summary, "heads": heads, "previous_report_id": previous_report_id, "progress": 100,
        "finished_at": utcnow(), "lease_until": None}, duration_ms, f"已完成（{note}）" if note else "已完成")


def fail(session: Session, claim: Claim, error: str, duration_ms: int, *, retrying: bool) -> None:
    """A failed attempt: queued again if it will be retried, else failed for good."""
    if retrying:
        _owned_move(session, claim, "queued", {"error": error, "worker": None, "lease_until": None},
                    duration_ms, f"第 {claim.attempt} 次尝试失败，稍后重试：{error}")
    else:
        _owned_move(session, claim, "failed", {"error": error, "finished_at": utcnow(), "lease_until": None},
                    duration_ms, f"失败：{error}")


def requeue_failed(session: Session, report_id: int, reason: str) -> bool:
    result = session.execute(update(ReportRun).where(ReportRun.id == report_id, ReportRun.status == "failed")
                             .values(status="queued", error=None, finished_at=None, progress=0))
    if result.rowcount:  # type: ignore[attr-defined]
        log(session, report_id, "failed", "queued", message=reason)
    return bool(result.rowcount)  # type: ignore[attr-defined]
