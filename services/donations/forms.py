"""Web forms of the donations service (Chinese labels).

Each form is checked by the shape the API uses for the same input
(rules.py): a form accepts and refuses exactly what the API does, and its
`values` are what the API would hand the command.
"""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from shared.dates import today
from services.donations.rules import (
    CHANNELS, DEFAULT_DISBURSEMENT_CATEGORY, DISBURSEMENT, DISBURSEMENT_CATEGORIES, DISBURSEMENT_LIST,
    DISBURSEMENT_STATUSES, DONATION, DONATION_LIST, DONOR_KINDS, PAYMENT, REVERSAL, STATEMENT,
)
from shared.forms import ALL, OnceForm, QueryForm, WebForm, choices
from shared.i18n import label
from shared.money import CURRENCY

DONOR_KIND_LABELS = {"individual": "个人", "enterprise": "企业", "organization": "社会组织"}
CHANNEL_LABELS = {"bank": "银行转账", "cash": "现金", "wechat": "微信", "alipay": "支付宝",
                  "in_kind": "实物捐赠"}
# A status reads as the catalogue says (shared/translations); the pages are Chinese for now.
DISBURSEMENT_STATUS_LABELS = {status: label(status, "zh") for status in DISBURSEMENT_STATUSES}
DISBURSEMENT_CATEGORY_LABELS = {category: label(category, "zh") for category in DISBURSEMENT_CATEGORIES}
ENTRY_KIND_LABELS = {"donation": "捐赠", "reversal": "冲销", "disbursement": "拨付"}
BATCH_STATUS_LABELS = {"recorded": "已记录", "duplicate": "重复", "invalid": "无效"}
# The CSV columns (and a batch row's error keys) as the page names them.
COLUMN_LABELS = {"fund_code": "基金编号", "amount": "金额", "currency": "币种", "donor_name": "捐赠人",
                 "donor_kind": "捐赠人类型", "donor_anonymous": "是否匿名", "received_on": "收款日期",
                 "channel": "收款方式", "purpose": "用途", "reference": "参考号", "_row": "整行"}
assert set(DONOR_KIND_LABELS) == set(DONOR_KINDS) and set(CHANNEL_LABELS) == set(CHANNELS)


def _fund_code() -> StringField:
    return StringField("基金编号", render_kw={"list": "fund-codes", "autocomplete": "off",
                                          "placeholder": "例如 TL-HQ-001"})


def _amount() -> StringField:
    return StringField("金额（元）", render_kw={"inputmode": "decimal", "placeholder": "1280.00"})


def _date(label: str, *, name: str | None = None, default_today: bool = False) -> StringField:
    kwargs = {"name": name} if name else {}
    return StringField(label, default=(lambda: today().isoformat()) if default_today else None,
                       render_kw={"type": "date"}, **kwargs)


def _select(label: str, labels: dict[str, str], default: str, everything: bool = False) -> SelectField:
    options = [ALL, *choices(labels)] if everything else choices(labels)
    return SelectField(label, choices=options, default=default, validate_choice=False)


# -- donations -----------------------------------------------------------------

class DonationForm(OnceForm):
    shape = DONATION

    fund_code = _fund_code()
    amount = _amount()
    currency = StringField("币种", default=CURRENCY, render_kw={"readonly": True})
    donor_name = StringField("捐赠人名称")
    donor_kind = _select("捐赠人类型", DONOR_KIND_LABELS, "individual")
    donor_anonymous = BooleanField("匿名捐赠（收据与查询中不显示捐赠人名称）")
    received_on = _date("收款日期", default_today=True)
    channel = _select("收款方式", CHANNEL_LABELS, "bank")
    purpose = TextAreaField("捐赠用途")
    reference = StringField("参考号（银行流水号等，可选；同一机构内不可重复）")


class ReverseForm(WebForm):
    shape = REVERSAL

    reason = TextAreaField("冲销原因")


class ImportForm(WebForm):
    file = FileField("CSV 文件（UTF-8 编码）", render_kw={"accept": ".csv,text/csv", "required": True})


class SearchForm(QueryForm):
    """The donation search: /search?fund_code=&donor=&from=&to=."""

    shape = DONATION_LIST

    fund_code = StringField("基金编号", render_kw={"list": "fund-codes"})
    donor = StringField("捐赠人", render_kw={"placeholder": "名称中的任意部分"})
    date_from = _date("收款日期自", name="from")
    date_to = _date("至", name="to")


class StatementForm(QueryForm):
    """A statement's period: ?from=&to=."""

    shape = STATEMENT

    date_from = _date("起始日期", name="from")
    date_to = _date("截止日期", name="to")


# -- disbursements ---------------------------------------------------------------

class DisbursementForm(OnceForm):
    shape = DISBURSEMENT

    fund_code = _fund_code()
    amount = _amount()
    payee = StringField("收款人")
    purpose = TextAreaField("拨付用途")
    project = StringField("项目名称（可选）")
    category = _select("支出类别", DISBURSEMENT_CATEGORY_LABELS, DEFAULT_DISBURSEMENT_CATEGORY)


class RejectForm(WebForm):
    shape = REVERSAL

    reason = TextAreaField("驳回原因")


class PayForm(WebForm):
    shape = PAYMENT

    paid_on = _date("支付日期", default_today=True)
    bank_reference = StringField("银行流水号")


class DisbursementFilterForm(QueryForm):
    """The disbursement list's filter."""

    shape = DISBURSEMENT_LIST

    status = _select("状态", DISBURSEMENT_STATUS_LABELS, "", everything=True)
    category = _select("支出类别", DISBURSEMENT_CATEGORY_LABELS, "", everything=True)
    fund_code = StringField("基金编号", render_kw={"list": "fund-codes"})
