"""The programmes service's public API for assistance teams (1+N) and their activities, /programmes/api/v1."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from services.programmes import teams
from services.programmes.models import Activity, Team
from services.programmes.rules import ACTIVITY, ACTIVITY_LIST, TEAM, TEAM_LIST
from services.programmes.schemas import ActivityPageSchema, ActivitySchema, TeamPageSchema, TeamSchema
from shared.api import Blueprint
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("programmes_teams_api", __name__, url_prefix="/api/v1",
                description="Assistance teams (1+N): a lead organisation and its members, paired with weak "
                            "villages, and their activities")


@blp.route("/teams")
class Teams(MethodView):
    @blp.operation("listTeams", refuses=("service_unavailable",))
    @require_scope("programmes:read")
    @blp.arguments(TEAM_LIST.schema(), location="query")
    @blp.response(200, TeamPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The teams this key may see (its organisation's), filtered by village or member"""
        session = db_session()
        query = teams.team_query(principal_from_request(), village_id=args.get("village_id"),
                                 organization_id=args.get("organization_id"))
        page = paginate(session, query, args, Team)
        return {**page, "items": teams.with_figures(session, page["items"])}

    @blp.operation("createTeam", refuses=("team_name_taken", "service_unavailable"))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(TEAM.schema())
    @blp.response(201, TeamSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Form a team: exactly one lead, the caller's organisation among its members"""
        session = db_session()
        return teams.with_figures(session, [teams.create_team(session, principal_from_request(), data)])[0]


@blp.route("/teams/<int:team_id>")
class TeamById(MethodView):
    @blp.operation("getTeam", refuses=("team_not_found", "service_unavailable"))
    @require_scope("programmes:read")
    @blp.response(200, TeamSchema)
    def get(self, team_id: int) -> Any:
        """One team: members, villages, activities, people helped, volunteer hours, money raised and spent"""
        session = db_session()
        return teams.with_figures(session, [teams.get_team(session, principal_from_request(), team_id)])[0]


@blp.route("/teams/<int:team_id>/activities")
class TeamActivities(MethodView):
    @blp.operation("listTeamActivities", refuses=("team_not_found",))
    @require_scope("programmes:read")
    @blp.arguments(ACTIVITY_LIST.schema(), location="query")
    @blp.response(200, ActivityPageSchema)
    def get(self, args: dict[str, Any], team_id: int) -> Any:
        """The team's activities, newest first, filtered by village or kind"""
        session = db_session()
        team = teams.get_team(session, principal_from_request(), team_id)
        page = paginate(session, teams.activity_query(team, village_id=args.get("village_id"),
                                                      kind=args.get("kind")), args, Activity)
        return {**page, "items": teams.with_volunteers(session, page["items"])}

    @blp.operation("recordTeamActivity", refuses=("team_not_found",))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(ACTIVITY.schema())
    @blp.response(201, ActivitySchema)
    def post(self, data: dict[str, Any], team_id: int) -> Any:
        """A member records an activity in one of the team's villages, with its volunteers' hours"""
        session = db_session()
        activity = teams.record_activity(session, principal_from_request(), team_id, data)
        return teams.with_volunteers(session, [activity])[0]
