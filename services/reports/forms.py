"""Web forms of the reports service (Chinese labels), checked by the API's shapes (rules.py)."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField

from services.reports.rules import EXPORT, EXPORT_FORMATS, REPORT_LIST, REPORT_REQUEST, RUN_STATES, SUBSCRIPTION
from shared.forms import ALL, OnceForm, QueryForm, WebForm, choices
from shared.periods import FREQUENCIES

STATUS_LABELS = {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "失败"}
FREQUENCY_LABELS = {"monthly": "每月", "quarterly": "每季度", "annual": "每年"}
EXPORT_FORMAT_LABELS = {"xlsx": "Excel（XLSX）", "csv": "CSV", "journal": "记账文本（hledger / ledger-cli）"}
assert set(STATUS_LABELS) == set(RUN_STATES) and set(FREQUENCY_LABELS) == set(FREQUENCIES)
assert set(EXPORT_FORMAT_LABELS) == set(EXPORT_FORMATS)


def _period() -> StringField:
    return StringField("期间", render_kw={"placeholder": "2026-08、2026-Q3 或 2026", "autocomplete": "off"})


def _fund_code() -> StringField:
    return StringField("基金编号（可选）", render_kw={"placeholder": "例如 TL-HQ-001", "autocomplete": "off"})


def _organization_id() -> StringField:
    return StringField("机构编号（可选）", render_kw={"inputmode": "numeric", "autocomplete": "off"})


class ReportForm(OnceForm):
    shape = REPORT_REQUEST
    period = _period()
    fund_code = _fund_code()
    organization_id = _organization_id()
    notify = BooleanField("完成后发送给订阅者")


class ReportFilterForm(QueryForm):
    shape = REPORT_LIST
    period = _period()
    fund_code = _fund_code()
    organization_id = _organization_id()
    status = SelectField("状态", choices=[ALL, *choices(STATUS_LABELS)], default="", validate_choice=False)


class SubscriptionForm(WebForm):
    shape = SUBSCRIPTION
    email = StringField("电子邮件", render_kw={"type": "email", "autocomplete": "email"})
    frequency = SelectField("频率", choices=choices(FREQUENCY_LABELS), default="quarterly", validate_choice=False)
    fund_code = _fund_code()
    organization_id = _organization_id()


class CancelForm(WebForm):
    pass


class ExportForm(QueryForm):
    shape = EXPORT
    period = _period()
    format = SelectField("格式", choices=choices(EXPORT_FORMAT_LABELS), default="xlsx", validate_choice=False)
    fund_code = _fund_code()
    organization_id = _organization_id()
