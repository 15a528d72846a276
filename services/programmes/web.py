"""The programmes service's web pages: the needs list (点单式需求清单), a need and its claims,
the villages, an organisation's claims.

Views are thin: a form checked by the API's own rules (forms.py), the same
domain operation the API calls (needs.py), a page. They never commit: a
response below 400 commits the request's work, so a page shown again with a
refusal answers 409 or 422 and nothing is written. Refusals are shown in the
reader's language, beside the field they concern. Successful posts redirect
(Post/Redirect/Get) with a flash message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from services.programmes import calendar, needs, organizations, web_reads
from services.programmes.forms import (
    CATEGORY_LABELS, CLAIM_STATUS_LABELS, NEED_STATUS_LABELS, PRIORITY_LABELS, ButtonForm, ClaimFilterForm,
    ClaimForm, NeedFilterForm, NeedForm, NoteForm, VillageFilterForm, VillageForm,
)
from services.programmes.models import Claim
from shared import i18n
from shared.auth import login_required_for
from shared.dates import today
from shared.db import db_session
from shared.errors import Problem
from shared.forms import ALL, QueryForm, shown_refusal, submit
from shared.idempotency import submitted_once
from shared.money import Money
from shared.refusals import N_, Message
from shared.shapes import quantity_text

bp = Blueprint("programmes_web", __name__)

# A claim's refusals that are about the amount typed: shown beside it.
AMOUNT_REFUSALS = ("claim_exceeds_open",)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"category_labels": CATEGORY_LABELS, "priority_labels": PRIORITY_LABELS,
            "need_status_labels": NEED_STATUS_LABELS, "claim_status_labels": CLAIM_STATUS_LABELS,
            "organization_name": organizations.name, "list_url": _list_url, "quantity": quantity_text}


def _list_url(**changes: Any) -> str:
    """This page's address with some arguments changed (None drops one): its filters kept."""
    args = {**request.args.to_dict(), **changes}
    kept = {name: value for name, value in args.items() if value not in (None, "")}
    path = url_for(request.endpoint or "programmes_web.need_list", **(request.view_args or {}))
    return f"{path}?{urlencode(kept)}" if kept else path


def _valid(form: QueryForm) -> bool:
    """The filter's verdict; a refused page (a hidden field, carried by the links) is said above the form."""
    if form.validate():
        return True
    for field in form:
        if field.type == "HiddenField" and field.errors:
            form.form_errors.extend(f"{field.label.text}：{message}" for message in field.errors)
            field.errors = []
    return False


def _may_claim() -> bool:
    return bool(current_user.has("programmes:write"))


def _own(claim: Claim) -> bool:
    """A claim the user may move on: their organisation's, with programmes:write."""
    return _may_claim() and bool(current_user.may_write(claim.organization_id))


# -- the needs list ----------------------------------------------------------------------------

@bp.get("/")
@login_required_for("programmes:read")
def need_list() -> Any:
    session = db_session()
    form = NeedFilterForm()
    township = request.args.get("township") or None
    form.township.choices = [ALL, *(SelectChoice(name, name) for name in web_reads.townships(session))]
    form.village_id.choices = [ALL, *(SelectChoice(str(v.id), v.name if township else f"{v.township} · {v.name}")
                                      for v in web_reads.villages(session, township))]
    listing = web_reads.need_page(session, form.values) if _valid(form) else None
    disclosures = calendar.attention(session, current_user.organization_id, today())  # the banner's
    return render_template("programmes/needs.html", form=form, listing=listing,
                           disclosures=disclosures), 422 if form.errors else 200


# -- a need ------------------------------------------------------------------------------------

def _need_page(need_id: int, claim_form: ClaimForm | None = None, status: int = 200,
               error: str | None = None) -> Any:
    session = db_session()
    need = needs.with_figures(session, [needs.get_need(session, need_id)])[0]
    claims = web_reads.need_claims(session, current_user, need_id)
    may_claim = _may_claim() and need.status != "closed" and need.open_fen > 0
    return render_template(
        "programmes/need.html", need=need, claims=claims, own=_own, error=error,
        claim_form=claim_form or ClaimForm(formdata=None), button=ButtonForm(formdata=None), may_claim=may_claim,
        percent=min(100, need.pledged_fen * 100 // need.amount_fen)), status


@bp.get("/needs/<int:need_id>")
@login_required_for("programmes:read")
def need_detail(need_id: int) -> Any:
    return _need_page(need_id)


def _claim(need_id: int, values: dict[str, Any]) -> Claim:
    """needs.claim_need, its refusals of the amount said beside the amount field."""
    try:
        return needs.claim_need(db_session(), current_user, need_id, values)
    except Problem as problem:
        if problem.code in AMOUNT_REFUSALS:
            raise Problem(problem.code, errors={"amount": [Message(problem.code, problem.params)]}) from problem
        raise


@bp.post("/needs/<int:need_id>/claims")
@login_required_for("programmes:write")
@submitted_once
def need_claim(need_id: int) -> Any:
    form = ClaimForm()
    claim, status = submit(form, lambda: _claim(need_id, form.values))
    if claim is not None:
        flash(i18n.translate("You pledged %(amount)s to this need (claim #%(id)s).")
              % {"amount": Money(claim.amount_fen).display(), "id": claim.id}, "success")
        return redirect(url_for("programmes_web.need_detail", need_id=need_id))
    return _need_page(need_id, form, status)


def _confirm_page(template: str, form: Any, status: int = 200, **context: Any) -> Any:
    return render_template(template, form=form, **context), status


@bp.route("/needs/<int:need_id>/close", methods=["GET", "POST"])
@login_required_for("admin")
def need_close(need_id: int) -> Any:
    """What closing would do, asked first: only the confirmation's POST closes."""
    form = ButtonForm()
    closed, status = submit(form, lambda: needs.close_need(db_session(), current_user, need_id))
    if closed is not None:
        flash(i18n.translate("The need is closed: nothing more can be pledged to it."), "success")
        return redirect(url_for("programmes_web.need_detail", need_id=need_id))
    session = db_session()
    need = needs.with_figures(session, [needs.get_need(session, need_id)])[0]
    return _confirm_page("programmes/confirm_close.html", form, status, need=need)


# -- a claim's steps ---------------------------------------------------------------------------

# What each button does, who may press it, and what the page says once it is done.
STEPS = {
    "start": (needs.start_claim, "programmes:write", N_("Work on claim #%(id)s has started.")),
    "fulfil": (needs.fulfil_claim, "programmes:write",
               N_("Claim #%(id)s is fulfilled: the village may now sign it off.")),
    "sign-off": (needs.sign_off_claim, "admin", N_("Claim #%(id)s is signed off for the village.")),
}


def _claim_need_id(claim_id: int) -> int:
    return int(needs.get_claim(db_session(), current_user, claim_id).need_id)


@bp.post("/claims/<int:claim_id>/<any(start, fulfil, 'sign-off'):step>")
@login_required_for("programmes:read")
def claim_step(claim_id: int, step: str) -> Any:
    operation, scope, done = STEPS[step]
    if not current_user.has(scope):
        raise Problem("role_forbidden")
    need_id = _claim_need_id(claim_id)
    try:  # the CSRF token is checked before any view (CSRFProtect)
        claim = operation(db_session(), current_user, claim_id)
    except Problem as problem:
        refused = shown_refusal(problem)
        return _need_page(need_id, status=refused.status, error=refused.in_language()[0])
    flash(i18n.translate(done) % {"id": claim.id}, "success")
    return redirect(url_for("programmes_web.need_detail", need_id=need_id))


@bp.route("/claims/<int:claim_id>/withdraw", methods=["GET", "POST"])
@login_required_for("programmes:write")
def claim_withdraw(claim_id: int) -> Any:
    """What withdrawing would do, asked first: only the confirmation's POST withdraws."""
    session = db_session()
    claim = needs.get_claim(session, current_user, claim_id)
    if not _own(claim):
        raise Problem("claim_not_found", id=claim_id)
    form = NoteForm()
    withdrawn, status = submit(form, lambda: needs.withdraw_claim(session, current_user, claim_id,
                                                                  form.values["note"]))
    if withdrawn is not None:
        flash(i18n.translate("Claim #%(id)s is withdrawn: its %(amount)s is open to pledge again.")
              % {"id": claim_id, "amount": Money(withdrawn.amount_fen).display()}, "success")
        return redirect(url_for("programmes_web.need_detail", need_id=withdrawn.need_id))
    claim = needs.get_claim(session, current_user, claim_id)
    return _confirm_page("programmes/confirm_withdraw.html", form, status, claim=claim,
                         may_withdraw=claim.status in ("pledged", "in_progress"))


# -- villages ----------------------------------------------------------------------------------

def _village_list(form: VillageForm | None = None, status: int = 200) -> Any:
    session = db_session()
    filters = VillageFilterForm()
    filters.township.choices = [ALL, *(SelectChoice(name, name) for name in web_reads.townships(session))]
    listing = web_reads.village_page(session, filters.values) if _valid(filters) else None
    counts = web_reads.need_counts(session, [v.id for v in listing.rows]) if listing else {}
    if filters.errors and status == 200:
        status = 422
    return render_template("programmes/villages.html", filters=filters, listing=listing, counts=counts,
                           form=form or VillageForm(formdata=None)), status


@bp.get("/villages")
@login_required_for("programmes:read")
def village_list() -> Any:
    return _village_list()


@bp.post("/villages")
@login_required_for("admin")
@submitted_once
def village_new() -> Any:
    form = VillageForm()
    village, status = submit(form, lambda: needs.create_village(db_session(), current_user, form.values))
    if village is not None:
        flash(i18n.translate("Village %(name)s of %(township)s is listed.")
              % {"name": village.name, "township": village.township}, "success")
        return redirect(url_for("programmes_web.village_detail", village_id=village.id))
    return _village_list(form, status)


def _village_page(village_id: int, form: NeedForm | None = None, status: int = 200) -> Any:
    session = db_session()
    village = needs.get_village(session, village_id)
    if form is None:
        form = NeedForm(formdata=None)
        form.village_id.data = str(village.id)
    return render_template("programmes/village.html", village=village, form=form,
                           rows=web_reads.village_needs(session, village_id)), status


@bp.get("/villages/<int:village_id>")
@login_required_for("programmes:read")
def village_detail(village_id: int) -> Any:
    return _village_page(village_id)


@bp.post("/villages/<int:village_id>/needs")
@login_required_for("admin")
@submitted_once
def village_need_new(village_id: int) -> Any:
    form = NeedForm()
    need, status = submit(form, lambda: needs.create_need(db_session(), current_user,
                                                          {**form.values, "village_id": village_id}))
    if need is not None:
        flash(i18n.translate("The need %(title)s is posted on the needs list.") % {"title": need.title}, "success")
        return redirect(url_for("programmes_web.need_detail", need_id=need.id))
    form.village_id.data = str(village_id)
    return _village_page(village_id, form, status)


# -- an organisation's claims ------------------------------------------------------------------

@bp.get("/claims")
@login_required_for("programmes:read")
def claim_list() -> Any:
    form = ClaimFilterForm()
    listing = web_reads.claim_page(db_session(), current_user, form.values) if _valid(form) else None
    return render_template("programmes/claims.html", form=form, listing=listing,
                           every_organization=current_user.sees_all_organizations), 422 if form.errors else 200
