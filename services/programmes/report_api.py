"""The programmes' facts for audit reports: the internal API the reports service reads.

    POST /internal/v1/report-facts {period, organization_id?, fund_code?}

What the programmes did in a period (Asia/Shanghai), for a report's scope:

- projects: how many by status, their budget in force, what the ledger approved,
  reserved, paid and has left (its caps, asked once for every project), the
  milestones overdue at the period's end, and the public reports due (a project
  lasting more than 6 months reports quarterly; one ended within 3 months owes
  a full report: the disclosure calendar's rules, calendar.py);
- needs: posted in the period, claimed and fulfilled in it (the scope's claims),
  and the five needs open longest at its end;
- teams: their activities in the period, people helped, volunteers' hours, and
  what their projects raised (approved in the ledger) and spent (paid);
- drives: purchases in the period, quantities by unit (as decimal text), what
  the villages were paid and what it is in the books (exchange, charitable
  spending, donation of the difference), related-party purchases.

Scope: `organization_id` takes that organisation's projects, claims, teams (as a
member) and purchases (as the buyer); `fund_code` that fund's projects and
purchases, and its organisation's claims and teams (a claim names no fund);
neither, everything. Money is text ("1280.00"), hours and quantities too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import BigInteger, and_, cast, func, or_, select, true
from sqlalchemy.orm import Session

from services.programmes import calendar, drives, projects
from services.programmes.models import (
    Activity, AuditLog, Claim, Drive, Milestone, Need, Project, Purchase, Team, TeamMember, Village,
    VolunteerHours,
)
from services.programmes.rules import FULL_WITHIN_MONTHS, LIVE_CLAIM_STATUSES, PROJECT_STATUSES, organization_ref
from shared.api import json_body
from shared.auth import require_internal
from shared.contracts.funds import fund_code
from shared.dates import SHANGHAI, shanghai_date
from shared.db import db_session
from shared.errors import Problem
from shared.money import Money
from shared.periods import PERIOD_PATTERN, Period
from shared.shapes import Shape, Text, quantity_text, refuse_field

bp = Blueprint("programmes_report_api", __name__, url_prefix="/internal/v1")

OPEN_LONGEST = 5


def _period_known(values: dict[str, Any]) -> None:
    try:
        Period.parse(values["period"])
    except ValueError:
        raise refuse_field("period", "period_format") from None


REPORT_FACTS = Shape("ProgrammesReportFactsRequest", {
    "period": Text(max_length=7, min_length=4, pattern=PERIOD_PATTERN, pattern_code="period_format"),
    "organization_id": organization_ref(required=False, default=None, nullable=True),
    "fund_code": fund_code(required=False, default=None, nullable=True),
}, after=_period_known)


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


@bp.post("/report-facts")
def report_facts() -> Any:
    body = json_body(REPORT_FACTS)
    organization_id, code = body["organization_id"], body["fund_code"]
    if code is not None and organization_id is None:
        fund = current_app.extensions["funds"].fund(code)
        if fund is None:
            raise Problem("fund_not_found", fund_code=code)
        organization_id = fund.organization_id
    return jsonify(facts(db_session(), Period.parse(body["period"]), organization_id, code))


# -- the facts --------------------------------------------------------------------------------------

def _money(fen: int) -> str:
    return str(Money(fen))


def _hours(hours: Decimal) -> str:
    return str(Decimal(hours).quantize(Decimal("0.1")))


def _moments(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """The period as [start, end) moments in Shanghai."""
    start = dt.datetime.combine(period.first, dt.time(), SHANGHAI)
    return start, dt.datetime.combine(period.last + dt.timedelta(days=1), dt.time(), SHANGHAI)


def facts(session: Session, period: Period, organization_id: int | None, code: str | None) -> dict[str, Any]:
    start, end = _moments(period)
    scope_projects = select(Project).order_by(Project.code)
    if code is not None:
        scope_projects = scope_projects.where(Project.fund_code == code)
    elif organization_id is not None:
        scope_projects = scope_projects.where(Project.organization_id == organization_id)
    chosen = list(session.scalars(scope_projects))
    teams = list(session.scalars(select(Team).where(
        Team.id.in_(select(TeamMember.team_id).where(TeamMember.organization_id == organization_id))
        if organization_id is not None else true()).order_by(Team.id)))
    team_projects = list(session.scalars(select(Project).where(Project.team_id.in_([t.id for t in teams]))
                                         .order_by(Project.code))) if teams else []
    if code is not None:
        team_projects = [p for p in team_projects if p.fund_code == code]
    every = {p.id: p for p in chosen + team_projects}
    # One question to the ledger for every project's caps.
    shown = {f.project.id: f for f in projects.with_figures(session, list(every.values()), detail=False)}
    return {
        "period": period.label,
        "scope": {"organization_id": organization_id, "fund_code": code},
        "projects": _projects(session, period, end, [shown[p.id] for p in chosen]),
        "needs": _needs(session, period, start, end, organization_id),
        "teams": _teams(session, period, teams, team_projects, shown),
        "drives": _drives(session, period, organization_id, code),
    }


def _projects(session: Session, period: Period, end: dt.datetime,
              shown: list[projects.ProjectFigures]) -> dict[str, Any]:
    by_status = Counter(p.status for p in shown)
    ids = [p.project.id for p in shown]
    overdue = session.execute(
        select(Project.code, Project.name, Milestone.n, Milestone.name, Milestone.due_on, Milestone.instalment_fen)
        .join(Project, Project.id == Milestone.project_id)
        .where(Milestone.project_id.in_(ids), Project.status != "draft", Milestone.due_on <= period.last,
               Milestone.status != "cancelled",
               or_(Milestone.status != "accepted", Milestone.accepted_at >= end))
        .order_by(Milestone.due_on, Project.code, Milestone.n)).all() if ids else []
    # The disclosure calendar's rules (calendar.py), as they stood at the period's end.
    disclosure = []
    for p in shown:
        project = p.project
        ended_on = calendar.ended_on(project)
        if ended_on is not None and ended_on > period.last:
            ended_on = None  # it ended after the period: at the period's end it was running
        if project.status == "draft" or project.approved_at is None or shanghai_date(project.approved_at) > period.last:
            continue
        if ended_on is None and calendar.reports_progress(project):
            disclosure.append({"project_code": project.code, "name": project.name, "report": "quarterly",
                               "starts_on": project.starts_on.isoformat(), "ended_on": None})
        elif ended_on is not None and period.last < calendar.add_months(ended_on, FULL_WITHIN_MONTHS):
            disclosure.append({"project_code": project.code, "name": project.name, "report": "full",
                               "starts_on": project.starts_on.isoformat(), "ended_on": ended_on.isoformat()})
    return {
        "count": len(shown),
        "by_status": {status: by_status.get(status, 0) for status in PROJECT_STATUSES},
        "budget": _money(sum(p.budget_fen for p in shown)),
        "approved": _money(sum(p.approved_fen for p in shown)),
        "reserved": _money(sum(p.reserved_fen for p in shown)),
        "paid": _money(sum(p.paid_fen for p in shown)),
        "remaining": _money(sum(p.remaining_fen for p in shown)),
        "items": [{"project_code": p.code, "name": p.name, "fund_code": p.fund_code,
                   "organization_id": p.organization_id, "status": p.status, "budget": _money(p.budget_fen),
                   "approved": _money(p.approved_fen), "reserved": _money(p.reserved_fen),
                   "paid": _money(p.paid_fen), "remaining": _money(p.remaining_fen)} for p in shown],
        "milestones_overdue": [{"project_code": row[0], "project_name": row[1], "n": row[2], "milestone": row[3],
                                "due_on": row[4].isoformat(), "days_overdue": (period.last - row[4]).days,
                                "instalment": _money(row[5])} for row in overdue],
        "disclosure_due": disclosure,
    }


def _needs(session: Session, period: Period, start: dt.datetime, end: dt.datetime,
           organization_id: int | None) -> dict[str, Any]:
    in_period = and_(Need.created_at >= start, Need.created_at < end)
    posted = session.execute(select(func.count(Need.id), func.coalesce(func.sum(Need.amount_fen), 0))
                             .where(in_period)).one()
    claims = select(func.count(Claim.id), func.coalesce(func.sum(Claim.amount_fen), 0),
                    func.count(func.distinct(Claim.need_id)))
    mine = Claim.organization_id == organization_id if organization_id is not None else true()
    claimed = session.execute(claims.where(mine, Claim.created_at >= start, Claim.created_at < end,
                                           Claim.status.in_(LIVE_CLAIM_STATUSES))).one()
    # When a claim was fulfilled: its audit entry (a claim's row keeps only its last change).
    fulfilled_at = (select(cast(func.substr(AuditLog.subject, 7), BigInteger))
                    .where(AuditLog.action == "claim.fulfil", AuditLog.subject.like("claim:%"),
                           AuditLog.at >= start, AuditLog.at < end))
    fulfilled = session.execute(claims.where(mine, Claim.status == "fulfilled", Claim.id.in_(fulfilled_at))).one()
    oldest = session.execute(
        select(Need, Village.name, Village.township).join(Village, Village.id == Need.village_id)
        .where(Need.status == "open", Need.created_at < end).order_by(Need.created_at, Need.id)
        .limit(OPEN_LONGEST)).all()
    return {
        "posted": {"count": int(posted[0]), "amount": _money(int(posted[1]))},
        "claimed": {"count": int(claimed[0]), "amount": _money(int(claimed[1])), "needs": int(claimed[2])},
        "fulfilled": {"count": int(fulfilled[0]), "amount": _money(int(fulfilled[1])), "needs": int(fulfilled[2])},
        "open_longest": [{"need_id": need.id, "village": name, "township": township, "title": need.title,
                          "category": need.category, "amount": _money(need.amount_fen),
                          "open": _money(need.amount_fen - need.pledged_fen),
                          "posted_on": shanghai_date(need.created_at).isoformat(),
                          "days_open": max(0, (period.last - shanghai_date(need.created_at)).days)}
                         for need, name, township in oldest],
    }


def _teams(session: Session, period: Period, teams: list[Team], team_projects: list[Project],
           shown: dict[int, projects.ProjectFigures]) -> dict[str, Any]:
    ids = [team.id for team in teams]
    tallies: dict[int, tuple[int, int, Decimal]] = {}
    if ids:
        hours = (select(VolunteerHours.activity_id, func.sum(VolunteerHours.hours).label("hours"))
                 .group_by(VolunteerHours.activity_id).subquery())
        for team_id, count, people, volunteer_hours in session.execute(
                select(Activity.team_id, func.count(Activity.id), func.coalesce(func.sum(Activity.people_helped), 0),
                       func.coalesce(func.sum(hours.c.hours), 0))
                .outerjoin(hours, hours.c.activity_id == Activity.id)
                .where(Activity.team_id.in_(ids), Activity.on.between(period.first, period.last))
                .group_by(Activity.team_id)):
            tallies[team_id] = (int(count), int(people), Decimal(volunteer_hours))
    items = []
    for team in teams:
        count, people, volunteer_hours = tallies.get(team.id, (0, 0, Decimal(0)))
        own = [shown[p.id] for p in team_projects if p.team_id == team.id]
        items.append({"team_id": team.id, "name": team.name, "activities": count, "people_helped": people,
                      "volunteer_hours": volunteer_hours, "projects": len(own),
                      "raised_fen": sum(p.reserved_fen + p.paid_fen for p in own),
                      "spent_fen": sum(p.paid_fen for p in own)})
    return {
        "count": len(items),
        "activities": sum(i["activities"] for i in items),
        "people_helped": sum(i["people_helped"] for i in items),
        "volunteer_hours": _hours(sum((i["volunteer_hours"] for i in items), Decimal(0))),
        "raised": _money(sum(i["raised_fen"] for i in items)),
        "spent": _money(sum(i["spent_fen"] for i in items)),
        "items": [{**{k: v for k, v in i.items() if not k.endswith("_fen")},
                   "volunteer_hours": _hours(i["volunteer_hours"]), "raised": _money(i["raised_fen"]),
                   "spent": _money(i["spent_fen"])} for i in items],
    }


def _drives(session: Session, period: Period, organization_id: int | None, code: str | None) -> dict[str, Any]:
    where = [Purchase.purchased_on.between(period.first, period.last)]
    if code is not None:
        where.append(Purchase.fund_code == code)
    elif organization_id is not None:
        where.append(Purchase.organization_id == organization_id)
    by_unit = drives._sums(session, Drive.unit, and_(*where))
    units = sorted(by_unit.items())

    def total(name: str) -> int:
        return sum(sums[name] for _, sums in units)

    return {
        "purchases": total("purchases"),
        "by_unit": [{"unit": unit, "quantity": quantity_text(sums["bought"]), "purchases": sums["purchases"],
                     "paid_to_village": _money(sums["paid_to_village_fen"])} for unit, sums in units],
        "paid_to_village": _money(total("paid_to_village_fen")),
        "exchange": _money(total("exchange_fen")),
        "charitable_spending": _money(total("charitable_spending_fen")),
        "donation_of_difference": _money(total("donation_of_difference_fen")),
        "related_party": total("related_party_count"),
    }
