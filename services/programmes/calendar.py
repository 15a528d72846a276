"""The disclosure calendar: what each organisation must publish, by when, and what it has.

The Charity Law (2023) and the Ministry's disclosure order (No. 81, in force
since 2026-01-01) set the dates (rules.py, "the disclosure calendar"):

- `progress`: a project running more than six months (its end more than six
  months after its start) discloses its progress every three months from its
  start, while it runs (subject: its code; its quarters differ by date);
- `full`: every approved project, its full account three months after its end
  (its planned end, or the day it was stopped or closed if earlier);
- `leftover`: a closed project with money left over, where it went, three
  months after the close (the leftover is what the close recorded);
- `annual_report`: an organisation's report of a year, by 31 May of the next
  (subject: the year);
- `related_party`: a purchase from a seller related to the buyer, within 30
  days of it (subject: the purchase's id);
- `claim_reminder`: a claim pledged or in progress whose date is within 14
  days (subject: the claim's id): a reminder, nothing to publish; a claim
  past its date expires (needs.expire_claims) and frees its share.

An item is `done` once its publication is recorded (DisclosureRecord), else
`late` past its date, `due_soon` within 14 days, else `upcoming`. Nothing here
asks the ledger: the calendar is cheap enough for every landing page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.programmes import organizations
from services.programmes.models import AuditLog, Claim, DisclosureRecord, Drive, Project, Purchase
from services.programmes.rules import (
    ANNUAL_REPORT_DUE, DUE_SOON_DAYS, FULL_WITHIN_MONTHS, LEFTOVER_WITHIN_MONTHS, PROGRESS_AFTER_MONTHS,
    PROGRESS_EVERY_MONTHS, RELATED_PARTY_DISCLOSURE_DAYS,
)
from shared import audit
from shared.auth import Principal
from shared.dates import shanghai_date
from shared.errors import Problem
from shared.money import Money

# The projects whose money was approved (a draft owes nothing).
DISCLOSED_PROJECT_STATUSES = ("approved", "in_progress", "closing", "complete", "stopped")
ENDED = ("complete", "stopped")
REMINDED_CLAIM_STATUSES = ("pledged", "in_progress")
# The order of a calendar's statuses on a page: what is late first.
STATUS_ORDER = {"late": 0, "due_soon": 1, "upcoming": 2, "done": 3}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` months later (that month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    following = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return dt.date(year, month + 1, min(day.day, (following - dt.timedelta(days=1)).day))


@dataclass
class Item:
    """One thing an organisation must publish (or do) by a date."""

    organization_id: int
    kind: str
    subject: str
    due_on: dt.date
    name: str = ""  # the project's name, the drive's product, the need's title
    number: int | None = None  # a progress disclosure's place (1, 2, ...)
    amount_fen: int | None = None  # a leftover's amount
    need_id: int | None = None  # a claim's need
    status: str = "upcoming"
    record: DisclosureRecord | None = None

    @property
    def key(self) -> tuple[int, str, str, dt.date]:
        return self.organization_id, self.kind, self.subject, self.due_on

    @property
    def markable(self) -> bool:
        """Whether publishing it is recorded here (a claim's reminder is not)."""
        return self.kind != "claim_reminder"

    @property
    def title(self) -> str:
        """The item in English (the pages word it in the reader's language)."""
        if self.kind == "progress":
            return f"Progress disclosure {self.number} of project {self.subject} ({self.name})"
        if self.kind == "full":
            return f"Full disclosure of project {self.subject} ({self.name}) after its end"
        if self.kind == "leftover":
            return (f"Where the {Money(self.amount_fen or 0)} CNY left over of project {self.subject} "
                    f"({self.name}) went")
        if self.kind == "annual_report":
            return f"Annual report {self.subject}"
        if self.kind == "related_party":
            return f"Related-party purchase #{self.subject} ({self.name})"
        return f"Claim #{self.subject} on need {self.need_id} ({self.name}) is due"

    @property
    def public_path(self) -> str | None:
        """Where the public sees what was published (a project's public page), once it is done."""
        if self.status == "done" and self.kind in ("progress", "full", "leftover"):
            return f"/programmes/public/projects/{self.subject}"
        return None

    @property
    def published_at(self) -> dt.datetime | None:
        return self.record.published_at if self.record else None

    @property
    def published_by(self) -> str | None:
        return self.record.published_by if self.record else None

    @property
    def note(self) -> str | None:
        return self.record.note if self.record else None


def ended_on(project: Project) -> dt.date | None:
    """The day a complete or stopped project ended (Shanghai); None while it runs."""
    ended_at = project.closed_at or project.stopped_at
    return shanghai_date(ended_at) if project.status in ENDED and ended_at is not None else None


def reports_progress(project: Project) -> bool:
    """Whether the project runs long enough to disclose its progress every three months."""
    return project.ends_on > add_months(project.starts_on, PROGRESS_AFTER_MONTHS)


def _project_items(session: Session, organizations: set[int] | None) -> list[Item]:
    query = select(Project).where(Project.status.in_(DISCLOSED_PROJECT_STATUSES)).order_by(Project.code)
    if organizations is not None:
        query = query.where(Project.organization_id.in_(organizations))
    chosen = list(session.scalars(query))
    leftovers = _leftovers(session, [p.code for p in chosen if p.status == "complete"])
    items = []
    for project in chosen:
        ended = ended_on(project)
        end = min(project.ends_on, ended) if ended is not None else project.ends_on
        common = {"organization_id": project.organization_id, "subject": project.code, "name": project.name}
        if reports_progress(project):
            number = 1
            while (due := add_months(project.starts_on, PROGRESS_EVERY_MONTHS * number)) < end:
                items.append(Item(kind="progress", due_on=due, number=number, **common))
                number += 1
        items.append(Item(kind="full", due_on=add_months(end, FULL_WITHIN_MONTHS), **common))
        leftover = leftovers.get(project.code, 0)
        if project.status == "complete" and ended is not None and leftover > 0:
            items.append(Item(kind="leftover", due_on=add_months(ended, LEFTOVER_WITHIN_MONTHS),
                              amount_fen=leftover, **common))
    return items


def _leftovers(session: Session, codes: list[str]) -> dict[str, int]:
    """What each closed project had left over, as its close recorded it (in its audit entry)."""
    if not codes:
        return {}
    found = {}
    for subject, details in session.execute(select(AuditLog.subject, AuditLog.details).where(
            AuditLog.action == "project.close", AuditLog.subject.in_([f"project:{code}" for code in codes]))):
        found[subject.removeprefix("project:")] = Money.parse(str(details.get("leftover") or "0.00")).fen
    return found


def _purchase_items(session: Session, organizations: set[int] | None) -> list[Item]:
    query = (select(Purchase, Drive.product).join(Drive, Drive.id == Purchase.drive_id)
             .where(Purchase.related_party.is_(True)).order_by(Purchase.id))
    if organizations is not None:
        query = query.where(Purchase.organization_id.in_(organizations))
    return [Item(organization_id=purchase.organization_id, kind="related_party", subject=str(purchase.id),
                 name=product, due_on=purchase.purchased_on + dt.timedelta(days=RELATED_PARTY_DISCLOSURE_DAYS))
            for purchase, product in session.execute(query)]


def _claim_items(session: Session, organizations: set[int] | None, on: dt.date) -> list[Item]:
    query = (select(Claim).where(Claim.status.in_(REMINDED_CLAIM_STATUSES),
                                 Claim.due_on <= on + dt.timedelta(days=DUE_SOON_DAYS)).order_by(Claim.id))
    if organizations is not None:
        query = query.where(Claim.organization_id.in_(organizations))
    return [Item(organization_id=claim.organization_id, kind="claim_reminder", subject=str(claim.id),
                 name=claim.need.title, need_id=claim.need_id, due_on=claim.due_on)
            for claim in session.scalars(query)]


def _annual_items(organizations: set[int], on: dt.date) -> list[Item]:
    """Each organisation's report of last year (due by 31 May this year) and of this year (by 31 May next)."""
    month, day = ANNUAL_REPORT_DUE
    return [Item(organization_id=organization_id, kind="annual_report", subject=str(year),
                 due_on=dt.date(year + 1, month, day))
            for organization_id in sorted(organizations) for year in (on.year - 1, on.year)]


def _status(item: Item, on: dt.date) -> str:
    if item.record is not None:
        return "done"
    if item.due_on < on:
        return "late"
    if (item.due_on - on).days <= DUE_SOON_DAYS:
        return "due_soon"
    return "upcoming"


def calendar(session: Session, organizations: set[int] | None, on: dt.date) -> list[Item]:
    """Every item of these organisations' calendars (None: every organisation's), by date."""
    items = _project_items(session, organizations) + _purchase_items(session, organizations)
    records_query = select(DisclosureRecord)
    if organizations is not None:
        records_query = records_query.where(DisclosureRecord.organization_id.in_(organizations))
    records = {(r.organization_id, r.kind, r.subject, r.due_on): r for r in session.scalars(records_query)}
    # The annual report is every organisation's: of those named, or of those the programmes know.
    annual = set(organizations) if organizations is not None else (
        {item.organization_id for item in items} | {key[0] for key in records}
        | set(session.scalars(select(Claim.organization_id).distinct())))
    items += _annual_items(annual, on) + _claim_items(session, organizations, on)
    for item in items:
        item.record = records.get(item.key) if item.markable else None
        item.status = _status(item, on)
    items.sort(key=lambda item: (item.due_on, item.organization_id, item.kind, item.subject))
    return items


def visible(session: Session, actor: Principal, on: dt.date, *, organization_id: int | None = None,
            date_from: dt.date | None = None, date_to: dt.date | None = None, status: str | None = None,
            kind: str | None = None) -> list[Item]:
    """The calendar the caller may read: its organisation's (admins and auditors: one or every one)."""
    if organization_id is not None and not actor.may_read(organization_id):
        return []  # another organisation's calendar: nothing of it is shown
    if organization_id is not None:
        organizations: set[int] | None = {organization_id}
    else:
        organizations = None if actor.sees_all_organizations else {actor.organization_id}
    return [item for item in calendar(session, organizations, on)
            if (date_from is None or item.due_on >= date_from) and (date_to is None or item.due_on <= date_to)
            and (status is None or item.status == status) and (kind is None or item.kind == kind)]


def attention(session: Session, organization_id: int | None, on: dt.date) -> dict[str, int]:
    """How many of an organisation's items are late and due soon (its landing page warns of them)."""
    counts = {"late": 0, "due_soon": 0}
    if organization_id is None:
        return counts
    for item in calendar(session, {organization_id}, on):
        if item.status in counts:
            counts[item.status] += 1
    return counts


def record_published(session: Session, actor: Principal, data: dict[str, Any], on: dt.date) -> Item:
    """Record that an item of the organisation's calendar was published: it is then done."""
    organization_id = organizations.acting(actor, data.get("organization_id"))
    wanted = (organization_id, data["kind"], data["subject"], data["due_on"])
    item = next((item for item in calendar(session, {organization_id}, on) if item.key == wanted), None)
    if item is None:
        raise Problem.field("subject", "disclosure_not_on_calendar", kind=data["kind"], subject=data["subject"],
                            due_on=data["due_on"].isoformat())
    if item.record is not None:
        raise Problem("disclosure_already_recorded", kind=item.kind, subject=item.subject,
                      due_on=item.due_on.isoformat())
    record = DisclosureRecord(organization_id=organization_id, kind=item.kind, subject=item.subject,
                              due_on=item.due_on, published_by=actor.actor, note=data.get("note") or "")
    session.add(record)
    session.flush()
    audit.record(session, AuditLog, actor, "disclosure.publish", f"disclosure:{record.id}", {
        "organization_id": organization_id, "kind": item.kind, "subject": item.subject,
        "due_on": item.due_on.isoformat(), "note": record.note})
    item.record, item.status = record, "done"
    return item
