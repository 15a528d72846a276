"""The reports service's web pages: auditors read reports, their checks and logs, and manage
their subscriptions; fund managers see their organisation's reports. Read-only but for asking
for a report, subscribing and exporting."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from services.reports import commands
from services.reports.forms import (
    EXPORT_FORMAT_LABELS, FREQUENCY_LABELS, STATUS_LABELS, CancelForm, ExportForm, ReportFilterForm, ReportForm,
    SubscriptionForm,
)
from services.reports.render.common import check_name
from services.reports.summary_text import yuan
from services.reports.views import file_response, kept_file_response
from shared import i18n
from shared.auth import login_required_for
from shared.db import db_session
from shared.errors import Problem
from shared.forms import shown_refusal, submit
from shared.idempotency import submitted_once

bp = Blueprint("web", __name__)
LIST_LIMIT = 100


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {"STATUS_LABELS": STATUS_LABELS, "FREQUENCY_LABELS": FREQUENCY_LABELS, "check_name": check_name,
            "EXPORT_FORMAT_LABELS": EXPORT_FORMAT_LABELS, "yuan": yuan}


@bp.route("/", methods=["GET", "POST"])
@login_required_for("reports:read")
@submitted_once
def home() -> Any:
    """The reports this user may see, a filter, and a form to ask for one."""
    form = ReportForm()
    created, status = submit(form, lambda: commands.request_report(db_session(), current_user, **form.values))
    if created is not None:
        run, new = created
        flash(i18n.translate("Report #%(id)s is queued to be made." if new else
                             "Report #%(id)s is being made already; it was not asked for twice.") % {"id": run.id},
              "success")
        return redirect(url_for("web.report", report_id=run.id))
    filters = ReportFilterForm()
    reports: list[Any] = []
    if filters.validate() or not request.args:
        values = filters.values
        reports = list(db_session().scalars(commands.visible_reports(
            current_user, period=values.get("period"), fund_code=values.get("fund_code"),
            organization_id=values.get("organization_id"), status=values.get("status")).limit(LIST_LIMIT)))
    return render_template("reports/home.html", form=form, filters=filters, reports=reports,
                           limit=LIST_LIMIT), status if status != 200 else (422 if filters.errors else 200)


@bp.get("/reports/<int:report_id>")
@login_required_for("reports:read")
def report(report_id: int) -> Any:
    session = db_session()
    run = commands.get_report(session, current_user, report_id)
    return render_template("reports/report.html", run=run, files=commands.report_files(session, run.id),
                           log=commands.run_log(session, current_user, run.id), summary=run.summary or {})


@bp.get("/reports/<int:report_id>/files/<fmt>")
@login_required_for("reports:read")
def report_file(report_id: int, fmt: str) -> Any:
    return kept_file_response(commands.report_file(db_session(), current_user, report_id, fmt))


@bp.route("/subscriptions", methods=["GET", "POST"])
@login_required_for("reports:read")
def subscriptions() -> Any:
    form = SubscriptionForm()
    created, status = submit(form, lambda: commands.create_subscription(db_session(), current_user, **form.values))
    if created is not None:
        flash(i18n.translate("Subscribed: %(frequency)s reports will be sent to %(email)s.")
              % {"frequency": FREQUENCY_LABELS[created.frequency], "email": created.email}, "success")
        return redirect(url_for("web.subscriptions"))
    mine = list(db_session().scalars(commands.visible_subscriptions(current_user).limit(LIST_LIMIT)))
    return render_template("reports/subscriptions.html", form=form, subscriptions=mine,
                           cancel=CancelForm(formdata=None)), status


@bp.post("/subscriptions/<int:subscription_id>/cancel")
@login_required_for("reports:read")
def cancel_subscription(subscription_id: int) -> Any:
    form = CancelForm()
    if not form.validate_on_submit():
        raise Problem("csrf_failed")
    try:
        commands.cancel_subscription(db_session(), current_user, subscription_id)
    except Problem as problem:
        raise shown_refusal(problem)
    flash(i18n.translate("The subscription is cancelled."), "success")
    return redirect(url_for("web.subscriptions"))


@bp.get("/exports")
@login_required_for("reports:read")
def exports() -> Any:
    """A period's ledger as a file for accountants; the form when nothing was asked yet."""
    form = ExportForm()
    if request.args and form.validate():
        from services.reports.exports import export
        from services.reports.sources import Sources
        from shared.periods import Period

        values = form.values
        try:
            scope, _ = commands.scope_for(current_user, fund_code=values.get("fund_code"),
                                          organization_id=values.get("organization_id"))
        except Problem as problem:
            form.form_errors.append(shown_refusal(problem).in_language()[0])
        else:
            body, content_type, filename = export(Sources(current_app.extensions["peers"]), scope,
                                                  Period.parse(values["period"]), values["format"])
            return file_response(body, content_type, filename)
    return render_template("reports/exports.html", form=form), 422 if (form.errors or form.form_errors) else 200
