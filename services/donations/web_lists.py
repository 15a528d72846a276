"""The pages that list: donations, disbursements (with their pay forms) and a fund's statement,
each paged and sorted, its filters a GET form, its totals those of every matching row, and
each exported (XLSX; the statement also as PDF) exactly as it is shown, every matching row.

On the same blueprint as web.py, so the endpoints keep their names (web.donation_search,
web.disbursement_list, web.fund_statement, ...). Views are thin: the filters are checked by
their form (forms.py, shapes in listing.py), the query is commands.py's, the page listing.py's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case

from services.donations import commands, documents, reads
from services.donations.forms import DisbursementFilterForm, PayForm, SearchForm, StatementForm
from services.donations.listing import PDF_EXPORT_LIMIT
from shared.listing import EXPORT_LIMIT, Page, export_rows, page_of
from services.donations.models import Disbursement, Donation
from services.donations.web import _fund_codes, _row_form, _unique_ids, bp
from shared import i18n
from shared.auth import login_required_for
from shared.dates import today
from shared.db import db_session, utcnow
from shared.forms import QueryForm, submit
from shared.page_input import own_funds

# What each list sorts by: an allow-list of columns (the links carry only these keys).
DONATION_COLUMNS = {
    "receipt": (Donation.receipt_year, Donation.receipt_seq),
    "received_on": (Donation.received_on,),
    "fund": (Donation.fund_code,),
    # An anonymous donor's name is not sorted by: that would tell it.
    "donor": (case((Donation.donor_anonymous, ""), else_=Donation.donor_name),),
    "kind": (Donation.donor_kind,),
    "channel": (Donation.channel,),
    "amount": (Donation.amount_fen,),
    "status": (Donation.status,),
}
DISBURSEMENT_COLUMNS = {
    "id": (Disbursement.id,),
    "requested_on": (Disbursement.created_at,),
    "fund": (Disbursement.fund_code,),
    "payee": (Disbursement.payee,),
    "amount": (Disbursement.amount_fen,),
    "category": (Disbursement.category,),
    "status": (Disbursement.status,),
    "paid_on": (Disbursement.paid_on,),
}
# The query's keyword for each filter of a page (the form's values are named as the links are).
DONATION_FILTERS = {"fund_code": "fund_code", "organization_id": "organization_id", "donor": "donor",
                    "channel": "channel", "status": "status", "from": "date_from", "to": "date_to",
                    "amount_min": "amount_min", "amount_max": "amount_max"}
DISBURSEMENT_FILTERS = {name: name for name in (
    "fund_code", "organization_id", "payee", "status", "category", "requested_from", "requested_to",
    "paid_from", "paid_to", "amount_min", "amount_max")}


def _query_args(values: dict[str, Any], filters: dict[str, str]) -> dict[str, Any]:
    return {keyword: values[name] for name, keyword in filters.items() if values.get(name) is not None}


def _kept(form: QueryForm, *, page: bool = True) -> dict[str, str]:
    """The list's arguments as asked (only those its form knows), for its links and its exports."""
    names = {field.name for field in form}
    return {name: value for name, value in request.args.items()
            if name in names and value and (page or name != "page")}


def _valid(form: QueryForm) -> bool:
    """The form's verdict; a refused page, sort or direction (hidden fields, carried by the links)
    is said above the form, naming it."""
    if form.validate():
        return True
    for field in form:
        if field.type == "HiddenField" and field.errors:
            form.form_errors.extend(f"{field.label.text}：{message}" for message in field.errors)
            field.errors = []
    return False


def _organization_names() -> dict[int, str]:
    return {fund["organization_id"]: fund.get("organization_name") or "" for fund in own_funds(writable=False)}


def _list_context(form: QueryForm, page: Page | None) -> dict[str, Any]:
    return {"form": form, "listing": page, "kept": _kept(form), "export_args": _kept(form, page=False),
            "export_limit": EXPORT_LIMIT,
            "several_organizations": current_user.sees_all_organizations, "fund_codes": _fund_codes()}


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(body: bytes, name: str) -> Response:
    return Response(body, mimetype=XLSX_TYPE,
                    headers={"Content-Disposition": _attachment(name)})


def _attachment(name: str) -> str:
    return f"attachment; filename=\"{name.encode('ascii', 'replace').decode()}\"; filename*=UTF-8''{quote(name)}"


# -- donations -----------------------------------------------------------------------

@bp.get("/search")
@login_required_for("donations:read")
def donation_search() -> Any:
    form = SearchForm()
    page = None
    if _valid(form):
        page = page_of(db_session(), commands.donation_query(current_user, **_query_args(form.values, DONATION_FILTERS)),
                       columns=DONATION_COLUMNS, tiebreak=Donation.id, values=form.values, sums=("amount_fen",))
    return render_template("donations/search.html", **_list_context(form, page)), 422 if form.errors else 200


@bp.get("/search/export.xlsx")
@login_required_for("donations:read")
def donation_export() -> Any:
    form = SearchForm()
    if not _valid(form):
        return render_template("donations/search.html", **_list_context(form, None)), 422
    session = db_session()
    rows = export_rows(session, commands.donation_query(current_user, **_query_args(form.values, DONATION_FILTERS)),
                       columns=DONATION_COLUMNS, tiebreak=Donation.id, values=form.values)
    body = documents.donations_xlsx(rows, _filter_summary(form), _organization_names())
    return _xlsx(body, f"{i18n.translate('Donations')}-{today().isoformat()}.xlsx")


# -- disbursements -------------------------------------------------------------------

def _disbursement_query(values: dict[str, Any]) -> Any:
    return commands.disbursement_query(current_user, **_query_args(values, DISBURSEMENT_FILTERS))


def _list_page(status: int = 200, error: str | None = None, paying: tuple[int, PayForm] | None = None) -> Any:
    form = DisbursementFilterForm()
    page = None
    disbursements: list[Disbursement] = []
    if _valid(form):
        page = page_of(db_session(), _disbursement_query(form.values), columns=DISBURSEMENT_COLUMNS,
                       tiebreak=Disbursement.id, values=form.values, sums=("amount_fen",))
        disbursements = page.rows
    may_pay = current_user.has("donations:write")
    forms = {d.id: _row_form(PayForm, d.id, "pay") for d in disbursements
             if d.status == "approved" and may_pay and current_user.may_write(d.organization_id)}
    if paying is not None and paying[0] in forms:
        forms[paying[0]] = _unique_ids(paying[1], paying[0], "pay")
    if form.errors and status == 200:
        status = 422
    return render_template("donations/disbursements.html", disbursements=disbursements, forms=forms, error=error,
                           filters=_kept(form), **_list_context(form, page)), status


@bp.get("/disbursements/")
@login_required_for("donations:read")
def disbursement_list() -> Any:
    return _list_page()


@bp.get("/disbursements/export.xlsx")
@login_required_for("donations:read")
def disbursement_export() -> Any:
    form = DisbursementFilterForm()
    if not _valid(form):
        return _list_page()
    rows = export_rows(db_session(), _disbursement_query(form.values), columns=DISBURSEMENT_COLUMNS,
                       tiebreak=Disbursement.id, values=form.values)
    body = documents.disbursements_xlsx(rows, _filter_summary(form), _organization_names())
    return _xlsx(body, f"{i18n.translate('Disbursements')}-{today().isoformat()}.xlsx")


@bp.post("/disbursements/<int:disbursement_id>/pay")
@login_required_for("donations:write")
def disbursement_pay(disbursement_id: int) -> Any:
    form = PayForm()
    disbursement, status = submit(form, lambda: commands.pay_disbursement(
        db_session(), current_user, disbursement_id, form.values["paid_on"], form.values["bank_reference"]))
    if disbursement:
        flash(i18n.translate("Disbursement #%(id)s recorded as paid: fund %(fund_code)s's balance is reduced by it.")
              % {"id": disbursement.id, "fund_code": disbursement.fund_code}, "success")
        return redirect(url_for("web.disbursement_list", **_kept(DisbursementFilterForm())))
    return _list_page(status, " ".join(form.form_errors) or None, (disbursement_id, form))


def _filter_summary(form: QueryForm) -> list[tuple[str, str]]:
    """What an export was filtered by, as its first lines say it: (the field's label, the value shown)."""
    said = []
    for field in form:
        if field.name in ("page", "sort", "order", "size") or not field.data:
            continue
        value = str(field.data)
        if field.type == "SelectField":
            value = next((str(choice[1]) for choice in field.iter_choices() if choice[2]), value)
        said.append((field.label.text, value))
    return said


# -- statements ----------------------------------------------------------------------

def _fund_context(code: str) -> dict[str, Any]:
    """The fund, its organisation's name and when the page was made, for the print header."""
    info = commands.visible_fund(current_user, code)
    organization = next((fund.get("organization_name") for fund in own_funds(writable=False)
                         if fund["code"] == code), None)
    return {"fund": info, "organization_name": organization or ""}


@bp.get("/funds/<code>/statement")
@login_required_for("donations:read")
def fund_statement(code: str) -> Any:
    session = db_session()
    context = _fund_context(code)
    form = StatementForm()
    statement = None
    if _valid(form):
        values = form.values
        statement = reads.statement_page(session, current_user, code, values.get("from"), values.get("to"),
                                         int(values["page"]), int(values["size"]))
    listing = None if statement is None else Page(statement["rows"], statement["page"], statement["size"],
                                                   statement["totals"].count, "date", "asc")
    return render_template("donations/statement.html", form=form, statement=statement, listing=listing,
                           export_args=_kept(form, page=False), periods=_periods(),
                           balance=reads.fund_balance(session, current_user, code), printed_at=_now(),
                           pdf_limit=PDF_EXPORT_LIMIT, export_limit=EXPORT_LIMIT,
                           **context), 422 if form.errors else 200


# A statement's whole period as a document: at most so many lines, made by, sent as.
STATEMENT_DOCUMENTS = {
    "xlsx": (EXPORT_LIMIT, documents.statement_xlsx, XLSX_TYPE),
    "pdf": (PDF_EXPORT_LIMIT, documents.statement_pdf, "application/pdf"),
}


@bp.get("/funds/<code>/statement.<any(xlsx, pdf):fmt>")
@login_required_for("donations:read")
def fund_statement_document(code: str, fmt: str) -> Any:
    context = _fund_context(code)
    form = StatementForm()
    if not _valid(form):
        return fund_statement(code)
    limit, make, mimetype = STATEMENT_DOCUMENTS[fmt]
    document = reads.statement_document(db_session(), current_user, code, form.values.get("from"),
                                        form.values.get("to"), limit)
    body = make(document, printed_at=_now(), **context)
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": _attachment(f"{i18n.translate('Statement')}-{code}-{_period_name(document)}.{fmt}")})


def _periods() -> list[tuple[str, dict[str, str]]]:
    """Periods a statement is often asked for: this month, last month, this year."""
    now = today()
    first = now.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    return [(i18n.translate("This month"), {"from": first.isoformat(), "to": now.isoformat()}),
            (i18n.translate("Last month"), {"from": last_month_end.replace(day=1).isoformat(),
                                            "to": last_month_end.isoformat()}),
            (i18n.translate("This year"), {"from": now.replace(month=1, day=1).isoformat(), "to": now.isoformat()})]


def _period_name(document: dict[str, Any]) -> str:
    start, end = document["from"], document["to"]
    return f"{start.isoformat() if start else ''}_{end.isoformat() if end else today().isoformat()}"


def _now() -> dt.datetime:
    return utcnow()


@bp.context_processor
def _list_links() -> dict[str, Any]:
    def list_url(**changes: Any) -> str:
        """This page's address with some arguments changed (None drops one): its filters kept."""
        args = {**request.args.to_dict(), **changes}
        kept = {name: value for name, value in args.items() if value not in (None, "")}
        # The query is encoded here, not by url_for: a query word like `_method` or `_anchor` would
        # be taken by url_for as its own argument.
        path = url_for(request.endpoint or "web.home", **(request.view_args or {}))
        return f"{path}?{urlencode(kept)}" if kept else path

    return {"list_url": list_url}
