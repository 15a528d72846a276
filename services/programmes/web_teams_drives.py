"""The programmes service's web pages for assistance teams (1+N) and consumer-assistance drives (消费帮扶):
the lists, a team with its members, villages, totals and activities and the form to record one, a drive
with its quantities, what its purchases are in the books, and the forms to pledge and to buy.

As web.py's pages: forms checked by the API's rules (forms.py), the domain operations the API calls
(teams.py, drives.py); views never commit; refusals beside their fields, in the reader's language.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice

from services.programmes import drives, organizations, teams, web_reads
from services.programmes.forms import (
    ACTIVITY_KIND_LABELS, DRIVE_STATUS_LABELS, MEMBER_ROLE_LABELS, MEMBER_ROWS, PURCHASE_KIND_HINTS,
    PURCHASE_KIND_LABELS, VOLUNTEER_ROWS, ActivityForm, DriveForm, PledgeForm, PurchaseForm, SimplePageForm,
    TeamForm,
)
from services.programmes.rules import TEAM, TEAM_MEMBER, VOLUNTEER
from services.programmes.web import _list_url, _valid
from services.programmes.web_projects import load_rows, placed, submit_rows
from shared import i18n, page_input
from shared.auth import login_required_for
from shared.db import db_session
from shared.errors import Problem
from shared.forms import submit
from shared.idempotency import submitted_once
from shared.money import Money
from shared.refusals import N_, Message
from shared.shapes import Invalid

bp = Blueprint("programmes_teams_drives_web", __name__)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"member_role_labels": MEMBER_ROLE_LABELS, "activity_kind_labels": ACTIVITY_KIND_LABELS,
            "purchase_kind_labels": PURCHASE_KIND_LABELS, "purchase_kind_hints": PURCHASE_KIND_HINTS,
            "drive_status_labels": DRIVE_STATUS_LABELS, "organization_name": organizations.name,
            "list_url": _list_url, "quantity": drives.quantity_text}


@bp.app_context_processor
def _village_programmes() -> dict[str, Any]:
    def village_programmes(village_id: int) -> dict[str, Any]:
        """A village's projects, teams and drives, those the user sees (its page lists them)."""
        session, every = db_session(), {"size": "100", "page": 1}
        return {"projects": web_reads.village_projects(session, current_user, village_id),
                "teams": web_reads.team_page(session, current_user, every, village_id).rows,
                "drives": web_reads.drive_page(session, current_user, every, village_id).rows}
    return {"village_programmes": village_programmes}


def _done(message: str, **params: Any) -> None:
    flash(i18n.translate(message) % params, "success")


# -- teams -----------------------------------------------------------------------------------------

@bp.get("/teams")
@login_required_for("programmes:read")
def team_list() -> Any:
    form = SimplePageForm()
    listing = web_reads.team_page(db_session(), current_user, form.values) if _valid(form) else None
    return render_template("programmes/teams.html", form=form, listing=listing), 422 if form.errors else 200


def _team_values(form: TeamForm, head: bool) -> dict[str, Any]:
    errors: dict[str, list[Message]] = {}
    members = load_rows(form, "member", TEAM_MEMBER, MEMBER_ROWS, errors, keys=("organization_id",))
    if errors:
        raise Problem.invalid(errors)
    if not head:
        return {}
    try:
        village_ids = [int(v) if v.isdigit() else v for v in form.village_ids.data or []]
        return TEAM.load({"name": form.values["name"], "members": members, "village_ids": village_ids})
    except Invalid as invalid:
        raise placed(form, invalid.errors, {"members": ("member", [])}) from None


@bp.route("/teams/new", methods=["GET", "POST"])
@login_required_for("programmes:write")
@submitted_once
def team_new() -> Any:
    session = db_session()
    form = TeamForm()
    choices = [SelectChoice("", "—"), *(SelectChoice(str(i), name) for i, name in organizations.holding_funds())]
    for n in range(1, MEMBER_ROWS + 1):
        form[f"member_organization_id_{n}"].choices = choices
    if not form.is_submitted() and current_user.organization_id is not None:
        form["member_organization_id_1"].data = str(current_user.organization_id)
    form.village_ids.choices = [SelectChoice(str(v.id), f"{v.township} · {v.name}")
                                for v in web_reads.villages(session)]
    team, status = submit_rows(form, lambda head: _team_values(form, head),
                               lambda values: teams.create_team(db_session(), current_user, values))
    if team is not None:
        _done(N_("Team %(name)s is formed."), name=team.name)
        return redirect(url_for("programmes_teams_drives_web.team_detail", team_id=team.id))
    return render_template("programmes/team_new.html", form=form,
                           members=form.row_fields("member", ("organization_id", "role", "contribution"),
                                                   MEMBER_ROWS)), status


def _team_page(team_id: int, form: ActivityForm | None = None, status: int = 200) -> Any:
    session = db_session()
    team = teams.with_figures(session, [teams.get_team(session, current_user, team_id)])[0]
    member_ids = {member.organization_id for member in team.members}
    is_member = current_user.organization_id in member_ids
    activities = teams.with_volunteers(session, list(session.scalars(teams.activity_query(team))))
    if form is None:
        form = ActivityForm(formdata=None)
    form.village_id.choices = [SelectChoice(str(v.village_id), v.name) for v in team.villages]
    may_record = current_user.has("programmes:write") and (is_member or current_user.is_admin)
    return render_template("programmes/team.html", team=team, activities=activities, form=form,
                           may_record=may_record, names_shown=is_member,
                           volunteers=form.row_fields("volunteer", ("name", "hours"), VOLUNTEER_ROWS)), status


@bp.get("/teams/<int:team_id>")
@login_required_for("programmes:read")
def team_detail(team_id: int) -> Any:
    return _team_page(team_id)


def _activity_values(form: ActivityForm, head: bool) -> dict[str, Any]:
    errors: dict[str, list[Message]] = {}
    volunteers = load_rows(form, "volunteer", VOLUNTEER, VOLUNTEER_ROWS, errors)
    if errors:
        raise Problem.invalid(errors)
    return {**form.values, "volunteers": volunteers} if head else {}


@bp.post("/teams/<int:team_id>/activities")
@login_required_for("programmes:write")
@submitted_once
def team_activity(team_id: int) -> Any:
    teams.get_team(db_session(), current_user, team_id)  # another's team is not found, before any check
    form = ActivityForm()
    activity, status = submit_rows(form, lambda head: _activity_values(form, head),
                                   lambda values: teams.record_activity(db_session(), current_user, team_id, values))
    if activity is not None:
        _done(N_("The activity of %(on)s is recorded."), on=activity.on.isoformat())
        return redirect(url_for("programmes_teams_drives_web.team_detail", team_id=team_id) + "#activities")
    return _team_page(team_id, form, status)


# -- drives ----------------------------------------------------------------------------------------

@bp.get("/drives")
@login_required_for("programmes:read")
def drive_list() -> Any:
    form = SimplePageForm()
    listing = web_reads.drive_page(db_session(), current_user, form.values) if _valid(form) else None
    return render_template("programmes/drives.html", form=form, listing=listing), 422 if form.errors else 200


@bp.route("/drives/new", methods=["GET", "POST"])
@login_required_for("programmes:write")
@submitted_once
def drive_new() -> Any:
    form = DriveForm()
    form.village_id.choices = [SelectChoice("", "—"), *(SelectChoice(str(v.id), f"{v.township} · {v.name}")
                                                         for v in web_reads.villages(db_session()))]
    drive, status = submit(form, lambda: drives.create_drive(db_session(), current_user, form.values))
    if drive is not None:
        _done(N_("The drive %(name)s is started."), name=drive.name)
        return redirect(url_for("programmes_teams_drives_web.drive_detail", drive_id=drive.id))
    return render_template("programmes/drive_new.html", form=form), status


def _drive_page(drive_id: int, pledge_form: PledgeForm | None = None, purchase_form: PurchaseForm | None = None,
                status: int = 200) -> Any:
    session = db_session()
    drive = drives.with_figures(session, [drives.get_drive(session, current_user, drive_id)])[0]
    purchases = [drives.PurchaseView(p) for p in session.scalars(drives.purchase_query(drive.drive))]
    purchase_form = purchase_form or PurchaseForm(formdata=None)
    purchase_form.fund_code.choices = page_input.fund_choices(writable=True)
    may_take_part = bool(current_user.has("programmes:write")) and drive.status == "open"
    return render_template("programmes/drive.html", drive=drive, purchases=purchases,
                           pledges=web_reads.drive_pledges(session, drive_id), may_take_part=may_take_part,
                           pledge_form=pledge_form or PledgeForm(formdata=None), purchase_form=purchase_form,
                           market_value=Money(drive.unit_price_fen)), status


@bp.get("/drives/<int:drive_id>")
@login_required_for("programmes:read")
def drive_detail(drive_id: int) -> Any:
    return _drive_page(drive_id)


@bp.post("/drives/<int:drive_id>/pledges")
@login_required_for("programmes:write")
@submitted_once
def drive_pledge(drive_id: int) -> Any:
    drives.get_drive(db_session(), current_user, drive_id)
    form = PledgeForm()
    pledged, status = submit(form, lambda: drives.pledge(db_session(), current_user, drive_id, form.values))
    if pledged is not None:
        _done(N_("Your organisation pledges to buy %(quantity)s."), quantity=drives.quantity_text(pledged.quantity))
        return redirect(url_for("programmes_teams_drives_web.drive_detail", drive_id=drive_id))
    return _drive_page(drive_id, pledge_form=form, status=status)


@bp.post("/drives/<int:drive_id>/purchases")
@login_required_for("programmes:write")
@submitted_once
def drive_purchase(drive_id: int) -> Any:
    drives.get_drive(db_session(), current_user, drive_id)
    form = PurchaseForm()
    form.fund_code.choices = page_input.fund_choices(writable=True)
    bought, status = submit(form, lambda: drives.record_purchase(db_session(), current_user, drive_id,
                                                                 form.values))
    if bought is not None:
        _done(N_("The purchase of %(amount)s is recorded."), amount=Money(bought.amount_fen).display())
        return redirect(url_for("programmes_teams_drives_web.drive_detail", drive_id=drive_id) + "#purchases")
    return _drive_page(drive_id, purchase_form=form, status=status)
