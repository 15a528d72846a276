"""The donations service's web pages for fund managers, approvers and auditors.

Views are thin: they validate a form, call `commands` (or the batch import's
own checks) and render. They never commit: a response below 400 commits the
request's work, so a page re-rendered with errors answers 422, 409 or 403 and
nothing is written. Successful posts redirect (Post/Redirect/Get) with a
flash message; the CSV import shows its per-row results on the answer itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from services.donations import batch, commands
from services.donations.forms import (
    BATCH_STATUS_LABELS, CHANNEL_LABELS, COLUMN_LABELS, DISBURSEMENT_STATUS_LABELS,
    DONATION_STATUS_LABELS, DONOR_KIND_LABELS, ENTRY_KIND_LABELS, DisbursementFilterForm,
    DisbursementForm, DonationForm, ImportForm, PayForm, RejectForm, ReverseForm, SearchForm,
    StatementForm, chinese,
)
from services.donations.models import Disbursement
from services.donations.schemas import ANONYMOUS_NAME
from shared.auth import authority, login_required_for
from shared.db import db_session
from shared.errors import Conflict, Forbidden, Problem, ServiceUnavailable, ValidationProblem
from shared.forms import submit
from shared.idempotency import submitted_once
from shared.money import Money

bp = Blueprint("web", __name__)
T = TypeVar("T")
LIST_LIMIT = 200

FUND_STATUS_WORDS = {"frozen": "已冻结", "closed": "已关闭", "active": "正常"}
# The commands' refusals (English, for the API) as the pages say them.
DETAILS: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern + r"\Z"), text) for pattern, text in (
    (r"Fund (\S+) is closed and takes no donations\.", "基金 {0} 已关闭，不再接收捐赠。"),
    (r"Fund (\S+) is closed\.", "基金 {0} 已关闭。"),
    (r"Donation (\S+) is already reversed\.", "收据 {0} 的捐赠已经冲销，不能再次冲销。"),
    (r"Reversing (\S+) CNY would take fund (\S+) below zero: it has (\S+) CNY available\.",
     "不能冲销：冲销 {0} 元会使基金 {1} 的余额为负，其可用余额只有 {2} 元。"),
    (r"The requester cannot approve their own disbursement: someone else must\.",
     "申请人不能审批自己提交的拨付申请，须由另一位审批人审批。"),
    (r"Fund (\S+) has (\S+) CNY available, less than the (\S+) CNY to approve\.",
     "不能批准：基金 {0} 的可用余额为 {1} 元，不足拨付金额 {2} 元。"),
    (r"Disbursement (\d+) is (\w+), not requested\.", "拨付申请 #{0} 当前为“{1}”，无需再审批。"),
    (r"Disbursement (\d+) is (\w+); only an approved one is paid\.",
     "拨付 #{0} 当前为“{1}”，只有已批准的拨付才能登记支付。"),
    (r"Disbursement (\d+) is (\w+); it can no longer be rejected\.", "拨付 #{0} 当前为“{1}”，已不能驳回。"),
    (r"Fund (\S+) is (\w+): it pays nothing out, so it cannot .*",
     "基金 {0} 当前为“{1}”状态，不能拨付。"),
    (r"The CSV file is not UTF-8 \(byte (\d+)\)\.",
     "文件不是 UTF-8 编码（第 {0} 字节）。请在 Excel 中“另存为 CSV UTF-8”后再导入。"),
    (r"The CSV file contains NUL characters\.", "文件含有空字符（NUL），不是 CSV 文本文件。"),
    (r"The CSV file is empty: it needs a header row\.", "文件为空：第一行须为表头。"),
    (r"There are no rows\.", "文件中没有数据行。"),
    (r"At most (\d+) rows a request; send the rest in another\.", "每次最多导入 {0} 行，其余请分批导入。"),
    (r"Line (\d+): (.*)", "第 {0} 行格式有误：{1}"),
    (r"The header row must be: (.*) \(the last two optional\)\.", "表头须为：{0}（最后两列可省略）。"),
)]
CSV_HEADER_ERRORS = {"Unknown column.": "未知的列", "Missing column.": "缺少此列", "A column appears twice.": "有重复的列"}


def explain(detail: str) -> str:
    """A command's refusal in Chinese; one not foreseen here is shown as it is."""
    for pattern, text in DETAILS:
        match = pattern.match(detail)
        if match:
            words = [DISBURSEMENT_STATUS_LABELS.get(g, FUND_STATUS_WORDS.get(g, g)) for g in match.groups()]
            return text.format(*words)
    return detail


def _in_chinese(problem: Problem) -> Problem:
    problem.detail = explain(problem.detail)
    if problem.errors:
        problem.errors = {name: [chinese(m) for m in messages] for name, messages in problem.errors.items()}
    return problem


def _refused(problem: Problem) -> Problem:
    """A command said no: roll its work back now, and say why in Chinese.

    The answer is an error status, so the work would be rolled back anyway;
    doing it at once matters on PostgreSQL, where a refused statement (a
    duplicate reference, say) leaves the transaction unusable, and the page
    still reads the database to be shown again.
    """
    db_session().rollback()
    return _in_chinese(problem)


def _submit(form: FlaskForm, action: Callable[[], T],
            problems: tuple[type[Problem], ...] = (ValidationProblem, Conflict)) -> tuple[T | None, int]:
    """shared.forms.submit, with the commands' refusals rolled back and in Chinese."""
    def run() -> T:
        try:
            return action()
        except problems as problem:
            raise _refused(problem) from None

    return submit(form, run, problems)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"donor_kind_labels": DONOR_KIND_LABELS, "channel_labels": CHANNEL_LABELS,
            "donation_status_labels": DONATION_STATUS_LABELS,
            "disbursement_status_labels": DISBURSEMENT_STATUS_LABELS, "entry_kind_labels": ENTRY_KIND_LABELS,
            "batch_status_labels": BATCH_STATUS_LABELS, "column_labels": COLUMN_LABELS, "chinese": chinese,
            "anonymous_name": ANONYMOUS_NAME}


def _fund_codes(writable: bool = False) -> list[str]:
    """The funds with ledger entries the user sees (or may post to): the forms' suggestions."""
    return [row.code for row in commands.chain_heads(db_session(), current_user)
            if not writable or current_user.may_write(row.organization_id)]


def _fund_name(code: str) -> str | None:
    """The fund's name from the funds service, if it answers."""
    try:
        info = authority().fund(code)
    except ServiceUnavailable:
        return None
    return info.name if info else None


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
    session = db_session()
    pending = None
    if current_user.has("disbursements:approve"):
        requested = commands.disbursement_query(current_user, status="requested").order_by(None)
        pending = session.scalar(select(func.count()).select_from(requested.subquery()))
    return render_template("donations/home.html", funds=commands.chain_heads(session, current_user),
                           pending=pending)


# -- donations -----------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
@login_required_for("donations:write")
@submitted_once
def donation_new() -> Any:
    form = DonationForm()
    donation, status = _submit(form, lambda: commands.record_donation(
        db_session(), current_user, form.command_data()))
    if donation:
        flash(f"捐赠已登记，收据编号 {donation.receipt_no}。", "success")
        return redirect(url_for("web.receipt", donation_id=donation.id))
    return render_template("donations/donation_new.html", form=form,
                           fund_codes=_fund_codes(writable=True)), status


def _receipt_page(donation_id: int, form: ReverseForm | None = None, status: int = 200) -> Any:
    donation = commands.get_donation(db_session(), current_user, donation_id)
    may_reverse = (current_user.has("donations:write") and current_user.may_write(donation.organization_id)
                   and donation.status == "recorded")
    return render_template("donations/receipt.html", donation=donation, fund_name=_fund_name(donation.fund_code),
                           form=form or ReverseForm(formdata=None), may_reverse=may_reverse), status


@bp.get("/receipts/<int:donation_id>")
@login_required_for("donations:read")
def receipt(donation_id: int) -> Any:
    return _receipt_page(donation_id)


@bp.post("/receipts/<int:donation_id>/reverse")
@login_required_for("donations:write")
def donation_reverse(donation_id: int) -> Any:
    form = ReverseForm()
    reversal, status = _submit(form, lambda: commands.reverse_donation(
        db_session(), current_user, donation_id, form.reason.data or ""))
    if reversal:
        flash(f"收据 {reversal.donation.receipt_no} 的捐赠已冲销。", "success")
        return redirect(url_for("web.receipt", donation_id=donation_id))
    return _receipt_page(donation_id, form, status)


@bp.get("/search")
@login_required_for("donations:read")
def donation_search() -> Any:
    form = SearchForm(request.args)
    donations = []
    if form.validate():
        donations = list(db_session().scalars(commands.donation_query(
            current_user, fund_code=form.fund_code.data or None, donor=form.donor.data or None,
            date_from=form.date_from.data, date_to=form.date_to.data).limit(LIST_LIMIT)))
    return render_template("donations/search.html", form=form, donations=donations, limit=LIST_LIMIT,
                           fund_codes=_fund_codes()), 422 if form.errors else 200


# -- CSV import ------------------------------------------------------------------

def _file_errors(problem: ValidationProblem) -> list[str]:
    """Why read_csv refused the whole file, in Chinese."""
    errors = problem.errors or {}
    if "body" in errors:
        return [explain(message) for message in errors["body"]]
    return [explain(problem.detail), *(
        f"{name}：{'、'.join(CSV_HEADER_ERRORS.get(m, m) for m in messages)}" for name, messages in errors.items())]


@bp.route("/import", methods=["GET", "POST"])
@login_required_for("donations:write")
def donation_import() -> Any:
    form = ImportForm()
    results = None
    if form.validate_on_submit():
        try:
            rows = batch.read_csv(form.file.data.read())
        except ValidationProblem as problem:
            form.file.errors = [*form.file.errors, *_file_errors(problem)]
        else:
            # The API's batch, row by row: the same checks, statuses and duplicates.
            results = batch.record_rows(db_session(), current_user, rows, is_json=False)
    counts = {status: sum(1 for r in results or () if r["status"] == status) for status in BATCH_STATUS_LABELS}
    return render_template("donations/import.html", form=form, results=results, counts=counts,
                           columns=batch.CSV_COLUMNS, optional=batch.OPTIONAL_COLUMNS,
                           example=batch.CSV_EXAMPLE), 422 if form.errors else 200


@bp.get("/import/template.csv")
@login_required_for("donations:read")
def import_template() -> Response:
    """The header row; with a BOM so that Excel opens it as UTF-8 (the import accepts one)."""
    body = "\ufeff" + ",".join(batch.CSV_COLUMNS) + "\r\n"
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="donations-template.csv"'})


# -- disbursements ---------------------------------------------------------------

@bp.route("/disbursements/new", methods=["GET", "POST"])
@login_required_for("donations:write")
@submitted_once
def disbursement_new() -> Any:
    form = DisbursementForm()
    disbursement, status = _submit(form, lambda: commands.request_disbursement(
        db_session(), current_user, form.command_data()))
    if disbursement:
        flash(f"拨付申请 #{disbursement.id}（{Money(disbursement.amount_fen)} 元）已提交，须由另一位审批人审批。",
              "success")
        return redirect(url_for("web.disbursement_list"))
    return render_template("donations/disbursement_new.html", form=form,
                           fund_codes=_fund_codes(writable=True)), status


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
    ledgers = {code: commands.fund_ledger_row(session, code) for code in {d.fund_code for d in requested + approved}}
    return render_template("donations/queue.html", requested=requested, approved=approved, forms=forms,
                           ledgers=ledgers, error=error, limit=LIST_LIMIT), status


@bp.get("/disbursements/queue")
@login_required_for("disbursements:approve")
def disbursement_queue() -> Any:
    return _queue_page()


@bp.post("/disbursements/<int:disbursement_id>/approve")
@login_required_for("disbursements:approve")
def disbursement_approve(disbursement_id: int) -> Any:
    try:
        disbursement = commands.approve_disbursement(db_session(), current_user, disbursement_id)
    except (Forbidden, Conflict) as problem:
        return _queue_page(problem.status, _refused(problem).detail)
    flash(f"拨付申请 #{disbursement.id} 已批准，金额已从基金 {disbursement.fund_code} 的可用余额中预留。", "success")
    return redirect(url_for("web.disbursement_queue"))


@bp.post("/disbursements/<int:disbursement_id>/reject")
@login_required_for("disbursements:approve")
def disbursement_reject(disbursement_id: int) -> Any:
    form = RejectForm()
    disbursement, status = _submit(form, lambda: commands.reject_disbursement(
        db_session(), current_user, disbursement_id, form.reason.data or ""), problems=(Conflict, Forbidden))
    if disbursement:
        flash(f"拨付申请 #{disbursement.id} 已驳回。", "success")
        return redirect(url_for("web.disbursement_queue"))
    return _queue_page(status, " ".join(form.form_errors) or None, (disbursement_id, form))


def _list_page(status: int = 200, error: str | None = None, paying: tuple[int, PayForm] | None = None) -> Any:
    form = DisbursementFilterForm(request.args)
    disbursements: list[Disbursement] = []
    if form.validate():
        disbursements = list(db_session().scalars(commands.disbursement_query(
            current_user, fund_code=form.fund_code.data or None, status=form.status.data or None,
        ).limit(LIST_LIMIT)))
    may_pay = current_user.has("donations:write")
    forms = {d.id: _row_form(PayForm, d.id, "pay") for d in disbursements
             if d.status == "approved" and may_pay and current_user.may_write(d.organization_id)}
    if paying is not None and paying[0] in forms:
        forms[paying[0]] = _unique_ids(paying[1], paying[0], "pay")
    if form.errors and status == 200:
        status = 422
    return render_template("donations/disbursements.html", form=form, disbursements=disbursements,
                           forms=forms, error=error, limit=LIST_LIMIT, fund_codes=_fund_codes()), status


@bp.get("/disbursements/")
@login_required_for("donations:read")
def disbursement_list() -> Any:
    return _list_page()


@bp.post("/disbursements/<int:disbursement_id>/pay")
@login_required_for("donations:write")
def disbursement_pay(disbursement_id: int) -> Any:
    form = PayForm()
    disbursement, status = _submit(form, lambda: commands.pay_disbursement(
        db_session(), current_user, disbursement_id, form.paid_on.data, form.bank_reference.data or ""))
    if disbursement:
        flash(f"拨付 #{disbursement.id} 已登记支付，基金 {disbursement.fund_code} 的余额已减少。", "success")
        return redirect(url_for("web.disbursement_list", **request.args))
    return _list_page(status, " ".join(form.form_errors) or None, (disbursement_id, form))


# -- statements --------------------------------------------------------------------

@bp.get("/funds/<code>/statement")
@login_required_for("donations:read")
def fund_statement(code: str) -> Any:
    session = db_session()
    info = commands.visible_fund(current_user, code)
    form = StatementForm(request.args)
    statement = None
    if form.validate():
        statement = commands.statement(session, current_user, code, form.date_from.data, form.date_to.data)
    return render_template("donations/statement.html", fund=info, form=form, statement=statement,
                           balance=commands.fund_balance(session, current_user, code),
                           ), 422 if form.errors else 200
