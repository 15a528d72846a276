"""What the reports API answers (see API.md), for flask-smorest to serialise and document."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import fields

from services.reports.rules import FILE_FORMATS, RUN_STATES, TRIGGERS
from shared.periods import FREQUENCIES
from shared.schemas import BaseSchema, Computed, page_schema


class ScopeSchema(BaseSchema):
    kind = fields.String(required=True, metadata={"enum": ["all", "organization", "fund"]})
    organization_id = fields.Integer(required=True, allow_none=True)
    fund_code = fields.String(required=True, allow_none=True)


class ReportFileSchema(BaseSchema):
    format = fields.String(required=True, metadata={"enum": list(FILE_FORMATS)})
    sha256 = fields.String(required=True, metadata={"pattern": "^[0-9a-f]{64}$",
                                                    "description": "The file's SHA-256, also its download's ETag."})
    size = fields.Integer(required=True, metadata={"minimum": 0, "description": "Bytes."})
    url = fields.String(required=True, metadata={"description": "Where to download it (a path on this host)."})


class ReportSchema(BaseSchema):
    id = fields.Integer(required=True)
    period = fields.String(required=True, metadata={"example": "2026-Q3"})
    scope = Computed(ScopeSchema, lambda schema, run: schema._scope(run), required=True)
    status = fields.String(required=True, metadata={"enum": list(RUN_STATES)})
    progress = fields.Integer(required=True, metadata={"minimum": 0, "maximum": 100,
                                                       "description": "Percent done, 0-100."})
    summary = fields.Dict(required=True, allow_none=True,
                          metadata={"description": "The figures and checks (API.md); null until done."})
    files = Computed(ReportFileSchema, lambda schema, run: schema._files(run), many=True, required=True)
    error = fields.String(required=True, allow_none=True, metadata={"description": "Why it failed; null otherwise."})
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
    from_status = fields.String(required=True, allow_none=True, metadata={"enum": [*RUN_STATES, None]})
    to_status = fields.String(required=True, metadata={"enum": list(RUN_STATES)})
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
