"""What the reports API answers (see API.md), for flask-smorest to serialise and document."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import fields

from services.reports.rules import FILE_FORMATS, RUN_STATES, TRIGGERS
from shared.periods import FREQUENCIES
from shared.schemas import BaseSchema, page_schema


class ScopeSchema(BaseSchema):
    kind = fields.String(required=True, metadata={"enum": ["all", "organization", "fund"]})
    organization_id = fields.Integer(required=True, allow_none=True)
    fund_code = fields.String(required=True, allow_none=True)


class ReportFileSchema(BaseSchema):
    format = fields.String(required=True, metadata={"enum": list(FILE_FORMATS)})
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True)
    url = fields.String(required=True)


class ReportSchema(BaseSchema):
    id = fields.Integer(required=True)
    period = fields.String(required=True)
    scope = fields.Method("_scope", required=True, metadata={"type": "object"})
    status = fields.String(required=True, metadata={"enum": list(RUN_STATES)})
    progress = fields.Integer(required=True, metadata={"description": "Percent done, 0-100."})
    summary = fields.Dict(required=True, allow_none=True,
                          metadata={"description": "The figures and checks (API.md); null until done."})
    files = fields.Method("_files", required=True, metadata={"type": "array"})
    error = fields.String(allow_none=True)
    trigger = fields.String(required=True, metadata={"enum": list(TRIGGERS)})
    notify = fields.Boolean(required=True)
    attempts = fields.Integer(required=True)
    previous_report_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    finished_at = fields.DateTime(required=True, allow_none=True)

    def _scope(self, run: Any) -> dict[str, Any]:
        kind = "fund" if run.fund_code else "organization" if run.organization_id else "all"
        return {"kind": kind, "organization_id": run.organization_id, "fund_code": run.fund_code}

    def _files(self, run: Any) -> list[dict[str, Any]]:
        return [{"format": f.format, "sha256": f.sha256, "size": f.size,
                 "url": url_for("reports_api.ReportFileByFormat", report_id=run.id, fmt=f.format)}
                for f in getattr(run, "files", [])]


class ReportRefSchema(BaseSchema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(RUN_STATES)})


class RunLogSchema(BaseSchema):
    at = fields.DateTime(required=True)
    from_status = fields.String(required=True, allow_none=True)
    to_status = fields.String(required=True)
    worker = fields.String(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)
    message = fields.String(required=True)


class SubscriptionSchema(BaseSchema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    frequency = fields.String(required=True, metadata={"enum": list(FREQUENCIES)})
    fund_code = fields.String(required=True, allow_none=True)
    organization_id = fields.Integer(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


ReportPageSchema = page_schema(ReportSchema, "ReportPage")
SubscriptionPageSchema = page_schema(SubscriptionSchema, "SubscriptionPage")
RunLogPageSchema = page_schema(RunLogSchema, "RunLogPage")
