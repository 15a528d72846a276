"""Which scheduled reports are due, and asking for them. Beat runs this every few minutes.

For every live subscription, the latest period of its frequency that has
ended by the moment (in Asia/Shanghai, from 02:00 on the day after it: API.md)
is due; if its scope has no scheduled report for that period yet, one is
queued (emailed to the scope's subscribers when done). Several subscriptions
of one scope and period make one report. The same check runs on demand:

    python -m services.reports.schedule --at 2026-10-01T02:05+08:00

does what beat would do at that moment, once: a missed night is caught up
by naming it, and tests move the clock this way. `--build-here` also builds
and emails the reports in this process instead of sending them to a worker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.reports.models import ReportRun, RunLog, Subscription
from shared.dates import shanghai_date
from shared.db import Database, utcnow
from shared.periods import KIND_OF_FREQUENCY, Period


@dataclass(frozen=True)
class Due:
    scope_key: str
    organization_id: int | None
    fund_code: str | None
    period: Period


def latest_ended(kind: str, moment: dt.datetime) -> Period:
    """The latest period of `kind` whose report is due at `moment`."""
    period = Period.containing(shanghai_date(moment), kind)
    while period.due_at() > moment:
        period = period.previous
    return period


def due(session: Session, moment: dt.datetime) -> list[Due]:
    found: dict[tuple[str, str], Due] = {}
    for subscription in session.scalars(select(Subscription).where(Subscription.cancelled_at.is_(None))
                                        .order_by(Subscription.id)):
        period = latest_ended(KIND_OF_FREQUENCY[subscription.frequency], moment)
        found.setdefault((subscription.scope_key, period.label), Due(
            subscription.scope_key, subscription.organization_id, subscription.fund_code, period))
    if not found:
        return []
    scheduled = {(scope_key, label) for scope_key, label in session.execute(
        select(ReportRun.scope_key, ReportRun.period).where(
            ReportRun.trigger == "schedule", ReportRun.period.in_({label for _, label in found})))}
    return [d for key, d in sorted(found.items()) if key not in scheduled]


def fan_out(db: Database, moment: dt.datetime) -> list[int]:
    """Queue the due reports (each once, also when two beats or commands run at once); their ids."""
    queued = []
    with db.transaction() as session:
        for item in due(session, moment):
            new_id = session.scalar(insert(ReportRun).values(
                scope_key=item.scope_key, organization_id=item.organization_id, fund_code=item.fund_code,
                period=item.period.label, trigger="schedule", notify=True, status="queued", progress=0,
                attempts=0, requested_by="schedule", owner_organization_id=item.organization_id,
                created_at=utcnow()).on_conflict_do_nothing().returning(ReportRun.id))
            if new_id is not None:
                session.add(RunLog(report_id=new_id, at=utcnow(), to_status="queued",
                                   message=f"定期报告：{item.period.label} 已结束（检查时间 {moment.isoformat()}）"))
                queued.append(new_id)
    return queued


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Queue the scheduled reports due at a moment (default: now).")
    parser.add_argument("--at", type=dt.datetime.fromisoformat,
                        help="the moment, ISO 8601 with an offset, e.g. 2026-10-01T02:05+08:00")
    parser.add_argument("--build-here", action="store_true",
                        help="build and email them in this process rather than on a worker")
    args = parser.parse_args(argv)
    moment = args.at or utcnow()
    if moment.tzinfo is None:
        parser.error("--at needs an offset, e.g. 2026-10-01T02:05+08:00")

    from services.reports import create_app
    from shared.config import load_settings
    from shared.postgres import database_or_embedded

    settings = load_settings()
    # Under `make run` without DATABASE_URL: the same embedded server, under var/pg.
    with database_or_embedded(settings.database_url, settings.var_dir / "pg") as url:
        return queue_due(create_app({"DATABASE_URL": url}), moment, build_here=args.build_here)


def queue_due(app: Any, moment: dt.datetime, *, build_here: bool = False) -> int:
    """What beat does at `moment`, once: queue the due reports and hand them to a worker
    (or build them here)."""
    from services.reports import tasks  # tasks imports this module

    with app.app_context():
        db: Database = app.extensions["database"]
        ids = fan_out(db, moment)
        print(f"{moment.isoformat()}: {len(ids)} report(s) due" + (f": {', '.join(map(str, ids))}" if ids else ""))
        for report_id in ids:
            if build_here:
                outcome = tasks.build_and_deliver(app, report_id)
                print(f"  report {report_id}: {outcome}")
            else:
                tasks.build_report.delay(report_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
