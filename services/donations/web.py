"""The donations service's web pages for fund managers, approvers and auditors.

Views are thin: a form checked by the API's own rules (forms.py), a command,
a page. They never commit: a response below 400 commits the request's work,
so a page shown again with a refusal answers 422, 409 or 403 and nothing is
written. Refusals are shown in the reader's language (shared.i18n).
Successful posts redirect (Post/Redirect/Get) with a flash message; the CSV
import shows its per-row results on the answer itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from services.donations import commands, dashboard, reads
from services.donations.forms import (
    BATCH_STATUS_LABELS, CHANNEL_LABELS, COLUMN_LABELS, DONOR_KIND_LABELS, ENTRY_KIND_LABELS, AttachmentForm,
    DisbursementForm, DonationForm, RejectForm, ReverseForm, WithdrawForm,
)
from services.donations.models import Disbursement
from services.donations.names import fund_name
from services.donations.receipt_pdf import receipt_context, receipt_download
from services.donations.rules import ATTACHMENT_CLOSED_STATUSES, ATTACHMENT_MAX_BYTES
from services.donations.views import attachment_download
from shared import i18n, page_input
from shared.auth import authority, login_required_for
from shared.db import db_session, snapshot
from shared.errors import Problem
from shared.forms import shown_refusal, submit
from shared.idempotency import submitted_once
from shared.money import Money
from shared.peers import peers
from shared.refusals import Message
from shared.period_names import period_name

bp = Blueprint("web", __name__)
LIST_LIMIT = 200


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"donor_kind_labels": DONOR_KIND_LABELS, "channel_labels": CHANNEL_LABELS,
            "entry_kind_labels": ENTRY_KIND_LABELS,
            "batch_status_labels": BATCH_STATUS_LABELS, "column_labels": COLUMN_LABELS,
            "anonymous_name": i18n.translate("Anonymous donor"), "frozen_funds": _frozen_funds}


def _frozen_funds() -> list[dict[str, Any]]:
    """The frozen funds among those the user may record to: the forms say what frozen means."""
    return [fund for fund in page_input.own_funds(writable=True) if fund["status"] == "frozen"]


def _fund_codes(writable: bool = False) -> list[str]:
    """The funds with ledger entries the user sees (or may post to): the forms' suggestions."""
    return [row.code for row in reads.chain_heads(db_session(), current_user)
            if not writable or current_user.may_write(row.organization_id)]


def _approval_rule(code: str) -> str | None:
    """The approval rule of the fund's organisation, as the funds service says, if it answers."""
    try:
        info = authority().fund(code)
    except Problem:
        return None
    return info.approval_rule if info else None


def _row_form(form_class: type[FlaskForm], item_id: int, prefix: str) -> FlaskForm:
    """An empty form for one row of a table, its fields' ids unique on the page."""
    return _unique_ids(form_class(formdata=None), item_id, prefix)


def _unique_ids(form: FlaskForm, item_id: int, prefix: str) -> FlaskForm:
    for field in form:
        if field.name != "csrf_token":
            field.id = field.label.field_id = f"{prefix}-{item_id}-{field.name}"
    return form


# -- overview ------------------------------------------------------------------

@bp.get("/")
@login_required_for("donations:read")
def home() -> Any:
    """How the funds are doing: the home a fund manager lands on (dashboard.py)."""
    session = db_session()
    snapshot(session)  # the balances, the months and the last entries of one moment
    view = dashboard.overview(session, current_user)
    pending = (dashboard.approval_queue_size(session, current_user)
               if current_user.has("disbursements:approve") else None)
    mine = (dashboard.own_pending_requests(session, current_user)
            if current_user.has("donations:write") else None)
    return render_template("donations/home.html", view=view, pending=pending, mine=mine,
                           chart=dashboard.chart_svg(view), period_name=period_name)


# -- donations -----------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@login_required_for("donations:write")
@submitted_once
def donation_new() -> Any:
    form = DonationForm()
    answer, status = submit(form, lambda: commands.record_donation(db_session(), current_user, form.values))
    if answer is not None:
        donation = answer.get_json()
        flash(i18n.translate("Donation recorded: receipt %(receipt_no)s.") % {"receipt_no": donation["receipt_no"]},
              "success")
        return redirect(url_for("web.receipt", donation_id=donation["id"]))
    return render_template("donations/donation_new.html", form=form,
                           fund_codes=_fund_codes(writable=True)), status


def _receipt_page(donation_id: int, form: ReverseForm | None = None, status: int = 200) -> Any:
    donation = commands.get_donation(db_session(), current_user, donation_id)
    may_reverse = (current_user.has("donations:write") and current_user.may_write(donation.organization_id)
                   and donation.status == "recorded")
    return render_template("donations/receipt.html", **receipt_context(donation),
                           form=form or ReverseForm(formdata=None), may_reverse=may_reverse), status


@bp.get("/receipts/<int:donation_id>")
@login_required_for("donations:read")
def receipt(donation_id: int) -> Any:
    return _receipt_page(donation_id)


@bp.get("/receipts/<int:donation_id>.pdf")
@login_required_for("donations:read")
def receipt_pdf(donation_id: int) -> Response:
    """The receipt as a PDF to file, named by its receipt number."""
    return receipt_download(commands.get_donation(db_session(), current_user, donation_id))


@bp.post("/receipts/<int:donation_id>/reverse")
@login_required_for("donations:write")
def donation_reverse(donation_id: int) -> Any:
    form = ReverseForm()
    reversal, status = submit(form, lambda: commands.reverse_donation(
        db_session(), current_user, donation_id, form.values["reason"]))
    if reversal:
        flash(i18n.translate("The donation of receipt %(receipt_no)s has been reversed.")
              % {"receipt_no": reversal.donation.receipt_no}, "success")
        return redirect(url_for("web.receipt", donation_id=donation_id))
    return _reverse_page(donation_id, form, status)


@bp.get("/receipts/<int:donation_id>/reverse")
@login_required_for("donations:write")
def donation_reverse_confirm(donation_id: int) -> Any:
    """What reversing would do, asked first: only the confirmation's POST (above) reverses."""
    return _reverse_page(donation_id, ReverseForm())


def _reverse_page(donation_id: int, form: ReverseForm, status: int = 200) -> Any:
    session = db_session()
    donation = commands.get_donation(session, current_user, donation_id)
    if not current_user.may_write(donation.organization_id):
        raise Problem("role_forbidden")
    return render_template("donations/confirm_reverse.html", donation=donation, form=form,
                           fund_name=fund_name(donation.fund_code), goods=donation.channel == "in_kind",
                           balance=reads.fund_balance(session, current_user, donation.fund_code),
                           cash=commands.available_cash_fen(session, donation.fund_code),
                           may_reverse=donation.status == "recorded"), status


# -- import: web_import.py (upload, preview, confirm, result), on this blueprint ------------

# -- disbursements ---------------------------------------------------------------

@bp.route("/disbursements/new", methods=["GET", "POST"])
@login_required_for("donations:write")
@submitted_once
def disbursement_new() -> Any:
    form = DisbursementForm()
    disbursement, status = submit(form, lambda: _request_disbursement(form.values))
    if disbursement:
        flash(i18n.translate("Disbursement request #%(id)s (%(amount)s) submitted: another approver must approve it.")
              % {"id": disbursement.id, "amount": Money(disbursement.amount_fen).display()},
              "success")
        return redirect(url_for("web.disbursement_list"))
    return render_template("donations/disbursement_new.html", form=form,
                           fund_codes=_fund_codes(writable=True), available_cash=_available_cash(),
                           payable=_payable()), status


# The ledger's refusals of what a disbursement names, shown beside the field they concern.
CAP_REFUSAL_FIELDS = {"budget_line_unknown": "budget_line", "budget_line_exceeded": "budget_line",
                      "project_fund_mismatch": "project_code", "project_payable_exceeded": "project_code",
                      "need_not_pledged": "need_id", "need_pledge_exceeded": "need_id"}


def _request_disbursement(values: dict[str, Any]) -> Disbursement:
    try:
        return commands.request_disbursement_within_cash(db_session(), current_user, values)
    except Problem as problem:
        name = CAP_REFUSAL_FIELDS.get(problem.code)
        if name is not None:
            raise Problem(problem.code, errors={name: [Message(problem.code, problem.params)]}) from problem
        raise


def _payable() -> dict[str, Any] | None:
    """What the user's organisation may name (its projects' lines, its needs), from the programmes
    service; None when it does not answer (the form then takes the code, line and number as typed)."""
    try:
        return peers().answer("programmes", "GET", "/internal/v1/payable",  # type: ignore[no-any-return]
                              params={"organization_id": current_user.organization_id})
    except Problem:
        return None


def _available_cash() -> dict[str, dict[str, Any]]:
    """The cash each fund the user may request from could pay today, for the request page's hint."""
    return {row.code: {"fen": row.available_cash_fen, "shown": Money(row.available_cash_fen).display()}
            for row in reads.chain_heads(db_session(), current_user) if current_user.may_write(row.organization_id)}


def _disbursement_page(disbursement_id: int, status: int = 200, withdraw_form: WithdrawForm | None = None,
                       attachment_form: AttachmentForm | None = None) -> Any:
    """A disbursement's own page: its details, its timeline, its documents, what the user may do to it."""
    session = db_session()
    disbursement = commands.get_disbursement(session, current_user, disbursement_id)
    attachments = list(session.scalars(commands.attachment_query(session, current_user, disbursement_id)))
    may_withdraw = (disbursement.status == "requested" and disbursement.requested_by == current_user.actor
                    and current_user.has("donations:write"))
    may_attach = (disbursement.status not in ATTACHMENT_CLOSED_STATUSES
                  and commands.may_attach(current_user, disbursement))
    return render_template(
        "donations/disbursement.html", d=disbursement, fund_name=fund_name(disbursement.fund_code),
        steps=commands.timeline(session, current_user, disbursement_id), attachments=attachments,
        cash=commands.available_cash_fen(session, disbursement.fund_code), may_withdraw=may_withdraw,
        may_attach=may_attach, withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        attachment_form=attachment_form or AttachmentForm(formdata=None),
        max_megabytes=ATTACHMENT_MAX_BYTES // (1024 * 1024)), status


@bp.get("/disbursements/<int:disbursement_id>")
@login_required_for("donations:read")
def disbursement_detail(disbursement_id: int) -> Any:
    return _disbursement_page(disbursement_id)


@bp.post("/disbursements/<int:disbursement_id>/withdraw")
@login_required_for("donations:write")
def disbursement_withdraw(disbursement_id: int) -> Any:
    form = WithdrawForm()
    disbursement, status = submit(form, lambda: commands.withdraw_disbursement(
        db_session(), current_user, disbursement_id, form.values.get("reason") or ""))
    if disbursement:
        flash(i18n.translate("Disbursement request #%(id)s has been withdrawn.") % {"id": disbursement.id}, "success")
        return redirect(url_for("web.disbursement_detail", disbursement_id=disbursement_id))
    return _disbursement_page(disbursement_id, status, withdraw_form=form)


@bp.post("/disbursements/<int:disbursement_id>/attachments")
@login_required_for("donations:read")
def disbursement_attach(disbursement_id: int) -> Any:
    form = AttachmentForm()
    attachment, status = submit(form, lambda: commands.attach(db_session(), current_user, disbursement_id,
                                                              form.file.data))
    if attachment:
        flash(i18n.translate("%(name)s is attached (SHA-256 %(sha256)s).") % {
            "name": attachment.filename, "sha256": attachment.sha256}, "success")
        return redirect(url_for("web.disbursement_detail", disbursement_id=disbursement_id))
    return _disbursement_page(disbursement_id, status, attachment_form=form)


@bp.get("/disbursements/<int:disbursement_id>/attachments/<int:attachment_id>")
@login_required_for("donations:read")
def disbursement_attachment(disbursement_id: int, attachment_id: int) -> Any:
    return attachment_download(commands.get_attachment(db_session(), current_user, disbursement_id,
                                                       attachment_id))


def _queue_page(status: int = 200, error: str | None = None,
                rejected: tuple[int, RejectForm] | None = None) -> Any:
    """Requested disbursements to approve or reject, and approved unpaid ones (still rejectable)."""
    session = db_session()

    def decidable(state: str) -> list[Disbursement]:
        query = commands.disbursement_query(current_user, status=state).limit(LIST_LIMIT)
        return [d for d in session.scalars(query) if current_user.may_write(d.organization_id)]

    requested, approved = decidable("requested"), decidable("approved")
    forms = {d.id: _row_form(RejectForm, d.id, "reject") for d in [*requested, *approved]}
    if rejected is not None and rejected[0] in forms:
        forms[rejected[0]] = _unique_ids(rejected[1], rejected[0], "reject")
    ledgers = {code: reads.fund_ledger_row(session, code) for code in {d.fund_code for d in requested + approved}}
    rules = {code: _approval_rule(code) for code in {d.fund_code for d in requested}}
    return render_template("donations/queue.html", requested=requested, approved=approved, forms=forms,
                           ledgers=ledgers, rules=rules, error=error, limit=LIST_LIMIT), status


@bp.get("/disbursements/queue")
@login_required_for("disbursements:approve")
def disbursement_queue() -> Any:
    return _queue_page()


@bp.post("/disbursements/<int:disbursement_id>/approve")
@login_required_for("disbursements:approve")
def disbursement_approve(disbursement_id: int) -> Any:
    try:
        disbursement = commands.approve_disbursement(db_session(), current_user, disbursement_id)
    except Problem as problem:
        return _queue_page(problem.status, shown_refusal(problem).in_language()[0])
    flash(i18n.translate("Disbursement request #%(id)s approved: its amount is set aside from fund %(fund_code)s's "
                         "available balance.") % {"id": disbursement.id, "fund_code": disbursement.fund_code},
          "success")
    return redirect(url_for("web.disbursement_queue"))


@bp.post("/disbursements/<int:disbursement_id>/reject")
@login_required_for("disbursements:approve")
def disbursement_reject(disbursement_id: int) -> Any:
    form = RejectForm()
    disbursement, status = submit(form, lambda: commands.reject_disbursement(
        db_session(), current_user, disbursement_id, form.values["reason"]))
    if disbursement:
        flash(i18n.translate("Disbursement request #%(id)s rejected.") % {"id": disbursement.id}, "success")
        return redirect(url_for("web.disbursement_queue"))
    return _reject_page(disbursement_id, form, status)


@bp.get("/disbursements/<int:disbursement_id>/reject")
@login_required_for("disbursements:approve")
def disbursement_reject_confirm(disbursement_id: int) -> Any:
    """What rejecting would do, asked first: only the confirmation's POST (above) rejects."""
    return _reject_page(disbursement_id, RejectForm())


def _reject_page(disbursement_id: int, form: RejectForm, status: int = 200) -> Any:
    session = db_session()
    disbursement = commands.get_disbursement(session, current_user, disbursement_id)
    if not current_user.may_write(disbursement.organization_id):
        raise Problem("role_forbidden")
    return render_template(
        "donations/confirm_reject.html", d=disbursement, form=_unique_ids(form, disbursement_id, "reject"),
        fund_name=fund_name(disbursement.fund_code), back=url_for("web.disbursement_queue"),
        balance=reads.fund_balance(session, current_user, disbursement.fund_code),
        cash=commands.available_cash_fen(session, disbursement.fund_code),
        may_reject=disbursement.status in ("requested", "approved")), status


# The lists (donations, disbursements with their pay forms, statements) and their exports are in
# web_lists.py, on this blueprint.
from services.donations import web_lists  # noqa: E402,F401


# The import's pages, on this blueprint.
from services.donations import web_import  # noqa: E402,F401
