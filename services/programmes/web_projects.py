"""The programmes service's web pages for micro public-welfare projects (微公益创投): the list with its
totals, a proposal's form with its budget lines and milestones, a project with its lines, milestones,
amendments and budget versions, and what each role may do to it.

As web.py's pages: a form checked by the API's own rules (forms.py), the same domain operation the
API calls (projects.py), a page; views never commit, a refusal is shown in the reader's language
beside the field it concerns and nothing is written. A form's repeated rows (budget lines,
milestones, a team's members, volunteers) are read by `typed_rows` and `submit_rows` below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice

from services.programmes import organizations, projects, web_reads
from services.programmes.forms import (
    AMENDMENT_STATUS_LABELS, LINE_ROWS, MILESTONE_ROWS, MILESTONE_STATUS_LABELS, PROJECT_STATUS_LABELS,
    AmendmentForm, ButtonForm, CloseProjectForm, ProjectFilterForm, ProjectForm, ReportForm, RowsForm, StopForm,
)
from services.programmes.rules import AMENDMENT, BUDGET_LINE, MILESTONE, PROJECT
from services.programmes.web import _list_url, _valid
from shared import i18n, page_input
from shared.auth import login_required_for
from shared.db import db_session
from shared.errors import Problem
from shared.forms import ALL, problem_onto_form, shown_refusal, submit
from shared.idempotency import submitted_once
from shared.money import Money
from shared.refusals import N_, Message
from shared.shapes import Invalid, Refusal, Shape

bp = Blueprint("programmes_projects_web", __name__)
T = TypeVar("T")


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"project_status_labels": PROJECT_STATUS_LABELS, "milestone_status_labels": MILESTONE_STATUS_LABELS,
            "amendment_status_labels": AMENDMENT_STATUS_LABELS, "organization_name": organizations.name,
            "list_url": _list_url}


# -- repeated rows ---------------------------------------------------------------------------------

def typed_rows(form: RowsForm, prefix: str, shape: Shape, count: int, errors: dict[str, list[Message]],
               keys: tuple[str, ...] = ()) -> tuple[list[dict[str, str]], list[int]]:
    """The rows typed (blank ones left out: nothing typed in `keys`, else in any field), read as people
    type (page_input): their texts and their numbers on the form. An unreadable figure is refused on
    its row's field."""
    rows, places = [], []
    for n in range(1, count + 1):
        typed = {name: str(form[f"{prefix}_{name}_{n}"].data or "").strip() for name in shape.fields}
        if not any(typed[name] for name in (keys or typed)):
            continue
        clean, unreadable = page_input.normalise(shape, typed)
        for name, messages in unreadable.items():
            errors[f"{prefix}_{name}_{n}"] = messages
        rows.append(clean)
        places.append(n)
    return rows, places


def load_rows(form: RowsForm, prefix: str, shape: Shape, count: int, errors: dict[str, list[Message]],
              keys: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rows typed, each loaded by its shape as a form's text; a refusal beside its row's field."""
    texts, places = typed_rows(form, prefix, shape, count, errors, keys)
    loaded = []
    for row, n in zip(texts, places):
        try:
            loaded.append(shape.load_text(row))
        except Invalid as invalid:
            for name, messages in invalid.errors.items():
                errors.setdefault(f"{prefix}_{name}_{n}", messages)
    return loaded


def placed(form: RowsForm, errors: dict[str, list[Message]], lists: dict[str, tuple[str, list[int]]]) -> Problem:
    """A shape's refusals of rows (`lines.0.name`) named as the form's fields (`line_name_1`); a list's
    refusal as a whole is said beside its rows (and above the form)."""
    shown: dict[str, list[Message]] = {}
    for key, messages in errors.items():
        head, _, rest = key.partition(".")
        if head in lists and rest:
            place, _, name = rest.partition(".")
            prefix, places = lists[head]
            shown[f"{prefix}_{name}_{places[int(place)]}" if name else prefix] = messages
            continue
        if head in lists:
            form.list_errors[head] = [i18n.render(m.code, m.params) for m in messages]
        shown[key] = messages
    return Problem.invalid(shown)


def submit_rows(form: RowsForm, read: Callable[[bool], dict[str, Any]],
                act: Callable[[dict[str, Any]], T]) -> tuple[T | None, int]:
    """As shared.forms.submit, for a form with rows: its head and its rows are checked together (every
    refusal is said at once), then the command runs."""
    if not form.is_submitted():
        return None, 200
    head = form.validate()
    try:
        values = read(head)
        if not head:
            return None, 422
        return act(values), 200
    except Problem as problem:
        return None, problem_onto_form(form, shown_refusal(problem))


def _lines_check(form: RowsForm, shape: Shape, head: bool, rows: dict[str, tuple[Shape, int, str]]) -> dict[str, Any]:
    """A head and its lists of rows (project, amendment): each list as the shape checks it, then the
    shape's rules across fields (the budget's total, the lines' names)."""
    errors: dict[str, list[Message]] = {}
    values = dict(form.values) if head else {}
    lists: dict[str, tuple[str, list[int]]] = {}
    for name, (row_shape, count, prefix) in rows.items():
        texts, places = typed_rows(form, prefix, row_shape, count, errors)
        lists[name] = (prefix, places)
        loaded = []
        for row, n in zip(texts, places):  # each row as its shape loads it, its refusals beside its fields
            try:
                loaded.append(row_shape.load(row))
            except Invalid as invalid:
                for key, messages in invalid.errors.items():
                    errors.setdefault(f"{prefix}_{key}_{n}", messages)
        try:
            shape.fields[name].check(texts)  # the list as a whole: how many rows
            values[name] = loaded
        except Refusal as refusal:
            errors[name] = [refusal.message]
    if not errors and head and shape.after is not None:
        try:
            shape.after(values)
        except Invalid as invalid:
            errors.update(invalid.errors)
    if errors:
        raise placed(form, errors, lists)
    return values


# -- the list --------------------------------------------------------------------------------------

@bp.get("/projects")
@login_required_for("programmes:read")
def project_list() -> Any:
    session = db_session()
    form = ProjectFilterForm()
    form.status.choices = [ALL, *form.status.choices[1:]]
    form.village_id.choices = [ALL, *(SelectChoice(str(v.id), f"{v.township} · {v.name}")
                                      for v in web_reads.villages(session))]
    form.fund_code.choices = page_input.fund_choices(writable=False, everything=True)
    every = current_user.sees_all_organizations
    if every:
        form.organization_id.choices = [ALL, *(SelectChoice(str(i), name) for i, name in organizations.holding_funds())]
    listing = web_reads.project_page(session, current_user, form.values) if _valid(form) else None
    return render_template("programmes/projects.html", form=form, listing=listing, every_organization=every), \
        422 if form.errors else 200


# -- proposing -------------------------------------------------------------------------------------

def _project_choices(form: ProjectForm) -> None:
    session = db_session()
    form.fund_code.choices = page_input.fund_choices(writable=True)
    none = SelectChoice("", i18n.translate("None"))
    form.village_id.choices = [none, *(SelectChoice(str(v.id), f"{v.township} · {v.name}")
                                       for v in web_reads.villages(session))]
    form.team_id.choices = [none, *(SelectChoice(str(t.id), t.name)
                                    for t in web_reads.team_choices(session, current_user))]


def _project_values(form: ProjectForm, head: bool) -> dict[str, Any]:
    values = _lines_check(form, PROJECT, head, {"lines": (BUDGET_LINE, LINE_ROWS, "line"),
                                                "milestones": (MILESTONE, MILESTONE_ROWS, "milestone")})
    if head and current_user.is_admin:  # the bureau proposes for the fund's organisation
        fund = next((f for f in page_input.own_funds(writable=True) if f["code"] == values["fund_code"]), None)
        if fund is not None:
            values["organization_id"] = fund["organization_id"]
    return values


@bp.route("/projects/new", methods=["GET", "POST"])
@login_required_for("programmes:write")
@submitted_once
def project_new() -> Any:
    form = ProjectForm()
    _project_choices(form)
    project, status = submit_rows(form, lambda head: _project_values(form, head),
                                  lambda values: projects.create_project(db_session(), current_user, values))
    if project is not None:
        flash(i18n.translate("Project %(code)s is proposed: someone else must approve it.")
              % {"code": project.code}, "success")
        return redirect(url_for("programmes_projects_web.project_detail", code=project.code))
    return render_template("programmes/project_new.html", form=form,
                           lines=form.row_fields("line", ("name", "amount"), LINE_ROWS),
                           milestones=form.row_fields("milestone", ("name", "due_on", "instalment"),
                                                      MILESTONE_ROWS)), status


# -- a project -------------------------------------------------------------------------------------

def _may(scope: str, project: Any) -> bool:
    return bool(current_user.has(scope) and current_user.may_write(project.organization_id))


def _project_page(code: str, status: int = 200, error: str | None = None,
                  report_forms: dict[int, ReportForm] | None = None) -> Any:
    session = db_session()
    project = projects.with_figures(session, [projects.get_project(session, current_user, code)])[0]
    me = current_user.actor
    may_write, may_approve = _may("programmes:write", project), _may("disbursements:approve", project)
    reportable = project.status in projects.REPORTABLE
    if report_forms is None:  # the form to report on the next pending milestone
        report_forms = {}
        following = next((m for m in project.milestones if m.status == "pending"), None)
        if may_write and reportable and following is not None:
            report_forms[following.n] = ReportForm(formdata=None)
    pending = next((a for a in project.amendments if a.status == "requested"), None)
    return render_template(
        "programmes/project.html", project=project, error=error, button=ButtonForm(formdata=None),
        report_forms=report_forms, pending=pending, me=me, village=project.village,
        team=web_reads.team_name(session, project.team_id),
        may={"approve": may_approve and project.status == "draft" and project.created_by != me,
             "accept": may_approve and reportable,
             "stop": may_approve and project.status in projects.STOPPABLE,
             "closing": may_write and project.status == "in_progress",
             "close": may_write and project.status in ("in_progress", "closing"),
             "amend": may_write and project.status in projects.AMENDABLE and pending is None,
             "decide": may_approve},
        bar=lambda line: min(100, line.paid_fen * 100 // line.amount_fen) if line.amount_fen else 0), status


@bp.get("/projects/<string(maxlength=64):code>")
@login_required_for("programmes:read")
def project_detail(code: str) -> Any:
    return _project_page(code)


# What each button does, who may press it, and what the page says once it is done.
STEPS: dict[str, tuple[Callable[..., Any], str, str]] = {
    "approve": (projects.approve_project, "disbursements:approve",
                N_("Project %(code)s is approved: its budget lines are held in the ledger.")),
    "closing": (projects.start_closing, "programmes:write",
                N_("Project %(code)s is closing: write its final report to close it.")),
}


def _done(message: str, **params: Any) -> None:
    flash(i18n.translate(message) % params, "success")


@bp.post("/projects/<string(maxlength=64):code>/<any(approve, closing):step>")
@login_required_for("programmes:read")
def project_step(code: str, step: str) -> Any:
    operation, scope, message = STEPS[step]
    if not current_user.has(scope):
        raise Problem("role_forbidden")
    try:
        operation(db_session(), current_user, code)
    except Problem as problem:
        refused = shown_refusal(problem)
        return _project_page(code, refused.status, refused.in_language()[0])
    _done(message, code=code)
    return redirect(url_for("programmes_projects_web.project_detail", code=code))


@bp.post("/projects/<string(maxlength=64):code>/milestones/<int:n>/report")
@login_required_for("programmes:write")
def milestone_report(code: str, n: int) -> Any:
    form = ReportForm()
    done, status = submit(form, lambda: projects.report_milestone(db_session(), current_user, code, n,
                                                                   form.values["report"]))
    if done is not None:
        _done(N_("Milestone %(n)s is reported: someone else may now accept it."), n=n)
        return redirect(url_for("programmes_projects_web.project_detail", code=code) + f"#milestone-{n}")
    return _project_page(code, status, report_forms={n: form})


@bp.post("/projects/<string(maxlength=64):code>/milestones/<int:n>/accept")
@login_required_for("disbursements:approve")
def milestone_accept(code: str, n: int) -> Any:
    try:
        projects.accept_milestone(db_session(), current_user, code, n)
    except Problem as problem:
        refused = shown_refusal(problem)
        return _project_page(code, refused.status, refused.in_language()[0])
    _done(N_("Milestone %(n)s is accepted: its instalment is payable."), n=n)
    return redirect(url_for("programmes_projects_web.project_detail", code=code) + f"#milestone-{n}")


@bp.route("/projects/<string(maxlength=64):code>/stop", methods=["GET", "POST"])
@login_required_for("disbursements:approve")
def project_stop(code: str) -> Any:
    """What stopping would do, asked first: only the confirmation's POST stops."""
    form = StopForm()
    done, status = submit(form, lambda: projects.stop_project(db_session(), current_user, code,
                                                               form.values["reason"]))
    if done is not None:
        _done(N_("Project %(code)s is stopped: its unpaid instalments are cancelled."), code=code)
        return redirect(url_for("programmes_projects_web.project_detail", code=code))
    session = db_session()
    project = projects.with_figures(session, [projects.get_project(session, current_user, code)])[0]
    return render_template("programmes/project_stop.html", form=form, project=project,
                           may=project.status in projects.STOPPABLE), status


@bp.route("/projects/<string(maxlength=64):code>/close", methods=["GET", "POST"])
@login_required_for("programmes:write")
def project_close(code: str) -> Any:
    form = CloseProjectForm()
    done, status = submit(form, lambda: projects.close_project(db_session(), current_user, code, form.values))
    if done is not None:
        _done(N_("Project %(code)s is closed with its final report."), code=code)
        return redirect(url_for("programmes_projects_web.project_detail", code=code))
    session = db_session()
    project = projects.with_figures(session, [projects.get_project(session, current_user, code)])[0]
    leftover = max(0, project.budget_fen - project.reserved_fen - project.paid_fen)
    return render_template("programmes/project_close.html", form=form, project=project, leftover=leftover,
                           may=project.status in ("in_progress", "closing")), status


# -- amendments ------------------------------------------------------------------------------------

@bp.route("/projects/<string(maxlength=64):code>/amendments/new", methods=["GET", "POST"])
@login_required_for("programmes:write")
@submitted_once
def amendment_new(code: str) -> Any:
    session = db_session()
    project = projects.with_figures(session, [projects.get_project(session, current_user, code)])[0]
    form = AmendmentForm()
    if not form.is_submitted():
        for n, line in enumerate(project.lines[:LINE_ROWS], start=1):
            form[f"line_name_{n}"].data = line.name
            form[f"line_amount_{n}"].data = str(Money(line.amount_fen))
    amendment, status = submit_rows(
        form, lambda head: _lines_check(form, AMENDMENT, head, {"lines": (BUDGET_LINE, LINE_ROWS, "line")}),
        lambda values: projects.request_amendment(db_session(), current_user, code, values))
    if amendment is not None:
        _done(N_("Amendment %(version)s is requested: someone else must approve it."),
              version=amendment.version)
        return redirect(url_for("programmes_projects_web.project_detail", code=code) + "#amendments")
    return render_template("programmes/amendment_new.html", form=form, project=project,
                           lines=form.row_fields("line", ("name", "amount"), LINE_ROWS)), status


@bp.post("/projects/<string(maxlength=64):code>/amendments/<int:version>/<any(approve, reject):step>")
@login_required_for("disbursements:approve")
def amendment_decide(code: str, version: int, step: str) -> Any:
    operation = projects.approve_amendment if step == "approve" else projects.reject_amendment
    try:
        operation(db_session(), current_user, code, version)
    except Problem as problem:
        refused = shown_refusal(problem)
        return _project_page(code, refused.status, refused.in_language()[0])
    if step == "approve":
        _done(N_("Amendment %(version)s is approved: it is the budget's version in force."), version=version)
    else:
        _done(N_("Amendment %(version)s is rejected: the budget stays as it is."), version=version)
    return redirect(url_for("programmes_projects_web.project_detail", code=code) + "#amendments")
