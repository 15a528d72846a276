"""The programmes service's public API for micro public-welfare projects, /programmes/api/v1 (see API.md)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from services.programmes import projects
from services.programmes.models import Project
from services.programmes.rules import (
    AMENDMENT, MILESTONE_REPORT, PROJECT, PROJECT_CLOSE, PROJECT_LIST, PROJECT_STOP, RECOVERY,
)
from services.programmes.schemas import AmendmentSchema, ProjectPageSchema, ProjectSchema
from shared.api import Blueprint
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("programmes_projects_api", __name__, url_prefix="/api/v1",
                description="Micro public-welfare projects (微公益创投): budgets in lines, milestones and their "
                            "instalments, amendments, stopping and closing")

PROJECT_PATH = "/projects/<string(maxlength=64):code>"


def _shown(project: Project) -> Any:
    return projects.with_figures(db_session(), [project])[0]


@blp.route("/projects")
class Projects(MethodView):
    @blp.operation("listProjects", refuses=("service_unavailable",))
    @require_scope("programmes:read")
    @blp.arguments(PROJECT_LIST.schema(), location="query")
    @blp.response(200, ProjectPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Projects this key may see, filtered by organisation, status, village or fund"""
        session = db_session()
        query = projects.project_query(principal_from_request(), organization_id=args.get("organization_id"),
                                       status=args.get("status"), village_id=args.get("village_id"),
                                       fund_code=args.get("fund_code"))
        page = paginate(session, query, args, Project)
        return {**page, "items": projects.with_figures(session, page["items"])}

    @blp.operation("createProject", refuses=("project_code_taken", "service_unavailable"))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(PROJECT.schema())
    @blp.response(201, ProjectSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Propose a project: a draft, with its budget's lines and its milestones"""
        return _shown(projects.create_project(db_session(), principal_from_request(), data))


@blp.route(PROJECT_PATH)
class ProjectByCode(MethodView):
    @blp.operation("getProject", refuses=("project_not_found", "service_unavailable"))
    @require_scope("programmes:read")
    @blp.response(200, ProjectSchema)
    def get(self, code: str) -> Any:
        """One project: per line planned, approved, paid, remaining; its milestones and budget versions"""
        return _shown(projects.get_project(db_session(), principal_from_request(), code))


@blp.route(f"{PROJECT_PATH}/approve")
class ProjectApprove(MethodView):
    @blp.operation("approveProject", refuses=("project_not_found", "project_transition_invalid",
                                              "own_project_approval", "service_unavailable"))
    @require_scope("disbursements:approve")
    @blp.response(200, ProjectSchema)
    def post(self, code: str) -> Any:
        """Approve a draft (someone other than its proposer): its lines' amounts are held in the ledger"""
        return _shown(projects.approve_project(db_session(), principal_from_request(), code))


@blp.route(f"{PROJECT_PATH}/stop")
class ProjectStop(MethodView):
    @blp.operation("stopProject", refuses=("project_not_found", "project_transition_invalid",
                                           "service_unavailable"))
    @require_scope("disbursements:approve")
    @blp.arguments(PROJECT_STOP.schema())
    @blp.response(200, ProjectSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Stop a project: its unpaid instalments are cancelled, nothing more may be approved for it"""
        return _shown(projects.stop_project(db_session(), principal_from_request(), code, data["reason"]))


@blp.route(f"{PROJECT_PATH}/recoveries")
class ProjectRecoveries(MethodView):
    @blp.operation("recordRecovery", refuses=("project_not_found", "project_transition_invalid",
                                              "recovery_exceeds_paid", "service_unavailable"))
    @idempotent
    @require_scope("disbursements:approve")
    @blp.arguments(RECOVERY.schema())
    @blp.response(201, ProjectSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Record misspent money to be recovered (at most what was paid)"""
        return _shown(projects.record_recovery(db_session(), principal_from_request(), code, data))


@blp.route(f"{PROJECT_PATH}/closing")
class ProjectClosing(MethodView):
    @blp.operation("startClosingProject", refuses=("project_not_found", "project_transition_invalid",
                                                   "service_unavailable"))
    @require_scope("programmes:write")
    @blp.response(200, ProjectSchema)
    def post(self, code: str) -> Any:
        """The work is done: the project is closing (its final report is being written)"""
        return _shown(projects.start_closing(db_session(), principal_from_request(), code))


@blp.route(f"{PROJECT_PATH}/close")
class ProjectClose(MethodView):
    @blp.operation("closeProject", refuses=("project_not_found", "project_transition_invalid",
                                            "milestones_unfinished", "service_unavailable"))
    @require_scope("programmes:write")
    @blp.arguments(PROJECT_CLOSE.schema())
    @blp.response(200, ProjectSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Close a project with its final report, saying where money left over goes"""
        return _shown(projects.close_project(db_session(), principal_from_request(), code, data))


@blp.route(f"{PROJECT_PATH}/milestones/<int:n>/report")
class MilestoneReport(MethodView):
    @blp.operation("reportMilestone", refuses=("project_not_found", "milestone_not_found",
                                               "project_transition_invalid", "milestone_transition_invalid",
                                               "service_unavailable"))
    @require_scope("programmes:write")
    @blp.arguments(MILESTONE_REPORT.schema())
    @blp.response(200, ProjectSchema)
    def post(self, data: dict[str, Any], code: str, n: int) -> Any:
        """Report on a milestone (the first report starts the project's work)"""
        return _shown(projects.report_milestone(db_session(), principal_from_request(), code, n, data["report"]))


@blp.route(f"{PROJECT_PATH}/milestones/<int:n>/accept")
class MilestoneAccept(MethodView):
    @blp.operation("acceptMilestone", refuses=("project_not_found", "milestone_not_found",
                                               "project_transition_invalid", "milestone_transition_invalid",
                                               "own_milestone_acceptance", "service_unavailable"))
    @require_scope("disbursements:approve")
    @blp.response(200, ProjectSchema)
    def post(self, code: str, n: int) -> Any:
        """Accept a milestone's report (someone other than its reporter): its instalment becomes payable"""
        return _shown(projects.accept_milestone(db_session(), principal_from_request(), code, n))


@blp.route(f"{PROJECT_PATH}/amendments")
class ProjectAmendments(MethodView):
    @blp.operation("requestAmendment", refuses=("project_not_found", "project_transition_invalid",
                                                "amendment_pending", "service_unavailable"))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(AMENDMENT.schema())
    @blp.response(201, AmendmentSchema)
    def post(self, data: dict[str, Any], code: str) -> Any:
        """Ask to change the budget: approved, it becomes the budget's next version"""
        return projects.request_amendment(db_session(), principal_from_request(), code, data)


@blp.route(f"{PROJECT_PATH}/amendments/<int:version>/approve")
class AmendmentApprove(MethodView):
    @blp.operation("approveAmendment", refuses=("project_not_found", "amendment_not_found",
                                                "amendment_not_requested", "own_amendment_approval",
                                                "project_transition_invalid", "cap_below_committed",
                                                "service_unavailable"))
    @require_scope("disbursements:approve")
    @blp.response(200, ProjectSchema)
    def post(self, code: str, version: int) -> Any:
        """Approve an amendment (someone other than its requester); a line below what is committed refuses it"""
        return _shown(projects.approve_amendment(db_session(), principal_from_request(), code, version))


@blp.route(f"{PROJECT_PATH}/amendments/<int:version>/reject")
class AmendmentReject(MethodView):
    @blp.operation("rejectAmendment", refuses=("project_not_found", "amendment_not_found",
                                               "amendment_not_requested", "service_unavailable"))
    @require_scope("disbursements:approve")
    @blp.response(200, ProjectSchema)
    def post(self, code: str, version: int) -> Any:
        """Reject an amendment: the budget stays as it is"""
        return _shown(projects.reject_amendment(db_session(), principal_from_request(), code, version))
