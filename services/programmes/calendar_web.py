"""The disclosure calendar's page (信息公开日历): what the organisation must publish, by month, the late
first; a button per item records that it was published (calendar.py, as POST /api/v1/disclosures)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import HiddenField

from services.programmes import calendar, organizations
from services.programmes.rules import DISCLOSURE
from shared import i18n
from shared.auth import login_required_for
from shared.dates import today
from shared.db import db_session
from shared.forms import WebForm, submit
from shared.period_names import period_name

bp = Blueprint("programmes_calendar_web", __name__)


class PublishedForm(WebForm):
    """An item of the calendar was published: the item's identity, carried by its button."""

    shape = DISCLOSURE

    kind = HiddenField()
    subject = HiddenField()
    due_on = HiddenField()
    organization_id = HiddenField()


def _may_mark(item: calendar.Item) -> bool:
    return (item.markable and item.status != "done" and bool(current_user.has("programmes:write"))
            and bool(current_user.may_write(item.organization_id)))


def _page(form: PublishedForm | None = None, status: int = 200) -> Any:
    items = calendar.visible(db_session(), current_user, today())
    late = [item for item in items if item.status == "late"]
    months = [(month, list(rows)) for month, rows in groupby(
        (item for item in items if item.status != "late"), key=lambda item: item.due_on.strftime("%Y-%m"))]
    return render_template("programmes/calendar.html", late=late, months=months, form=form,
                           button=PublishedForm(formdata=None), may_mark=_may_mark,
                           every_organization=current_user.sees_all_organizations,
                           organization_name=organizations.name, period_name=period_name), status


@bp.get("/calendar")
@login_required_for("programmes:read")
def calendar_page() -> Any:
    return _page()


@bp.post("/calendar/published")
@login_required_for("programmes:write")
def calendar_published() -> Any:
    form = PublishedForm()
    item, status = submit(form, lambda: calendar.record_published(db_session(), current_user, form.values,
                                                                  today()))
    if item is not None:
        flash(i18n.translate("Recorded as published, on %(day)s.") % {"day": today().isoformat()}, "success")
        return redirect(url_for("programmes_calendar_web.calendar_page"))
    return _page(form, status)
