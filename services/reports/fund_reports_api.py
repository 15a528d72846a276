"""A fund's reports for its page in the funds service: the internal API it reads.

    POST /internal/v1/funds/<code>/reports   {"reader": <the principal the page serves>, "organization_id": <the fund's>}

The reports of the fund itself and of its organisation, newest first, as
the reader may see them (commands.visible_reports: their own organisation's,
or every one for the federation's admins and the auditors). The funds
service names the reader as it describes users to the other services
(shared.auth.Principal's JSON).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import and_, or_

from services.reports import commands
from services.reports.models import ReportRun
from shared.api import json_body
from shared.auth import require_internal
from shared.contracts.reader import READER, reader_from
from shared.db import MAX_ID, db_session
from shared.shapes import Integer, Nested, Shape

bp = Blueprint("reports_fund_reports", __name__, url_prefix="/internal/v1")

LAST = 10
FUND_REPORTS_REQUEST = Shape("FundReportsRequest", {
    "reader": Nested(READER), "organization_id": Integer(minimum=1, maximum=MAX_ID)})


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


@bp.post("/funds/<code>/reports")
def fund_reports(code: str) -> Any:
    body = json_body(FUND_REPORTS_REQUEST)
    reader = reader_from(body["reader"])
    scope = or_(ReportRun.fund_code == code,
                and_(ReportRun.fund_code.is_(None), ReportRun.organization_id == body["organization_id"]))
    runs = db_session().scalars(commands.visible_reports(reader).where(scope).limit(LAST))
    return jsonify({"fund_code": code, "reports": [
        {"id": run.id, "period": run.period, "status": run.status,
         "scope": "fund" if run.fund_code else "organization",
         "finished_at": run.finished_at.isoformat() if run.finished_at else None} for run in runs]})
