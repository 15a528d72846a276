"""Web forms of the reports service (labels in the reader's language), checked by the API's shapes (rules.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField

from services.reports.rules import EXPORT, EXPORT_FORMATS, REPORT_LIST, REPORT_REQUEST, RUN_STATES, SUBSCRIPTION
from shared.forms import ALL, OnceForm, QueryForm, WebForm, choices
from shared.periods import FREQUENCIES

STATUS_LABELS = {"queued": _l("Queued"), "running": _l("Being made"), "done": _l("Done"), "failed": _l("Failed")}
FREQUENCY_LABELS = {"monthly": _l("Monthly"), "quarterly": _l("Quarterly"), "annual": _l("Annual")}
EXPORT_FORMAT_LABELS = {"xlsx": "Excel (XLSX)", "csv": "CSV", "journal": _l("Journal (hledger / ledger-cli)")}
assert set(STATUS_LABELS) == set(RUN_STATES) and set(FREQUENCY_LABELS) == set(FREQUENCIES)
assert set(EXPORT_FORMAT_LABELS) == set(EXPORT_FORMATS)


def _period() -> StringField:
    return StringField(_l("Period"), render_kw={"placeholder": _l("2026-08, 2026-Q3 or 2026"), "autocomplete": "off"})


def _fund_code() -> StringField:
    return StringField(_l("Fund code (optional)"), render_kw={"placeholder": _l("such as TL-HQ-001"),
                                                            "autocomplete": "off"})


def _organization_id() -> StringField:
    return StringField(_l("Organisation number (optional)"), render_kw={"inputmode": "numeric", "autocomplete": "off"})


class ReportForm(OnceForm):
    shape = REPORT_REQUEST
    period = _period()
    fund_code = _fund_code()
    organization_id = _organization_id()
    notify = BooleanField(_l("Send to the subscribers when done"))


class ReportFilterForm(QueryForm):
    shape = REPORT_LIST
    period = _period()
    fund_code = _fund_code()
    organization_id = _organization_id()
    status = SelectField(_l("Status"), choices=[ALL, *choices(STATUS_LABELS)], default="", validate_choice=False)


class SubscriptionForm(WebForm):
    shape = SUBSCRIPTION
    email = StringField(_l("Email"), render_kw={"type": "email", "autocomplete": "email"})
    frequency = SelectField(_l("Frequency"), choices=choices(FREQUENCY_LABELS), default="quarterly",
                            validate_choice=False)
    fund_code = _fund_code()
    organization_id = _organization_id()


class CancelForm(WebForm):
    pass


class ExportForm(QueryForm):
    shape = EXPORT
    period = _period()
    format = SelectField(_l("Format"), choices=choices(EXPORT_FORMAT_LABELS), default="xlsx", validate_choice=False)
    fund_code = _fund_code()
    organization_id = _organization_id()
