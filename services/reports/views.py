"""The reports service's public API, /reports/api/v1 (see API.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView

from services.reports import commands
from services.reports.models import ReportFile, ReportRun, Subscription
from services.reports.render import CONTENT_TYPES
from services.reports.exports import CONTENT_TYPES as EXPORT_CONTENT_TYPES
from services.reports.rules import (
    EXPORT, FILE_FORMATS, REPORT_LIST, REPORT_REQUEST, SUBSCRIPTION, SUBSCRIPTION_LIST,
)
from services.reports.schemas import (
    ReportPageSchema, ReportRefSchema, ReportSchema, RunLogPageSchema, SubscriptionPageSchema, SubscriptionSchema,
)
from shared.api import Blueprint, add_me_endpoint, file_response_doc, path_parameter
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.errors import Problem
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("reports_api", __name__, url_prefix="/api/v1",
                description="Audit reports, subscriptions and ledger exports")
add_me_endpoint(blp)


# What naming a report's scope (a fund, an organisation, or every fund) may be refused for.
SCOPE_REFUSALS = ("fund_not_found", "organization_not_found", "scope_all_forbidden")


def with_files(run: ReportRun) -> ReportRun:
    run.files = commands.report_files(db_session(), run.id)  # type: ignore[attr-defined]
    return run


@blp.route("/reports")
class Reports(MethodView):
    @blp.operation("listReports")
    @require_scope("reports:read")
    @blp.arguments(REPORT_LIST.schema(), location="query")
    @blp.response(200, ReportPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Reports this key may see, newest first; filters by period, scope and status"""
        query = commands.visible_reports(principal_from_request(), period=args.get("period"),
                                         fund_code=args.get("fund_code"),
                                         organization_id=args.get("organization_id"), status=args.get("status"))
        page = paginate(db_session(), query, args, ReportRun)
        page["items"] = [with_files(run) for run in page["items"]]
        return page

    @blp.operation("createReport", refuses=SCOPE_REFUSALS)
    @idempotent
    @require_scope("reports:read")
    @blp.arguments(REPORT_REQUEST.schema())
    @blp.response(202, ReportRefSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Ask for a report of a scope and period; one queued or running already is that one"""
        run, _ = commands.request_report(db_session(), principal_from_request(), **data)
        return {"id": run.id, "status": run.status}


@blp.route("/reports/<int:report_id>")
class ReportById(MethodView):
    @blp.operation("getReport", refuses=("report_not_found",))
    @require_scope("reports:read")
    @blp.response(200, ReportSchema)
    def get(self, report_id: int) -> Any:
        """One report: its state, progress, summary and files"""
        return with_files(commands.get_report(db_session(), principal_from_request(), report_id))


@blp.route("/reports/<int:report_id>/log")
class ReportLog(MethodView):
    @blp.operation("getReportLog", refuses=("report_not_found",))
    @require_scope("reports:read")
    @blp.response(200, RunLogPageSchema)
    def get(self, report_id: int) -> Any:
        """The report's run log: every change of state, by which worker, how long, what failed"""
        return {"items": commands.run_log(db_session(), principal_from_request(), report_id), "next_cursor": None}


@blp.route("/reports/<int:report_id>/files/<fmt>", parameters=[
    path_parameter("fmt", {"type": "string", "enum": list(FILE_FORMATS)}, "The file's format.")])
class ReportFileByFormat(MethodView):
    @blp.operation("getReportFile", refuses=("report_not_found", "report_file_not_found"))
    @require_scope("reports:read")
    @blp.doc(responses={"200": file_response_doc("The file, as kept when the report was built.",
                                                 CONTENT_TYPES.values(), etag=True)})
    def get(self, report_id: int, fmt: str) -> Any:
        """A report's file: pdf, xlsx or csv"""
        return kept_file_response(commands.report_file(db_session(), principal_from_request(), report_id, fmt))


def kept_file_response(kept: ReportFile) -> Response:
    """A report's kept file as a download; its sha256 is its ETag."""
    return file_response(kept.content, CONTENT_TYPES[kept.format], f"report-{kept.report_id}.{kept.format}",
                         kept.sha256)


def file_response(content: bytes, content_type: str, filename: str, sha256: str | None = None) -> Response:
    response = current_app.response_class(content, mimetype=content_type.split(";")[0],
                                          content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if sha256:
        response.headers["ETag"] = f'"{sha256}"'
    return response


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.operation("listSubscriptions")
    @require_scope("reports:read")
    @blp.arguments(SUBSCRIPTION_LIST.schema(), location="query")
    @blp.response(200, SubscriptionPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Subscriptions: an auditor's own, an organisation's for its keys and users"""
        return paginate(db_session(), commands.visible_subscriptions(principal_from_request()), args, Subscription)

    @blp.operation("createSubscription", refuses=SCOPE_REFUSALS)
    @idempotent
    @require_scope("reports:read")
    @blp.arguments(SUBSCRIPTION.schema())
    @blp.response(201, SubscriptionSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Subscribe an address to a scope's scheduled reports"""
        return commands.create_subscription(db_session(), principal_from_request(), **data)


@blp.route("/subscriptions/<int:subscription_id>")
class SubscriptionById(MethodView):
    @blp.operation("deleteSubscription", refuses=("subscription_not_found",))
    @require_scope("reports:read")
    @blp.response(204)
    def delete(self, subscription_id: int) -> Any:
        """Cancel a subscription"""
        commands.cancel_subscription(db_session(), principal_from_request(), subscription_id)
        return None


@blp.route("/exports")
class Exports(MethodView):
    @blp.operation("getLedgerExport", refuses=SCOPE_REFUSALS)
    @require_scope("reports:read")
    @blp.arguments(EXPORT.schema(), location="query")
    @blp.doc(responses={"200": file_response_doc(
        "The scope's ledger for the period: csv, xlsx, or a journal (text/plain) for hledger and ledger-cli.",
        EXPORT_CONTENT_TYPES.values())})
    def get(self, args: dict[str, Any]) -> Any:
        """A period's ledger for accountants: CSV, XLSX, or a plain-text journal"""
        from services.reports.build import NoSuchScope
        from services.reports.exports import export
        from services.reports.sources import Sources
        from shared.periods import Period

        scope, _ = commands.scope_for(principal_from_request(), fund_code=args.get("fund_code"),
                                      organization_id=args.get("organization_id"))
        try:
            body, content_type, filename = export(Sources(current_app.extensions["peers"]), scope,
                                                  Period.parse(args["period"]), args["format"])
        except NoSuchScope:  # an organisation an admin may name, which does not exist
            raise (Problem("fund_not_found", fund_code=scope.fund_code) if scope.fund_code is not None
                   else Problem("organization_not_found", id=scope.organization_id)) from None
        return file_response(body, content_type, filename)
