"""Web forms of the funds service (Chinese labels)."""

from __future__ import annotations

from wtforms import (
    BooleanField, DateField, Form, PasswordField, SelectChoice, SelectField, SelectMultipleField,
    StringField, TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from services.funds.commands import MIN_PASSWORD_LENGTH
from services.funds.models import FUND_CODE_PATTERN
from shared.auth import ROLE_LABELS, SCOPES
from shared.forms import ChineseMeta, WebForm

FUND_STATUS_LABELS = {"active": "正常", "frozen": "已冻结", "closed": "已关闭"}
FUND_KIND_LABELS = {"township_named": "乡镇冠名基金", "chamber_named": "商会冠名基金",
                    "general": "综合基金"}
ORGANIZATION_KIND_LABELS = {"township": "乡镇", "chamber_of_commerce": "商会",
                            "federation": "慈善总会", "other": "其他"}
SCOPE_LABELS = {"funds:read": "查看基金", "funds:write": "管理基金", "donations:read": "查看捐赠",
                "donations:write": "登记捐赠与拨付", "disbursements:approve": "审批拨付",
                "reports:read": "查看报表", "admin": "系统管理"}
assert set(SCOPE_LABELS) == set(SCOPES)


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


ALL = SelectChoice("", "全部")


class LoginForm(WebForm):
    username = StringField("用户名", validators=[InputRequired("请输入用户名。"), Length(max=64)])
    password = PasswordField("密码", validators=[InputRequired("请输入密码。"), Length(max=256)])


def _organization_field() -> SelectField:
    """Its choices are set per request: only organisations the user may use."""
    return SelectField("所属机构", coerce=int, validators=[InputRequired("请选择机构。")])


class FundFilterForm(Form):
    """The fund list's search (GET, no CSRF)."""

    class Meta(ChineseMeta):
        pass

    q = StringField("关键词", validators=[Optional(), Length(max=200)],
                    render_kw={"placeholder": "名称或编号"})
    status = SelectField("状态", choices=[ALL, *_choices(FUND_STATUS_LABELS)], default="")
    kind = SelectField("类型", choices=[ALL, *_choices(FUND_KIND_LABELS)], default="")
    organization_id = SelectField("机构", choices=[ALL], default="")


def _fund_name() -> StringField:
    return StringField("基金名称", validators=[InputRequired("请输入基金名称。"), Length(max=200)])


def _purpose() -> TextAreaField:
    return TextAreaField("用途说明", validators=[Length(max=2000)])


class FundCreateForm(WebForm):
    code = StringField("基金编号", validators=[
        InputRequired("请输入基金编号。"),
        Regexp(rf"(?:{FUND_CODE_PATTERN})\Z",
               message="编号须为 3–32 位大写字母、数字或“-”，例如 TL-HQ-001。")])
    name = _fund_name()
    kind = SelectField("基金类型", choices=_choices(FUND_KIND_LABELS))
    organization_id = _organization_field()
    purpose = _purpose()
    restricted = BooleanField("限定用途")
    opened_on = DateField("设立日期", validators=[Optional()])


class FundEditForm(WebForm):
    name = _fund_name()
    purpose = _purpose()


class CloseFundForm(WebForm):
    confirm = BooleanField("我确认关闭此基金（关闭后不可恢复）",
                           validators=[InputRequired("请勾选确认后再关闭。")])


class OrganizationForm(WebForm):
    name = StringField("机构名称", validators=[InputRequired("请输入机构名称。"), Length(max=200)])
    kind = SelectField("机构类型", choices=_choices(ORGANIZATION_KIND_LABELS))


class ApiKeyForm(WebForm):
    name = StringField("密钥名称", validators=[InputRequired("请输入密钥名称。"), Length(max=200)])
    scopes = SelectMultipleField(
        "权限范围", choices=_choices({scope: f"{label}（{scope}）" for scope, label in SCOPE_LABELS.items()}),
        validators=[InputRequired("请至少选择一项权限。")],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


def _display_name() -> StringField:
    return StringField("显示名称", validators=[Length(max=200)])


def _role() -> SelectField:
    return SelectField("角色", choices=_choices(ROLE_LABELS))


def _password(label: str, *required: object) -> PasswordField:
    return PasswordField(label, validators=[
        *required, Length(min=MIN_PASSWORD_LENGTH, max=256, message=f"密码至少 {MIN_PASSWORD_LENGTH} 位。")])


class UserCreateForm(WebForm):
    username = StringField("用户名", validators=[InputRequired("请输入用户名。"), Length(max=64)])
    display_name = _display_name()
    password = _password("密码", InputRequired("请输入密码。"))
    role = _role()
    organization_id = _organization_field()


class UserEditForm(WebForm):
    display_name = _display_name()
    role = _role()
    organization_id = _organization_field()
    active = BooleanField("账户启用")
    password = _password("新密码（不修改请留空）", Optional())
