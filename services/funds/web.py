"""The funds service's web pages for fund managers and admins.

Views are thin: they validate a form, call `commands` and render. They never
commit: a response below 400 commits the request's work, so every page that
re-renders a form with errors answers 422 (or 409) and nothing is written.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.routing import BaseConverter
from wtforms import SelectChoice

from services.funds import commands, fund_page
from services.funds.forms import (
    CHARITY_KIND_LABELS, FUND_KIND_LABELS, ORGANIZATION_KIND_LABELS, SCOPE_LABELS, ApiKeyForm, ApprovalRuleForm,
    CharityKindForm,
    CloseFundForm, FundCreateForm, FundEditForm, FundFilterForm, LoginForm, OrganizationForm,
    UserCreateForm, UserEditForm,
)
from services.funds.models import Organization, User
from shared import i18n
from shared.auth import _sibling_url as sibling_url, login_required_for
from shared.contracts.funds import FUND_CODE_PATTERN
from shared.db import db_session
from shared.errors import Problem
from shared.forms import ALL, problem_onto_form, safe_next, shown_refusal, submit
from shared.period_names import period_name
from shared.refusals import Message, N_
from shared.throttle import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS, client_address, throttle

bp = Blueprint("web", __name__)


class FundCodeConverter(BaseConverter):
    """<fund:code> matches fund codes only, so /logout or /users/ never look like a fund."""

    regex = FUND_CODE_PATTERN


# Before the routes below are added, which use it.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("fund", FundCodeConverter))


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"fund_kind_labels": FUND_KIND_LABELS, "organization_kind_labels": ORGANIZATION_KIND_LABELS,
            "charity_kind_labels": CHARITY_KIND_LABELS, "scope_labels": SCOPE_LABELS}


def _form_page(form: FlaskForm, title: str, submit: str, status: int = 200,
               cancel: str | None = None) -> Any:
    return render_template("funds/form_page.html", form=form, title=title, submit=submit,
                           cancel=cancel), status


def _organizations(writable: bool = False) -> list[Organization]:
    me = current_user
    organizations = db_session().scalars(commands.visible_organizations(me))
    return [o for o in organizations if not writable or me.may_write(o.id)]


def _organization_choices(writable: bool = False) -> list[SelectChoice]:
    return [SelectChoice(str(o.id), o.name) for o in _organizations(writable)]


# -- login -------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        account = ("login", form.values["username"].strip().lower())
        address = ("login-address", client_address())
        guesses = throttle()
        try:
            guesses.check(LOGIN_FAILURES_PER_ACCOUNT, *account)
            guesses.check(LOGIN_FAILURES_PER_ADDRESS, *address)
        except Problem as too_many:
            problem_onto_form(form, too_many)
            return render_template("funds/login.html", form=form), too_many.status, too_many.headers
        user = commands.authenticate(db_session(), form.values["username"], form.values["password"])
        if user is None:
            guesses.failed(LOGIN_FAILURES_PER_ACCOUNT, *account)
            guesses.failed(LOGIN_FAILURES_PER_ADDRESS, *address)
            problem_onto_form(form, Problem.invalid({"password": [Message("login_failed")]}))
        else:
            login_user(commands.start_login_session(db_session(), user))
            # An approver's day starts at the approval queue; everyone else's at the overview of how
            # the funds are doing (every role reads donations).
            home = sibling_url("donations", "/disbursements/queue" if user.role == "approver" else "/")
            return redirect(safe_next(request.args.get("next")) or home)
    status = 422 if form.errors else 200
    return render_template("funds/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    if current_user.is_authenticated:
        commands.end_login_session(db_session(), current_user)
    logout_user()
    flash(i18n.translate("You have logged out."), "info")
    return redirect(url_for("web.login"))


# -- funds -------------------------------------------------------------------

@bp.get("/")
@login_required_for("funds:read")
def fund_list() -> Any:
    form = FundFilterForm(request.args)
    organizations = _organizations()
    form.organization_id.choices = [ALL, *(SelectChoice(str(o.id), o.name) for o in organizations)]
    funds = []
    if form.validate():
        values = form.values
        funds = list(db_session().scalars(commands.fund_query(
            current_user, q=values.get("q"), status=values.get("status"), kind=values.get("kind"),
            organization_id=values.get("organization_id"),
        ).limit(200)))
    return render_template("funds/fund_list.html", form=form, funds=funds,
                           organization_names={o.id: o.name for o in organizations},
                           ), 200 if not form.errors else 422


@bp.route("/new", methods=["GET", "POST"])
@login_required_for("funds:write")
def fund_new() -> Any:
    form = FundCreateForm()
    form.organization_id.choices = _organization_choices(writable=True)
    fund, status = submit(form, lambda: commands.create_fund(db_session(), current_user, **form.values))
    if fund:
        flash(i18n.translate("Fund “%(name)s” created.") % {"name": fund.name}, "success")
        return redirect(url_for("web.fund_detail", code=fund.code))
    return _form_page(form, i18n.translate("New fund"), i18n.translate("Create the fund"), status,
                      cancel=url_for("web.fund_list"))


def _fund_page(code: str, status: int = 200, error: str | None = None) -> Any:
    """The fund, with what the ledger and the reports service know of it (fund_page.py)."""
    session = db_session()
    fund = commands.get_fund(session, current_user, code)
    organization = commands.get_organization(session, current_user, fund.organization_id)
    peers = current_app.extensions["peers"]
    ledger = fund_page.ledger_summary(peers, current_user, code) if current_user.has("donations:read") else {}
    reports = (fund_page.fund_reports(peers, current_user, code, fund.organization_id)
               if current_user.has("reports:read") else [])
    return render_template("funds/fund_detail.html", fund=fund, organization=organization,
                           error=error, may_change=current_user.has("funds:write")
                           and current_user.may_write(fund.organization_id),
                           ledger=ledger, reports=reports, period_name=period_name), status


@bp.get("/<fund:code>")
@login_required_for("funds:read")
def fund_detail(code: str) -> Any:
    return _fund_page(code)


@bp.route("/<fund:code>/edit", methods=["GET", "POST"])
@login_required_for("funds:write")
def fund_edit(code: str) -> Any:
    fund = commands.get_fund(db_session(), current_user, code)
    form = FundEditForm(obj=fund)
    saved, status = submit(form, lambda: commands.update_fund(db_session(), current_user, code, **form.values))
    if saved:
        flash(i18n.translate("The fund is saved."), "success")
        return redirect(url_for("web.fund_detail", code=code))
    return _form_page(form, i18n.translate("Edit fund %(code)s") % {"code": code}, i18n.translate("Save"), status,
                      cancel=url_for("web.fund_detail", code=code))


@bp.get("/<fund:code>/freeze")
@login_required_for("funds:write")
def fund_freeze_confirm(code: str) -> Any:
    """What freezing would do, asked first: only the confirmation's POST (below) freezes."""
    fund = commands.get_fund(db_session(), current_user, code)
    if not current_user.may_write(fund.organization_id):
        raise Problem("role_forbidden")
    return render_template("funds/confirm_freeze.html", fund=fund,
                           balance=current_app.extensions["ledger"].balance(code))


@bp.post("/<fund:code>/<any(freeze, unfreeze):action>")
@login_required_for("funds:write")
def fund_status(code: str, action: str) -> Any:
    try:
        commands.change_fund_status(db_session(), current_user, code, action, current_app.extensions["ledger"])
    except Problem as problem:
        return _fund_page(code, problem.status, shown_refusal(problem).in_language()[0])
    flash(i18n.translate("The fund is frozen." if action == "freeze" else "The fund is unfrozen."), "success")
    return redirect(url_for("web.fund_detail", code=code))


@bp.route("/<fund:code>/close", methods=["GET", "POST"])
@login_required_for("funds:write")
def fund_close(code: str) -> Any:
    session = db_session()
    fund = commands.get_fund(session, current_user, code)
    form = CloseFundForm()
    ledger = current_app.extensions["ledger"]

    closed, status = submit(form, lambda: commands.change_fund_status(session, current_user, code, "close", ledger))
    if closed:
        flash(i18n.translate("Fund “%(name)s” closed.") % {"name": fund.name}, "success")
        return redirect(url_for("web.fund_detail", code=code))
    return render_template("funds/fund_close.html", fund=fund, form=form,
                           balance=ledger.balance(code).balance), status


# -- organisations and API keys ------------------------------------------------

@bp.route("/organizations/", methods=["GET", "POST"])
@login_required_for("admin")
def organization_list() -> Any:
    form = OrganizationForm()
    organization, status = submit(form, lambda: commands.create_organization(
        db_session(), current_user, **form.values))
    if organization:
        flash(i18n.translate("Organisation “%(name)s” created.") % {"name": organization.name}, "success")
        return redirect(url_for("web.organization_detail", organization_id=organization.id))
    return render_template("funds/organizations.html", form=form,
                           organizations=_organizations()), status


@bp.route("/organizations/<int:organization_id>", methods=["GET", "POST"])
@login_required_for("admin")
def organization_detail(organization_id: int) -> Any:
    """The organisation, its keys, and issuing a key: its secret is shown on this answer only."""
    form = ApiKeyForm()
    issued, status = submit(form, lambda: commands.issue_api_key(
        db_session(), current_user, organization_id, form.values["name"], form.values["scopes"]))
    if issued:
        status, form = 201, ApiKeyForm(formdata=None)
    return _organization_page(organization_id, status, form=form, issued=issued)


def _organization_page(organization_id: int, status: int = 200, *, form: ApiKeyForm | None = None,
                       charity_form: CharityKindForm | None = None, rule_form: ApprovalRuleForm | None = None,
                       issued: Any = None) -> Any:
    session = db_session()
    organization = commands.get_organization(session, current_user, organization_id)
    return render_template(
        "funds/organization.html", organization=organization, form=form or ApiKeyForm(formdata=None),
        charity_form=charity_form or CharityKindForm(formdata=None, obj=organization),
        rule_form=rule_form or ApprovalRuleForm(formdata=None, obj=organization), issued=issued,
        keys=commands.organization_keys(session, organization_id)), status


# An organisation's settings, each its own small form on the organisation's page:
# the form, the page's name for it, and what is said once it is saved.
ORGANIZATION_SETTINGS: dict[str, tuple[type[Any], str, str]] = {
    "charity-kind": (CharityKindForm, "charity_form", N_("Organisation “%(name)s”: its kind of charity is saved.")),
    "approval-rule": (ApprovalRuleForm, "rule_form",
                      N_("Organisation “%(name)s”: its disbursement approval rule is saved.")),
}


@bp.post(f"/organizations/<int:organization_id>/<any({', '.join(map(repr, ORGANIZATION_SETTINGS))}):setting>")
@login_required_for("admin")
def organization_setting(organization_id: int, setting: str) -> Any:
    form_class, page_name, saved = ORGANIZATION_SETTINGS[setting]
    form = form_class()
    organization, status = submit(form, lambda: commands.update_organization(
        db_session(), current_user, organization_id, **form.values))
    if organization:
        flash(i18n.translate(saved) % {"name": organization.name}, "success")
        return redirect(url_for("web.organization_detail", organization_id=organization_id))
    return _organization_page(organization_id, status, **{page_name: form})


@bp.post("/organizations/<int:organization_id>/keys/<int:key_id>/revoke")
@login_required_for("admin")
def key_revoke(organization_id: int, key_id: int) -> Any:
    key = commands.revoke_api_key(db_session(), current_user, organization_id, key_id)
    flash(i18n.translate("Key “%(name)s” revoked.") % {"name": key.name}, "success")
    return redirect(url_for("web.organization_detail", organization_id=organization_id))


# -- users ---------------------------------------------------------------------

@bp.get("/users/")
@login_required_for("admin")
def user_list() -> Any:
    users = db_session().scalars(select(User).order_by(User.username))
    return render_template("funds/users.html", users=list(users))


@bp.route("/users/new", methods=["GET", "POST"])
@login_required_for("admin")
def user_new() -> Any:
    form = UserCreateForm()
    form.organization_id.choices = _organization_choices()
    user, status = submit(form, lambda: commands.create_user(db_session(), current_user, **form.values))
    if user:
        flash(i18n.translate("User “%(name)s” created.") % {"name": user.username}, "success")
        return redirect(url_for("web.user_list"))
    return _form_page(form, i18n.translate("New user"), i18n.translate("Create the user"), status,
                      cancel=url_for("web.user_list"))


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required_for("admin")
def user_edit(user_id: int) -> Any:
    session = db_session()
    user = commands.get_user(session, user_id)
    form = UserEditForm(obj=user)
    form.organization_id.choices = _organization_choices()
    saved, status = submit(form, lambda: commands.update_user(
        session, current_user, user, **{"password": None, **form.values}))
    if saved:
        flash(i18n.translate("User “%(name)s” saved.") % {"name": user.username}, "success")
        return redirect(url_for("web.user_list"))
    return _form_page(form, i18n.translate("Edit user %(name)s") % {"name": user.username}, i18n.translate("Save"),
                      status,
                      cancel=url_for("web.user_list"))
