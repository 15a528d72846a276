"""Assistance teams (1+N): a lead organisation and its members, paired with weak villages.

A team is seen by its members' keys (and the federation's admins and
auditors); to anyone else it does not exist. Its members record its
activities in its villages: what was done, how many people it helped, and
which volunteers gave how many hours. A team shows what its activities add
up to, in all and per village, and the money its projects (Project.team_id)
were approved (their budget lines' caps in the ledger) and paid: what it raised and spent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.programmes import organizations
from services.programmes import projects as projects_module
from services.programmes.models import (
    Activity, AuditLog, Project, Team, TeamMember, TeamVillage, Village, VolunteerHours,
)
from shared import audit
from shared.auth import Principal
from shared.db import MAX_ID
from shared.errors import Problem
from shared.refusals import Message


def _by_id(session: Session, model: Any, row_id: int) -> Any:
    return session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def _member_ids(session: Session, team_id: int) -> set[int]:
    return set(session.scalars(select(TeamMember.organization_id).where(TeamMember.team_id == team_id)))


# -- teams -----------------------------------------------------------------------------------------

def create_team(session: Session, actor: Principal, data: dict[str, Any]) -> Team:
    members = data["members"]
    organization_ids = [member["organization_id"] for member in members]
    if not actor.is_admin and actor.organization_id not in organization_ids:
        raise Problem.field("members", "team_without_caller")
    villages = {village.id for village in session.scalars(select(Village).where(Village.id.in_(data["village_ids"])))}
    missing = [village_id for village_id in data["village_ids"] if village_id not in villages]
    errors: dict[str, list[Message]] = {}
    if missing:
        errors["village_ids"] = [Message("no_such_village", {"id": missing[0]})]
    for place, organization_id in enumerate(organization_ids):
        if organization_id != actor.organization_id and not organizations.exists(organization_id):
            errors[f"members.{place}.organization_id"] = [Message("no_such_organization", {"id": organization_id})]
            break
    if errors:
        raise Problem.invalid(errors)
    if session.scalar(select(Team.id).where(Team.name == data["name"])) is not None:
        raise Problem("team_name_taken", name=data["name"])
    team = Team(name=data["name"], created_by=actor.actor)
    session.add(team)
    session.flush()
    for member in members:
        session.add(TeamMember(team_id=team.id, organization_id=member["organization_id"], role=member["role"],
                               contribution=member["contribution"]))
    for village_id in data["village_ids"]:
        session.add(TeamVillage(team_id=team.id, village_id=village_id))
    session.flush()
    audit.record(session, AuditLog, actor, "team.create", f"team:{team.id}", data)
    return team


def get_team(session: Session, actor: Principal, team_id: int) -> Team:
    """The team, if the caller may see it: one of its members, an admin or an auditor."""
    team = _by_id(session, Team, team_id)
    if team is None or not (actor.sees_all_organizations or actor.organization_id in _member_ids(session, team.id)):
        raise Problem("team_not_found", id=team_id)
    return team


def team_query(actor: Principal, *, village_id: int | None = None,
               organization_id: int | None = None) -> Select[Any]:
    query = select(Team).order_by(Team.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Team.id.in_(select(TeamMember.team_id).where(
            TeamMember.organization_id == actor.organization_id)))
    if organization_id is not None:
        query = query.where(Team.id.in_(select(TeamMember.team_id).where(
            TeamMember.organization_id == organization_id)))
    if village_id is not None:
        query = query.where(Team.id.in_(select(TeamVillage.team_id).where(TeamVillage.village_id == village_id)))
    return query


# -- activities -----------------------------------------------------------------------------------

def record_activity(session: Session, actor: Principal, team_id: int, data: dict[str, Any]) -> Activity:
    """A member records an activity in one of the team's villages (an admin may too)."""
    team = get_team(session, actor, team_id)
    if not actor.is_admin and actor.organization_id not in _member_ids(session, team.id):
        raise Problem("team_not_found", id=team_id)  # an auditor reads, never records
    in_team = session.scalar(select(TeamVillage.id).where(TeamVillage.team_id == team.id,
                                                          TeamVillage.village_id == data["village_id"]))
    if in_team is None:
        raise Problem.field("village_id", "village_not_in_team")
    activity = Activity(team_id=team.id, village_id=data["village_id"], organization_id=actor.organization_id,
                        on=data["on"], kind=data["kind"], description=data["description"],
                        people_helped=data["people_helped"], created_by=actor.actor)
    session.add(activity)
    session.flush()
    for volunteer in data["volunteers"]:
        session.add(VolunteerHours(activity_id=activity.id, name=volunteer["name"], hours=volunteer["hours"]))
    session.flush()
    audit.record(session, AuditLog, actor, "activity.create", f"activity:{activity.id}", {
        "team_id": team.id, "village_id": data["village_id"], "on": data["on"].isoformat(), "kind": data["kind"],
        "people_helped": data["people_helped"], "volunteers": len(data["volunteers"]),
        "hours": str(sum((v["hours"] for v in data["volunteers"]), Decimal(0)))})
    return activity


def activity_query(team: Team, *, village_id: int | None = None, kind: str | None = None) -> Select[Any]:
    query = select(Activity).where(Activity.team_id == team.id).order_by(Activity.id.desc())
    if village_id is not None:
        query = query.where(Activity.village_id == village_id)
    if kind is not None:
        query = query.where(Activity.kind == kind)
    return query


def with_volunteers(session: Session, activities: list[Activity]) -> list[ActivityView]:
    by_activity: dict[int, list[VolunteerHours]] = {activity.id: [] for activity in activities}
    if activities:
        for row in session.scalars(select(VolunteerHours).where(VolunteerHours.activity_id.in_(list(by_activity)))
                                   .order_by(VolunteerHours.id)):
            by_activity[row.activity_id].append(row)
    return [ActivityView(activity, by_activity[activity.id]) for activity in activities]


@dataclass(frozen=True)
class ActivityView:
    activity: Activity
    volunteers: list[VolunteerHours]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.activity, name)

    @property
    def volunteer_hours(self) -> Decimal:
        return sum((row.hours for row in self.volunteers), Decimal(0))


# -- what a team adds up to ---------------------------------------------------------------------------

@dataclass
class Tally:
    activities: int = 0
    people_helped: int = 0
    volunteer_hours: Decimal = Decimal(0)


@dataclass
class VillageTally(Tally):
    village_id: int = 0
    name: str = ""
    township: str = ""


@dataclass
class ProjectFigures:
    code: str
    name: str
    fund_code: str
    status: str
    village_id: int | None
    approved_fen: int
    paid_fen: int


@dataclass
class TeamView:
    team: Team
    members: list[TeamMember]
    villages: list[VillageTally]
    totals: Tally
    projects: list[ProjectFigures] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.team, name)

    @property
    def raised_fen(self) -> int:
        return sum(project.approved_fen for project in self.projects)

    @property
    def spent_fen(self) -> int:
        return sum(project.paid_fen for project in self.projects)


def _tallies(session: Session, team_ids: list[int]) -> dict[tuple[int, int], Tally]:
    """(team, village) -> what its activities add up to."""
    found: dict[tuple[int, int], Tally] = {}
    if not team_ids:
        return found
    hours = (select(VolunteerHours.activity_id, func.sum(VolunteerHours.hours).label("hours"))
             .group_by(VolunteerHours.activity_id).subquery())
    rows = session.execute(
        select(Activity.team_id, Activity.village_id, func.count(Activity.id), func.sum(Activity.people_helped),
               func.coalesce(func.sum(hours.c.hours), 0))
        .outerjoin(hours, hours.c.activity_id == Activity.id)
        .where(Activity.team_id.in_(team_ids)).group_by(Activity.team_id, Activity.village_id))
    for team_id, village_id, count, people, volunteer_hours in rows:
        found[(team_id, village_id)] = Tally(int(count), int(people or 0), Decimal(volunteer_hours))
    return found


def with_figures(session: Session, teams: list[Team]) -> list[TeamView]:
    """The teams with their members, villages, what their activities add up to, and their projects'
    money in the ledger (one call for them all)."""
    team_ids = [team.id for team in teams]
    members: dict[int, list[TeamMember]] = {team_id: [] for team_id in team_ids}
    villages: dict[int, list[Village]] = {team_id: [] for team_id in team_ids}
    projects: dict[int, list[Project]] = {team_id: [] for team_id in team_ids}
    if team_ids:
        for member in session.scalars(select(TeamMember).where(TeamMember.team_id.in_(team_ids))
                                      .order_by(TeamMember.id)):
            members[member.team_id].append(member)
        for team_id, village in session.execute(
                select(TeamVillage.team_id, Village).join(Village, Village.id == TeamVillage.village_id)
                .where(TeamVillage.team_id.in_(team_ids)).order_by(TeamVillage.id)):
            villages[team_id].append(village)
        for project in session.scalars(select(Project).where(Project.team_id.in_(team_ids)).order_by(Project.id)):
            projects[project.team_id].append(project)
    tallies = _tallies(session, team_ids)
    # What the ledger approved (the budget lines' caps) and paid for each project: one call for them all.
    money = {figures.id: figures for figures in projects_module.with_figures(
        session, [p for team_projects in projects.values() for p in team_projects], detail=False)}
    views = []
    for team in teams:
        per_village = []
        totals = Tally()
        for village in villages[team.id]:
            tally = tallies.get((team.id, village.id), Tally())
            per_village.append(VillageTally(tally.activities, tally.people_helped, tally.volunteer_hours,
                                            village_id=village.id, name=village.name, township=village.township))
            totals.activities += tally.activities
            totals.people_helped += tally.people_helped
            totals.volunteer_hours += tally.volunteer_hours
        project_figures = []
        for project in projects[team.id]:
            figures = money[project.id]
            project_figures.append(ProjectFigures(project.code, project.name, project.fund_code, project.status,
                                                  project.village_id, figures.approved_fen, figures.paid_fen))
        views.append(TeamView(team, members[team.id], per_village, totals, project_figures))
    return views
