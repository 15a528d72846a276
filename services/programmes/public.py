"""The public disclosure (公开): funds, projects, villages and teams for anyone, without a login.

    GET /public/v1/funds/<code>, /public/v1/projects/<code>, /public/v1/villages/<id>, /public/v1/teams/<id>
    GET /public/, /public/funds/<code>, /public/projects/<code>, /public/villages/<id>, /public/teams/<id>

The JSON and the pages show the same data (disclosure.py), which holds only
what shared/disclosure.py lets out. Every answer may be cached for a minute
by anyone (`Cache-Control: public, max-age=60`), carries an ETag (the
SHA-256 of its body) and answers 304 to a matching If-None-Match. Reads are
counted per client address (PUBLIC_READS_PER_MINUTE, shared/throttle.py):
past the limit a 429 with Retry-After. Something unknown (or a draft
project) is a 404.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from services.programmes import disclosure
from services.programmes.forms import (
    ACTIVITY_KIND_LABELS, CATEGORY_LABELS, CLAIM_STATUS_LABELS, DRIVE_STATUS_LABELS, MEMBER_ROLE_LABELS,
    MILESTONE_STATUS_LABELS, NEED_STATUS_LABELS, PROJECT_STATUS_LABELS,
)
from shared import i18n
from shared.charts import Bar, Layout, Words, flow_chart_svg
from shared.db import db_session
from shared.disclosure import ANONYMOUS, pseudonym_code
from shared.labels import CHANNEL_LABELS, DONOR_KIND_LABELS
from shared.money import Money
from shared.period_names import period_name
from shared.throttle import client_address, public_reads_rule, throttle

bp = Blueprint("programmes_public", __name__, url_prefix="/public")

MAX_AGE_SECONDS = 60

EVENT_LABELS = {"approved": _l("Project approved"), "milestone_reported": _l("Milestone reported"),
                "milestone_accepted": _l("Milestone accepted"), "stopped": _l("Project stopped"),
                "closed": _l("Project closed")}

CHART_LAYOUT = Layout(width=400, height=260, left=50, right=0, top=40, bottom=28, font_size=12, tick_font_size=12,
                      legend_font_size=14, legend_width=190, legend_gap=95, label_gap=19, unit_x=0)
CHART_MONTHS = 12


@bp.before_request
def _count_reads() -> None:
    rule = public_reads_rule(current_app.config["SETTINGS"].public_reads_per_minute)
    throttle().hit(rule, "public-reads", client_address())


@bp.after_request
def _cacheable(response: Response) -> Response:
    """Anyone may keep an answer for a minute; a client that has it asks with its ETag and gets a 304."""
    if response.status_code != 200:
        return response
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest())
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    if response.mimetype == "text/html":
        response.vary.update(("Accept-Language", "Cookie"))  # the page's language
    return response.make_conditional(request)


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"project_status_labels": PROJECT_STATUS_LABELS, "milestone_status_labels": MILESTONE_STATUS_LABELS,
            "event_labels": EVENT_LABELS, "role_labels_public": MEMBER_ROLE_LABELS, "activity_labels": ACTIVITY_KIND_LABELS,
            "channel_labels": CHANNEL_LABELS, "donor_kind_labels": DONOR_KIND_LABELS,
            "drive_status_labels": DRIVE_STATUS_LABELS,
            "category_labels": CATEGORY_LABELS, "need_status_labels": NEED_STATUS_LABELS,
            "claim_status_labels": CLAIM_STATUS_LABELS, "shown_money": _shown_money, "donor_name": _donor_name,
            "recipient": _recipient, "month_name": period_name}


def _shown_money(text: str | None) -> str:
    return Money.parse_signed(text).display() if text else Money(0).display()


def _donor_name(donation: dict[str, Any]) -> str:
    return i18n.translate("Anonymous") if donation.get("anonymous") or donation["donor"] == ANONYMOUS \
        else donation["donor"]


def _recipient(pseudonym: str) -> str:
    """An individual recipient's pseudonym as the page says it: 受助方-7F3A2C, Recipient-7F3A2C."""
    return f"{i18n.translate('Recipient')}-{pseudonym_code(pseudonym)}"


def _chart(months: list[dict[str, Any]], inflow: str, outflow: str, inflow_key: str, outflow_key: str,
           title: str) -> Markup:
    shown = months[-CHART_MONTHS:]
    words = Words(inflow=inflow, outflow=outflow, yuan=i18n.translate("yuan"),
                  wan=i18n.translate("10,000 yuan"), empty=i18n.translate("No income or spending"))
    bars = [Bar(period_name(m["month"], short=True), Money.parse_signed(m.get(inflow_key) or "0.00").fen,
                Money.parse_signed(m.get(outflow_key) or "0.00").fen) for m in shown]
    description = "; ".join(f"{period_name(m['month'])}: "
                            + (f"{inflow} {_shown_money(m.get(inflow_key))}, " if inflow else "")
                            + f"{outflow} {_shown_money(m.get(outflow_key))}" for m in shown)
    # Built here, every text in it escaped by flow_chart_svg.
    return Markup(flow_chart_svg(bars, words, CHART_LAYOUT, title=title, description=description or None,
                                 element_id="monthly-chart"))


# -- the public JSON -----------------------------------------------------------------------------------

@bp.get("/v1/funds/<code>")
def fund_json(code: str) -> Any:
    return jsonify(disclosure.fund_view(db_session(), code))


@bp.get("/v1/projects/<code>")
def project_json(code: str) -> Any:
    return jsonify(disclosure.project_view(db_session(), code))


@bp.get("/v1/villages/<int:village_id>")
def village_json(village_id: int) -> Any:
    return jsonify(disclosure.village_view(db_session(), village_id))


@bp.get("/v1/teams/<int:team_id>")
def team_json(team_id: int) -> Any:
    return jsonify(disclosure.team_view(db_session(), team_id))


# -- the public pages ----------------------------------------------------------------------------------

@bp.get("/")
def index() -> Any:
    session = db_session()
    return render_template("programmes/public/index.html", funds=disclosure.fund_list(),
                           projects=disclosure.project_list(session), villages=disclosure.village_list(session),
                           teams=disclosure.team_list(session))


@bp.get("/funds/<code>")
def fund_page(code: str) -> Any:
    fund = disclosure.fund_view(db_session(), code)
    chart = _chart(fund["months"], i18n.translate("Received"), i18n.translate("Spent"), "received", "spent",
                   i18n.translate("Received and spent by month")) if fund["months"] else None
    return render_template("programmes/public/fund.html", fund=fund, chart=chart)


@bp.get("/projects/<code>")
def project_page(code: str) -> Any:
    project = disclosure.project_view(db_session(), code)
    # A project only pays out: its chart has no inflow.
    chart = _chart(project["months"], "", i18n.translate("Spent"), "received", "paid",
                   i18n.translate("Spent by month")) if project["months"] else None
    return render_template("programmes/public/project.html", project=project, chart=chart)


@bp.get("/villages/<int:village_id>")
def village_page(village_id: int) -> Any:
    return render_template("programmes/public/village.html", village=disclosure.village_view(db_session(),
                                                                                               village_id))


@bp.get("/teams/<int:team_id>")
def team_page(team_id: int) -> Any:
    return render_template("programmes/public/team.html", team=disclosure.team_view(db_session(), team_id))
