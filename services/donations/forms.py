"""Web forms of the donations service (Chinese labels).

The rules are the API's (schemas.py): amounts are text with exactly two
decimals from 0.01 to 1000000000.00, business dates lie between 2000-01-01
and today in Asia/Shanghai, fund codes are 3-32 of A-Z, 0-9 and '-'.
"""

from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField, DateField, Field, Form, SelectChoice, SelectField, StringField, TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from services.donations.dates import today
from services.donations.models import CHANNELS, DISBURSEMENT_STATUSES, DONOR_KINDS
from services.donations.schemas import EARLIEST_DATE
from shared.forms import ChineseMeta, OnceForm, WebForm
from shared.money import AMOUNT_PATTERN, MAX_AMOUNT_FEN, MIN_AMOUNT_FEN, Money

DONOR_KIND_LABELS = {"individual": "个人", "enterprise": "企业", "organization": "社会组织"}
CHANNEL_LABELS = {"bank": "银行转账", "cash": "现金", "wechat": "微信", "alipay": "支付宝",
                  "in_kind": "实物捐赠"}
DONATION_STATUS_LABELS = {"recorded": "有效", "reversed": "已冲销"}
DISBURSEMENT_STATUS_LABELS = {"requested": "待审批", "approved": "已批准（待支付）", "paid": "已支付",
                              "rejected": "已驳回"}
ENTRY_KIND_LABELS = {"donation": "捐赠", "reversal": "冲销", "disbursement": "拨付"}
BATCH_STATUS_LABELS = {"recorded": "已记录", "duplicate": "重复", "invalid": "无效"}
# The CSV columns (and a batch row's error keys) as the page names them.
COLUMN_LABELS = {"fund_code": "基金编号", "amount": "金额", "currency": "币种", "donor_name": "捐赠人",
                 "donor_kind": "捐赠人类型", "donor_anonymous": "是否匿名", "received_on": "收款日期",
                 "channel": "收款方式", "purpose": "用途", "reference": "参考号", "_row": "整行"}
assert set(DONOR_KIND_LABELS) == set(DONOR_KINDS) and set(CHANNEL_LABELS) == set(CHANNELS)
assert set(DISBURSEMENT_STATUS_LABELS) == set(DISBURSEMENT_STATUSES)

# The commands' and batch checks' messages, as the pages show them.
MESSAGES = {
    "No such fund.": "没有此基金，或您无权在此基金登记。",
    "Already recorded for this organisation.": "此参考号已在本机构登记过，不能重复登记。",
    "The fund is closed and takes no donations.": "基金已关闭，不再接收捐赠。",
    "Missing data for required field.": "必填。",
    "Must not be empty.": "不能为空。",
    "Must be one of: CNY.": "币种只能是 CNY。",
    "Must be an amount with exactly two decimals, such as \"1280.00\".": "金额须为恰好两位小数的数字，例如 1280.00。",
    "Must be between 0.01 and 1000000000.00.": "金额须在 0.01 至 1000000000.00 之间。",
    "Not a valid date.": "不是有效日期（格式 YYYY-MM-DD）。",
    "Must not be before 2000-01-01.": "日期不能早于 2000-01-01。",
    "Must not be in the future.": "日期不能晚于今天。",
    "Must be true or false.": "须为 true 或 false。",
    "3-32 characters of A-Z, 0-9 and '-'.": "编号须为 3–32 位大写字母、数字或“-”。",
    "Must not be after 'to'.": "起始日期不能晚于截止日期。",
}


def chinese(message: str) -> str:
    return MESSAGES.get(message, message)


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


ALL = SelectChoice("", "全部")


# -- field rules -------------------------------------------------------------

def _amount(form: Any, field: Field) -> None:
    text = field.data or ""
    if not AMOUNT_PATTERN.fullmatch(text):
        raise ValidationError("金额须为恰好两位小数的数字，例如 1280.00。")
    if not MIN_AMOUNT_FEN <= Money.parse(text).fen <= MAX_AMOUNT_FEN:
        raise ValidationError("金额须在 0.01 至 1000000000.00 之间。")


def _business_date(form: Any, field: Field) -> None:
    """A date that has happened: from 2000-01-01 to today in Asia/Shanghai."""
    if field.data is None:
        return
    if field.data < EARLIEST_DATE:
        raise ValidationError("日期不能早于 2000-01-01。")
    if field.data > today():
        raise ValidationError("日期不能晚于今天（北京时间）。")


def _fund_code() -> StringField:
    return StringField("基金编号", validators=[
        InputRequired("请输入基金编号。"),
        Regexp(r"[A-Z0-9-]{3,32}\Z", message="编号须为 3–32 位大写字母、数字或“-”，例如 TL-HQ-001。")],
        render_kw={"list": "fund-codes", "autocomplete": "off", "placeholder": "例如 TL-HQ-001"})


def _amount_field() -> StringField:
    return StringField("金额（元）", validators=[InputRequired("请输入金额。"), _amount],
                       render_kw={"inputmode": "decimal", "placeholder": "1280.00"})


def _required_date(label: str) -> DateField:
    return DateField(label, default=today, validators=[InputRequired("请输入日期。"), _business_date])


def _text(label: str, required: str | None, max_length: int) -> StringField:
    rules: list[Any] = [DataRequired(required)] if required else [Optional()]
    return StringField(label, validators=[*rules, Length(max=max_length, message=f"不能超过 {max_length} 个字符。")],
                       filters=[lambda value: value.strip() if isinstance(value, str) else value])


def _reason(label: str) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired("请填写原因。"),
                                            Length(max=2000, message="不能超过 2000 个字符。")],
                         filters=[lambda value: value.strip() if isinstance(value, str) else value])


# -- donations -----------------------------------------------------------------

class DonationForm(OnceForm):
    fund_code = _fund_code()
    amount = _amount_field()
    donor_name = _text("捐赠人名称", "请输入捐赠人名称。", 200)
    donor_kind = SelectField("捐赠人类型", choices=_choices(DONOR_KIND_LABELS), default="individual")
    donor_anonymous = BooleanField("匿名捐赠（收据与查询中不显示捐赠人名称）")
    received_on = _required_date("收款日期")
    channel = SelectField("收款方式", choices=_choices(CHANNEL_LABELS), default="bank")
    purpose = TextAreaField("捐赠用途", validators=[Length(max=2000, message="不能超过 2000 个字符。")],
                            filters=[lambda value: value.strip() if isinstance(value, str) else value])
    reference = _text("参考号（银行流水号等，可选；同一机构内不可重复）", None, 100)

    def command_data(self) -> dict[str, Any]:
        """What DonationCreateSchema would load from the same input."""
        return {"fund_code": self.fund_code.data, "amount": Money.parse(self.amount.data),
                "currency": "CNY",
                "donor": {"name": self.donor_name.data, "kind": self.donor_kind.data,
                          "anonymous": bool(self.donor_anonymous.data)},
                "received_on": self.received_on.data, "channel": self.channel.data,
                "purpose": self.purpose.data or "", "reference": self.reference.data or None}


class ReverseForm(WebForm):
    reason = _reason("冲销原因")


class ImportForm(WebForm):
    file = FileField("CSV 文件（UTF-8 编码）", validators=[FileRequired("请选择要导入的 CSV 文件。")],
                     render_kw={"accept": ".csv,text/csv"})


class SearchForm(Form):
    """The donation search (GET, no CSRF): /search?fund_code=&donor=&from=&to=."""

    class Meta(ChineseMeta):
        pass

    fund_code = StringField("基金编号", validators=[
        Optional(), Regexp(r"[A-Z0-9-]{3,32}\Z", message="编号须为 3–32 位大写字母、数字或“-”。")],
        render_kw={"list": "fund-codes"})
    donor = StringField("捐赠人", validators=[Optional(), Length(max=200, message="不能超过 200 个字符。")],
                        filters=[lambda value: value.strip() if isinstance(value, str) else value],
                        render_kw={"placeholder": "名称中的任意部分"})
    date_from = DateField("收款日期自", name="from", validators=[Optional()])
    date_to = DateField("至", name="to", validators=[Optional()])

    def validate_date_from(self, field: Field) -> None:
        if field.data and self.date_to.data and field.data > self.date_to.data:
            raise ValidationError("起始日期不能晚于截止日期。")


class StatementForm(Form):
    """A statement's period (GET): ?from=&to=."""

    class Meta(ChineseMeta):
        pass

    date_from = DateField("起始日期", name="from", validators=[Optional()])
    date_to = DateField("截止日期", name="to", validators=[Optional()])

    def validate_date_from(self, field: Field) -> None:
        if field.data and self.date_to.data and field.data > self.date_to.data:
            raise ValidationError("起始日期不能晚于截止日期。")


# -- disbursements ---------------------------------------------------------------

class DisbursementForm(OnceForm):
    fund_code = _fund_code()
    amount = _amount_field()
    payee = _text("收款人", "请输入收款人。", 200)
    purpose = TextAreaField("拨付用途", validators=[DataRequired("请填写拨付用途。"),
                                                 Length(max=2000, message="不能超过 2000 个字符。")],
                            filters=[lambda value: value.strip() if isinstance(value, str) else value])
    project = _text("项目名称（可选）", None, 200)

    def command_data(self) -> dict[str, Any]:
        """What DisbursementCreateSchema would load from the same input."""
        return {"fund_code": self.fund_code.data, "amount": Money.parse(self.amount.data),
                "payee": self.payee.data, "purpose": self.purpose.data, "project": self.project.data or None}


class RejectForm(WebForm):
    reason = _reason("驳回原因")


class PayForm(WebForm):
    paid_on = _required_date("支付日期")
    bank_reference = _text("银行流水号", "请输入银行流水号。", 100)


class DisbursementFilterForm(Form):
    """The disbursement list's filter (GET, no CSRF)."""

    class Meta(ChineseMeta):
        pass

    status = SelectField("状态", choices=[ALL, *_choices(DISBURSEMENT_STATUS_LABELS)], default="")
    fund_code = StringField("基金编号", validators=[
        Optional(), Regexp(r"[A-Z0-9-]{3,32}\Z", message="编号须为 3–32 位大写字母、数字或“-”。")],
        render_kw={"list": "fund-codes"})
