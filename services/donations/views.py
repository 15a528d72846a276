"""The donations service's public API, /donations/api/v1 (see API.md)."""

from __future__ import annotations

import io
from typing import Any

from flask import request, send_file
from flask.views import MethodView

from services.donations import batch, commands, reads
from services.donations.models import Disbursement, DisbursementAttachment, Donation
from services.donations.rules import (
    ATTACHMENT_LIST, ATTACHMENT_MAX_BYTES, ATTACHMENT_TYPES, DISBURSEMENT, DISBURSEMENT_LIST, DONATION, DONATION_LIST,
    PAYMENT, REVERSAL, STATEMENT, TRIAL_BALANCE, VERIFY, WITHDRAWAL,
)
from services.donations.schemas import (
    AttachmentPageSchema, AttachmentSchema, BalanceSchema, BatchResultSchema, ChainHeadsSchema, ChainReportSchema,
    DisbursementPageSchema, DisbursementSchema, DonationPageSchema, DonationSchema, ReversalSchema, StatementSchema,
    TimelineSchema, TrialBalanceSchema,
)
from shared.api import Blueprint, add_me_endpoint, file_response_doc, fund_code_parameter
from shared.errors import Problem
from shared.refusals import Message
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("donations_api", __name__, url_prefix="/api/v1",
                description="Donations, disbursements, reversals and balances")
add_me_endpoint(blp)
QUERY = {"location": "query"}


CSV_DOC = (
    "A CSV file in UTF-8 (a BOM is allowed; from Excel, save as \"CSV UTF-8\"), one donation a line after a "
    f"header row naming its columns, in any order: {', '.join(f'`{c}`' for c in batch.CSV_COLUMNS)}; "
    f"{' and '.join(f'`{c}`' for c in sorted(batch.OPTIONAL_COLUMNS))} may be left out, and an empty cell of an "
    "optional column says nothing. Cells are text with the same rules as the JSON fields: `amount` like "
    "`1280.00`, `donor_anonymous` true/false (also 1/0, yes/no, blank for false), `received_on` YYYY-MM-DD. "
    f"A row's `row` in the results is its line number (the header is line 1). At most {batch.MAX_ROWS:,} rows; "
    "a header that names an unknown column or lacks a required one is a 422, and so is a file that is not UTF-8.")
BATCH_BODY = {
    "required": True,
    "description": "The donations: a JSON list of the same objects `createDonation` takes, or a CSV file. Each "
                   "row is checked and recorded on its own; an invalid row does not stop the others.",
    "content": {
        "application/json": {"schema": {"type": "array", "minItems": 1, "maxItems": batch.MAX_ROWS,
                                        "items": {"$ref": "#/components/schemas/DonationCreate"}}},
        "text/csv": {"schema": {"type": "string", "description": CSV_DOC}, "example": batch.CSV_EXAMPLE},
    },
}

# What any operation that moves money into or out of a fund may be refused for, besides its own.
FUND_STATE_REFUSALS = ("fund_frozen", "fund_closed", "fund_status_changing")
MONEY_IN_REFUSALS = ("no_such_fund", "fund_closed", "fund_status_changing", "ledger_rule")
# What a disbursement naming a project's budget line or a need may be refused for (its spending caps).
CAP_REFUSALS = ("budget_line_unknown", "need_not_pledged", "budget_line_exceeded", "project_payable_exceeded",
                "need_pledge_exceeded")
CAP_REQUEST_REFUSALS = ("project_fund_mismatch", *CAP_REFUSALS)


@blp.route("/donations")
class Donations(MethodView):
    @blp.operation("listDonations")
    @require_scope("donations:read")
    @blp.arguments(DONATION_LIST.schema(), **QUERY)
    @blp.response(200, DonationPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Donations, newest first; filters fund_code, from, to (received_on) and donor"""
        query = commands.donation_query(principal_from_request(), fund_code=args.get("fund_code"),
                                        date_from=args.get("from"), date_to=args.get("to"),
                                        donor=args.get("donor"))
        return paginate(db_session(), query, args, Donation)

    @blp.operation("createDonation", refuses=MONEY_IN_REFUSALS + ("duplicate_reference",))
    @idempotent
    @require_scope("donations:write")
    @blp.arguments(DONATION.schema())
    @blp.response(201, DonationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a donation: posts it and issues the next receipt number"""
        return commands.record_donation(db_session(), principal_from_request(), data)


@blp.route("/donations/batch")
class DonationBatch(MethodView):
    @blp.operation("createDonationBatch")
    @idempotent
    @require_scope("donations:write")
    @blp.doc(requestBody=BATCH_BODY)
    @blp.response(200, BatchResultSchema)
    def post(self) -> Any:
        """Record many donations from a JSON list or a CSV file; a result per row"""
        return batch.record_batch(db_session(), principal_from_request(), request)


@blp.route("/donations/<int:donation_id>")
class DonationById(MethodView):
    @blp.operation("getDonation", refuses=("donation_not_found",))
    @require_scope("donations:read")
    @blp.response(200, DonationSchema)
    def get(self, donation_id: int) -> Any:
        """One donation"""
        return commands.get_donation(db_session(), principal_from_request(), donation_id)


@blp.route("/donations/<int:donation_id>/reverse")
class DonationReverse(MethodView):
    @blp.operation("reverseDonation", refuses=("donation_not_found", "already_reversed", *FUND_STATE_REFUSALS,
                                               "reversal_exceeds_available", "reversal_exceeds_goods",
                                               "reversal_exceeds_cash", "balance_below_zero", "ledger_rule"))
    @idempotent
    @require_scope("donations:write")
    @blp.arguments(REVERSAL.schema())
    @blp.response(200, ReversalSchema)
    def post(self, data: dict[str, Any], donation_id: int) -> Any:
        """Reverse a donation with a reversing entry; the original stays, marked reversed"""
        return commands.reverse_donation(db_session(), principal_from_request(), donation_id, data["reason"])


@blp.route("/disbursements")
class Disbursements(MethodView):
    @blp.operation("listDisbursements")
    @require_scope("donations:read")
    @blp.arguments(DISBURSEMENT_LIST.schema(), **QUERY)
    @blp.response(200, DisbursementPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Disbursements, newest first; filters fund_code, status, category, project_code and need_id"""
        query = commands.disbursement_query(principal_from_request(), fund_code=args.get("fund_code"),
                                            status=args.get("status"), category=args.get("category"),
                                            project_code=args.get("project_code"), need_id=args.get("need_id"))
        return paginate(db_session(), query, args, Disbursement)

    @blp.operation("createDisbursement", refuses=MONEY_IN_REFUSALS + CAP_REQUEST_REFUSALS)
    @idempotent
    @require_scope("donations:write")
    @blp.arguments(DISBURSEMENT.schema())
    @blp.response(201, DisbursementSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Request a disbursement; someone else approves it. Naming a project's `budget_line` or a `need_id`,
        it is held to what the programmes service allows (409 beyond it, at once and again when approved)"""
        return commands.request_disbursement(db_session(), principal_from_request(), data)


@blp.route("/disbursements/<int:disbursement_id>")
class DisbursementById(MethodView):
    @blp.operation("getDisbursement", refuses=("disbursement_not_found",))
    @require_scope("donations:read")
    @blp.response(200, DisbursementSchema)
    def get(self, disbursement_id: int) -> Any:
        """One disbursement"""
        return commands.get_disbursement(db_session(), principal_from_request(), disbursement_id)


@blp.route("/disbursements/<int:disbursement_id>/approve")
class DisbursementApprove(MethodView):
    @blp.operation("approveDisbursement", refuses=(
        "disbursement_not_found", "own_disbursement", "disbursement_not_requested", "insufficient_available",
        "insufficient_cash", *FUND_STATE_REFUSALS, *CAP_REFUSALS, "ledger_rule"))
    @idempotent
    @require_scope("disbursements:approve")
    @blp.response(200, DisbursementSchema)
    def post(self, disbursement_id: int) -> Any:
        """Approve (never by the requester): reserves the amount, so `available` drops"""
        return commands.approve_disbursement(db_session(), principal_from_request(), disbursement_id)


@blp.route("/disbursements/<int:disbursement_id>/pay")
class DisbursementPay(MethodView):
    @blp.operation("payDisbursement", refuses=(
        "disbursement_not_found", "disbursement_not_approved", "paid_before_approval", *FUND_STATE_REFUSALS,
        "balance_below_zero", *CAP_REFUSALS, "ledger_rule"))
    @idempotent
    @require_scope("donations:write")
    @blp.arguments(PAYMENT.schema())
    @blp.response(200, DisbursementSchema)
    def post(self, data: dict[str, Any], disbursement_id: int) -> Any:
        """Pay an approved disbursement: posts the reserved money out of the fund"""
        return commands.pay_disbursement(db_session(), principal_from_request(), disbursement_id,
                                         data["paid_on"], data["bank_reference"])


@blp.route("/disbursements/<int:disbursement_id>/reject")
class DisbursementReject(MethodView):
    @blp.operation("rejectDisbursement", refuses=("disbursement_not_found", "disbursement_not_rejectable",
                                                  "ledger_rule"))
    @idempotent
    @require_scope("disbursements:approve")
    @blp.arguments(REVERSAL.schema())
    @blp.response(200, DisbursementSchema)
    def post(self, data: dict[str, Any], disbursement_id: int) -> Any:
        """Reject a requested or approved disbursement; an approval's reservation is released"""
        return commands.reject_disbursement(db_session(), principal_from_request(), disbursement_id,
                                            data["reason"])


@blp.route("/disbursements/<int:disbursement_id>/withdraw")
class DisbursementWithdraw(MethodView):
    @blp.operation("withdrawDisbursement", refuses=("disbursement_not_found", "withdraw_not_requester",
                                                    "disbursement_not_withdrawable", "ledger_rule"))
    @idempotent
    @require_scope("donations:write")
    @blp.arguments(WITHDRAWAL.schema(), required=False)
    @blp.response(200, DisbursementSchema)
    def post(self, data: dict[str, Any], disbursement_id: int) -> Any:
        """Withdraw a requested disbursement: only its requester (the same user or key), only before approval"""
        return commands.withdraw_disbursement(db_session(), principal_from_request(), disbursement_id,
                                              data.get("reason") or "")


@blp.route("/disbursements/<int:disbursement_id>/timeline")
class DisbursementTimeline(MethodView):
    @blp.operation("getDisbursementTimeline", refuses=("disbursement_not_found",))
    @require_scope("donations:read")
    @blp.response(200, TimelineSchema)
    def get(self, disbursement_id: int) -> Any:
        """A disbursement's steps (requested, approved, paid, rejected, withdrawn): who, when and why"""
        session, actor = db_session(), principal_from_request()
        disbursement = commands.get_disbursement(session, actor, disbursement_id)
        return {"disbursement_id": disbursement.id, "status": disbursement.status,
                "steps": commands.timeline(session, actor, disbursement_id)}


ATTACHMENT_BODY = {
    "required": True,
    "description": f"One file, as the form field `file`: a PDF, PNG or JPEG (told by its content, not its name), "
                   f"at most {ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB. Its name is kept as sent, without any "
                   f"folder.",
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}}}}},
}


def _multipart() -> Any:
    """The uploaded `file`; a body that is not multipart/form-data is a 415."""
    if request.mimetype != "multipart/form-data":
        received = request.mimetype or "none"
        raise Problem("unsupported_media_type", expected="multipart/form-data", received=received,
                      errors={"Content-Type": [Message("unsupported_media_type",
                                                       {"expected": "multipart/form-data", "received": received})]})
    return request.files.get("file")


@blp.route("/disbursements/<int:disbursement_id>/attachments")
class DisbursementAttachments(MethodView):
    @blp.operation("listDisbursementAttachments", refuses=("disbursement_not_found",))
    @require_scope("donations:read")
    @blp.arguments(ATTACHMENT_LIST.schema(), **QUERY)
    @blp.response(200, AttachmentPageSchema)
    def get(self, args: dict[str, Any], disbursement_id: int) -> Any:
        """A disbursement's attachments (invoices, contracts), newest first"""
        session = db_session()
        query = commands.attachment_query(session, principal_from_request(), disbursement_id)
        return paginate(session, query, args, DisbursementAttachment)

    @blp.operation("attachToDisbursement", refuses=(
        "disbursement_not_found", "attachment_forbidden", "disbursement_closed_to_attachments", "ledger_rule"))
    @idempotent
    @require_scope("donations:read")
    @blp.doc(requestBody=ATTACHMENT_BODY)
    @blp.response(201, AttachmentSchema)
    def post(self, disbursement_id: int) -> Any:
        """Attach an invoice or a contract: by the requester or an approver of its organisation, while it may
        still be paid; kept with its sha256, never changed, recorded in the audit log"""
        return commands.attach(db_session(), principal_from_request(), disbursement_id, _multipart())


@blp.route("/disbursements/<int:disbursement_id>/attachments/<int:attachment_id>")
class DisbursementAttachmentById(MethodView):
    @blp.operation("getDisbursementAttachment", refuses=("disbursement_not_found", "attachment_not_found"))
    @require_scope("donations:read")
    @blp.doc(responses={"200": file_response_doc("The file's bytes, as uploaded", ATTACHMENT_TYPES, etag=True)})
    def get(self, disbursement_id: int, attachment_id: int) -> Any:
        """An attachment's bytes, to download"""
        attachment = commands.get_attachment(db_session(), principal_from_request(), disbursement_id,
                                             attachment_id)
        return attachment_download(attachment)


def attachment_download(attachment: DisbursementAttachment) -> Any:
    """The file as a download, under its own name and type (the pages send it the same way)."""
    return send_file(io.BytesIO(attachment.content), mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.filename, etag=attachment.sha256, conditional=False,
                     max_age=None)


@blp.route("/funds/<code>/balance", parameters=[fund_code_parameter()])
class FundBalance(MethodView):
    @blp.operation("getFundBalance", refuses=("fund_not_found",))
    @require_scope("donations:read")
    @blp.response(200, BalanceSchema)
    def get(self, code: str) -> Any:
        """A fund's balance and what is available (balance less approved, unpaid disbursements)"""
        return reads.fund_balance(db_session(), principal_from_request(), code)


@blp.route("/funds/<code>/statement", parameters=[fund_code_parameter()])
class FundStatement(MethodView):
    @blp.operation("getFundStatement", refuses=("fund_not_found",))
    @require_scope("donations:read")
    @blp.arguments(STATEMENT.schema(), **QUERY)
    @blp.response(200, StatementSchema)
    def get(self, args: dict[str, Any], code: str) -> Any:
        """A fund's entries between two dates (inclusive), with opening and closing balances"""
        return reads.statement(db_session(), principal_from_request(), code, args.get("from"), args.get("to"))


@blp.route("/trial-balance")
class TrialBalance(MethodView):
    @blp.operation("getTrialBalance")
    @require_scope("donations:read")
    @blp.arguments(TRIAL_BALANCE.schema(), **QUERY)
    @blp.response(200, TrialBalanceSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Every account's balance at the end of a day, as debits and credits; the totals are equal"""
        return reads.trial_balance(db_session(), principal_from_request(), args.get("as_of"))


@blp.route("/ledger/heads")
class ChainHeads(MethodView):
    @blp.operation("listChainHeads")
    @require_scope("donations:read")
    @blp.response(200, ChainHeadsSchema)
    def get(self) -> Any:
        """The current head of each fund's hash chain"""
        return {"items": reads.chain_heads(db_session(), principal_from_request()), "next_cursor": None}


@blp.route("/ledger/verify")
class ChainVerify(MethodView):
    @blp.operation("verifyLedger", refuses=("fund_not_found",))
    @require_scope("donations:read")
    @blp.arguments(VERIFY.schema(), **QUERY)
    @blp.response(200, ChainReportSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Recompute each fund's hash chain and balances; a broken chain names its first altered entry"""
        checks = reads.verify_ledger(db_session(), principal_from_request(), args.get("fund_code"))
        return {"valid": all(check.valid for check in checks), "funds": checks}
