"""What the reports API answers (see API.md), for flask-smorest to serialise and document."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import fields

from services.reports.rules import FILE_FORMATS, RUN_STATES, TRIGGERS
from shared.periods import FREQUENCIES
from shared.schemas import AMOUNT_OUT, BaseSchema, Computed, Stored, page_schema


class ScopeSchema(BaseSchema):
    kind = fields.String(required=True, metadata={"enum": ["all", "organization", "fund"]})
    organization_id = fields.Integer(required=True, allow_none=True)
    fund_code = fields.String(required=True, allow_none=True)


def _amount(description: str = "") -> fields.Field:
    return fields.String(required=True, metadata={**AMOUNT_OUT, **({"description": description} if description else {})})


class FiguresSchema(BaseSchema):
    """A period's figures, of the scope or of one fund (API.md, "Reports service")."""

    opening_balance = _amount("The previous period's closing balance.")
    donations_total = _amount("Donations whose `received_on` is in the period, reversed ones included.")
    donations_count = fields.Integer(required=True, metadata={"minimum": 0})
    disbursements_total = _amount("Disbursements whose `paid_on` is in the period.")
    disbursements_count = fields.Integer(required=True, metadata={"minimum": 0})
    reversals_total = _amount("Reversals posted in the period.")
    closing_balance = _amount("opening_balance + donations_total - reversals_total - disbursements_total")
    reversals_count = fields.Integer(metadata={"minimum": 0})
    restricted_total = fields.String(metadata=AMOUNT_OUT)
    in_kind_total = fields.String(metadata=AMOUNT_OUT)


class FundFiguresSchema(FiguresSchema):
    fund_code = fields.String(required=True)
    name = fields.String(required=True)
    available = _amount("The fund's balance less approved, unpaid disbursements, when the report was built.")


class CheckSchema(BaseSchema):
    name = fields.String(required=True, metadata={
        "example": "trial_balance",
        "description": "At least trial_balance, balances_match_ledger, audit_chain, receipt_numbers_gapless, "
                       "four_eyes; an annual report adds charity_law_spending_ratio and "
                       "charity_law_management_cost_ratio."})
    passed = fields.Boolean(required=True)
    detail = fields.String(required=True)


class ReportSummarySchema(FiguresSchema):
    """The figures and checks of a report's scope and period; more fields may follow."""

    funds = fields.List(fields.Nested(FundFiguresSchema), required=True)
    checks = fields.List(fields.Nested(CheckSchema), required=True)
    programmes = fields.Dict(allow_none=True, metadata={
        "description": "What the programmes did in the period, for the scope: `projects` (count by status, budget, "
                       "approved, reserved, paid, remaining, milestones overdue at the period's end, public reports "
                       "due), `needs` (posted, claimed, fulfilled, open longest), `teams` (activities, people "
                       "helped, volunteer hours, raised and spent), `drives` (quantities by unit, paid to villages, "
                       "exchange, charitable spending, donation of the difference, related-party purchases); money "
                       "as text. Null when the programmes service did not answer (`notes` says so)."})
    notes = fields.List(fields.String(), metadata={"description": "What the report could not include, and why."})


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
    summary = Stored(ReportSummarySchema, required=True, allow_none=True,
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
