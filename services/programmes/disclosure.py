"""What the public sees of the programmes and the funds that pay for them (公开).

Each public view is assembled here once, as JSON-ready data (money as text),
from this service's tables read through the areas' domain modules (needs,
projects, teams, drives), the ledger's public answers
(services/donations/disclosure_api.py) and the funds service (a fund's name
and purpose, organisations' names). The public JSON is this data; the public
pages render it. Every record goes through shared.disclosure.public_only:
what is not PUBLIC or PSEUDONYMOUS never leaves.

A draft project is not public (404). A volunteer is never named: a team shows
its activities' counts and hours. A claim's notes, a milestone's report, why a
project stopped and why a donation was reversed stay with the organisations.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.programmes import drives, needs, organizations, projects, teams, web_reads
from services.programmes.models import Claim, Drive, Project, Team, TeamVillage
from services.programmes.rules import LIVE_CLAIM_STATUSES, PROJECT_CODE_PATTERN
from shared.contracts.funds import FUND_CODE_PATTERN
from shared.dates import shanghai_date
from shared.db import MAX_ID
from shared.disclosure import public_only
from shared.errors import Problem
from shared.money import Money
from shared.peers import peers
from shared.shapes import quantity_text

# What the public lists show at most (the newest first).
LAST = 50
HIDDEN_PROJECT_STATUSES = ("draft",)
FUND_CODE = re.compile(FUND_CODE_PATTERN)
PROJECT_CODE = re.compile(PROJECT_CODE_PATTERN)


def _money(fen: int) -> str:
    return str(Money(fen))


def _day(moment: dt.datetime | None) -> str | None:
    return shanghai_date(moment).isoformat() if moment is not None else None


# -- funds -------------------------------------------------------------------------------------------

def fund_view(session: Session, code: str) -> dict[str, Any]:
    """A fund: its purpose, what it received and spent by month, corrections, its last donations (an
    anonymous donor as 匿名) and payments (an individual under a pseudonym), the projects it pays for."""
    info = current_app.extensions["funds"].fund(code) if FUND_CODE.fullmatch(code) else None
    if info is None:
        raise Problem("fund_not_found", fund_code=code)
    ledger = peers().answer("donations", "GET", f"/internal/v1/public/funds/{quote(code, safe='')}") or {}
    shown = public_only("fund", {"code": info.code, "name": info.name, "purpose": info.purpose,
                                 "restricted": info.restricted, "status": info.status,
                                 "organization": organizations.name(info.organization_id)})
    rows = list(session.scalars(select(Project).where(Project.fund_code == info.code,
                                                      Project.status.not_in(HIDDEN_PROJECT_STATUSES))
                                .order_by(Project.id.desc()).limit(LAST)))
    return {**shown, "months": ledger.get("months", []), "totals": ledger.get("totals", {}),
            "donations": [public_only("donation", d) for d in ledger.get("donations", [])],
            "corrections": [public_only("correction", c) for c in ledger.get("corrections", [])],
            "disbursements": [public_only("disbursement", b) for b in ledger.get("disbursements", [])],
            "projects": [_project_summary(p) for p in projects.with_figures(session, rows, detail=False)]}


def fund_list() -> list[dict[str, Any]]:
    found = peers().answer("funds", "GET", "/internal/v1/funds") or {}
    return [public_only("fund", {"code": f["code"], "name": f["name"], "organization": f.get("organization_name"),
                                 "status": f["status"]}) for f in found.get("funds", [])]


# -- projects ----------------------------------------------------------------------------------------

def _project_summary(figures: projects.ProjectFigures) -> dict[str, Any]:
    return public_only("project", {
        "code": figures.code, "name": figures.name, "status": figures.status, "fund_code": figures.fund_code,
        "organization": organizations.name(figures.organization_id), "budget": _money(figures.budget_fen),
        "paid": _money(figures.paid_fen), "percent_of_plan": figures.percent_of_plan})


def _public_project(session: Session, code: str) -> Project:
    project = session.scalar(select(Project).where(Project.code == code)) if PROJECT_CODE.fullmatch(code) else None
    if project is None or project.status in HIDDEN_PROJECT_STATUSES:
        raise Problem("project_not_found", code=code)
    return project


def _timeline(figures: projects.ProjectFigures) -> list[dict[str, Any]]:
    """What happened to the project, by day: approved, each milestone reported and accepted, stopped,
    closed (dates only; the reports and the reasons are the organisations')."""
    events: list[dict[str, Any]] = []
    if figures.approved_at is not None:
        events.append({"on": _day(figures.approved_at), "event": "approved", "milestone": None})
    for milestone in figures.milestones:
        if milestone.reported_at is not None:
            events.append({"on": _day(milestone.reported_at), "event": "milestone_reported",
                           "milestone": milestone.name})
        if milestone.accepted_at is not None:
            events.append({"on": _day(milestone.accepted_at), "event": "milestone_accepted",
                           "milestone": milestone.name})
    if figures.stopped_at is not None:
        events.append({"on": _day(figures.stopped_at), "event": "stopped", "milestone": None})
    if figures.closed_at is not None:
        events.append({"on": _day(figures.closed_at), "event": "closed", "milestone": None})
    return sorted(events, key=lambda event: event["on"])


def project_view(session: Session, code: str) -> dict[str, Any]:
    project = _public_project(session, code)
    figures = projects.with_figures(session, [project], detail=False)[0]
    paid = peers().answer("donations", "GET",
                          f"/internal/v1/public/projects/{quote(project.code, safe='')}/months") or {}
    village = project.village
    team = session.get(Team, project.team_id) if project.team_id is not None else None
    return public_only("project", {
        **_project_summary(figures),
        "description": project.description,
        "village": {"id": village.id, "name": village.name, "township": village.township} if village else None,
        "team": {"id": team.id, "name": team.name} if team else None,
        "starts_on": project.starts_on.isoformat(), "ends_on": project.ends_on.isoformat(),
        "approved_on": _day(project.approved_at), "stopped_on": _day(project.stopped_at),
        "closed_on": _day(project.closed_at),
        "lines": [public_only("budget_line", {"name": line.name, "amount": _money(line.amount_fen),
                                              "paid": _money(line.paid_fen), "percent_of_plan": line.percent_of_plan})
                  for line in figures.lines],
        "milestones": [public_only("milestone", {
            "n": m.n, "name": m.name, "due_on": m.due_on.isoformat(), "instalment": _money(m.instalment_fen),
            "status": m.status, "reported_on": _day(m.reported_at), "accepted_on": _day(m.accepted_at)})
            for m in figures.milestones],
        "months": paid.get("months", []),
        "timeline": _timeline(figures),
    })


def project_list(session: Session) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(Project).where(Project.status.not_in(HIDDEN_PROJECT_STATUSES))
                                .order_by(Project.id.desc()).limit(LAST)))
    return [_project_summary(p) for p in projects.with_figures(session, rows, detail=False)]


# -- villages ----------------------------------------------------------------------------------------

def _claims(session: Session, need_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {need_id: [] for need_id in need_ids}
    if need_ids:
        for claim in session.scalars(select(Claim).where(Claim.need_id.in_(need_ids),
                                                         Claim.status.in_(LIVE_CLAIM_STATUSES)).order_by(Claim.id)):
            found[claim.need_id].append(public_only("claim", {
                "organization": organizations.name(claim.organization_id), "amount": _money(claim.amount_fen),
                "status": claim.status, "signed_off": claim.signed_off_at is not None}))
    return found


def _team_tallies(session: Session, team_rows: list[Team], village_id: int | None = None) -> list[dict[str, Any]]:
    shown = []
    for view in teams.with_figures(session, team_rows):
        tallies = [v for v in view.villages if village_id is None or v.village_id == village_id]
        activities = sum(t.activities for t in tallies)
        people = sum(t.people_helped for t in tallies)
        hours = sum((t.volunteer_hours for t in tallies), Decimal(0))
        shown.append({"id": view.id, "name": view.name, "activities": activities, "people_helped": people,
                      "volunteer_hours": quantity_text(hours)})
    return shown


def _drives(session: Session, village_id: int) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(Drive).where(Drive.village_id == village_id).order_by(Drive.id.desc())
                                .limit(LAST)))
    return [public_only("drive", {
        "id": d.id, "name": d.name, "organization": organizations.name(d.organization_id), "product": d.product,
        "unit": d.unit, "unit_price": _money(d.unit_price_fen), "quantity": quantity_text(d.quantity),
        "purchased": quantity_text(d.bought) if d.bought else "0", "paid": _money(d.paid_to_village_fen),
        "status": d.status, "seller": d.seller}) for d in drives.with_figures(session, rows)]


def village_view(session: Session, village_id: int) -> dict[str, Any]:
    village = needs.get_village(session, village_id)
    need_rows = needs.with_figures(session, list(session.scalars(needs.need_query(village_id=village.id)
                                                                 .limit(LAST))))
    claims = _claims(session, [n.id for n in need_rows])
    project_rows = list(session.scalars(select(Project).where(Project.village_id == village.id,
                                                              Project.status.not_in(HIDDEN_PROJECT_STATUSES))
                                        .order_by(Project.id.desc()).limit(LAST)))
    team_rows = list(session.scalars(select(Team).where(Team.id.in_(
        select(TeamVillage.team_id).where(TeamVillage.village_id == village.id))).order_by(Team.id)))
    return public_only("village", {
        "id": village.id, "name": village.name, "township": village.township, "weak": village.weak,
        "needs": [public_only("need", {
            "id": n.id, "title": n.title, "category": n.category, "amount": _money(n.amount_fen),
            "pledged": _money(n.pledged_fen), "paid": _money(n.paid_fen), "open": _money(n.open_fen),
            "status": n.status, "due_on": n.due_on.isoformat(), "priority": n.priority, "claims": claims[n.id],
            "quantity": None if n.quantity is None else quantity_text(n.quantity), "unit": n.unit,
            "signed_off": _money(n.signed_off_fen)})
            for n in need_rows],
        "projects": [_project_summary(p) for p in projects.with_figures(session, project_rows, detail=False)],
        "teams": _team_tallies(session, team_rows, village.id),
        "drives": _drives(session, village.id),
    })


def village_list(session: Session) -> list[dict[str, Any]]:
    return [public_only("village", {"id": v.id, "name": v.name, "township": v.township, "weak": v.weak})
            for v in web_reads.villages(session)]


# -- teams -------------------------------------------------------------------------------------------

def team_view(session: Session, team_id: int) -> dict[str, Any]:
    team = session.get(Team, team_id) if 0 < team_id <= MAX_ID else None
    if team is None:
        raise Problem("team_not_found", id=team_id)
    view = teams.with_figures(session, [team])[0]
    activities = teams.with_volunteers(session, list(session.scalars(teams.activity_query(team).limit(LAST))))
    village_names = {v.village_id: v.name for v in view.villages}
    shown_projects = [p for p in view.projects if p.status not in HIDDEN_PROJECT_STATUSES]
    return public_only("team", {
        "id": team.id, "name": team.name,
        "members": [public_only("team_member", {"organization": organizations.name(m.organization_id), "role": m.role})
                    for m in view.members],
        "villages": [{"id": v.village_id, "name": v.name, "township": v.township, "activities": v.activities,
                      "people_helped": v.people_helped, "volunteer_hours": quantity_text(v.volunteer_hours)}
                     for v in view.villages],
        "totals": {"activities": view.totals.activities, "people_helped": view.totals.people_helped,
                   "volunteer_hours": quantity_text(view.totals.volunteer_hours),
                   "approved": _money(sum(p.approved_fen for p in shown_projects)),
                   "paid": _money(sum(p.paid_fen for p in shown_projects))},
        "projects": [{"code": p.code, "name": p.name, "status": p.status, "fund_code": p.fund_code,
                      "approved": _money(p.approved_fen), "paid": _money(p.paid_fen)} for p in shown_projects],
        "activities": [public_only("activity", {
            "on": a.on.isoformat(), "village": village_names.get(a.village_id, ""), "kind": a.kind,
            "people_helped": a.people_helped, "volunteers": len(a.volunteers),
            "volunteer_hours": quantity_text(a.volunteer_hours)}) for a in activities],
    })


def team_list(session: Session) -> list[dict[str, Any]]:
    return [{"id": team.id, "name": team.name}
            for team in session.scalars(select(Team).order_by(Team.id.desc()).limit(LAST))]

