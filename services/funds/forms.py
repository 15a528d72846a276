"""Web forms of the funds service (Chinese labels).

Each form is checked by the shape the API uses for the same input (rules.py).
"""

from __future__ import annotations

from wtforms import (
    BooleanField, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

from services.funds.rules import (
    API_KEY, CHARITY_KINDS, DEFAULT_CHARITY_KIND, FUND, FUND_CLOSE, FUND_EDIT, FUND_LIST, LOGIN,
    MANAGEMENT_COST_LIMIT_PERCENT, MIN_PASSWORD_LENGTH, ORGANIZATION, ORGANIZATION_APPROVAL_RULE,
    ORGANIZATION_CHARITY_KIND, USER, USER_CHANGE,
)
from shared.auth import ROLE_LABELS, SCOPES
from shared.contracts.funds import APPROVAL_RULES, DEFAULT_APPROVAL_RULE, FUND_STATUSES
from shared.forms import ALL, QueryForm, WebForm, choices
from shared.i18n import label

# A status reads as the catalogue says (shared/translations); the pages are Chinese for now.
FUND_STATUS_LABELS = {status: label(status, "zh") for status in FUND_STATUSES}
FUND_KIND_LABELS = {"township_named": "乡镇冠名基金", "chamber_named": "商会冠名基金",
                    "general": "综合基金"}
ORGANIZATION_KIND_LABELS = {"township": "乡镇", "chamber_of_commerce": "商会",
                            "federation": "慈善总会", "other": "其他"}
# A charity kind reads as the catalogue says, with the management-cost limit it brings.
CHARITY_KIND_LABELS = {kind: f"{label(kind, 'zh')}（管理费用不超过年度总支出的 {MANAGEMENT_COST_LIMIT_PERCENT[kind]}%）"
                       for kind in CHARITY_KINDS}
SCOPE_LABELS = {"funds:read": "查看基金", "funds:write": "管理基金", "donations:read": "查看捐赠",
                "donations:write": "登记捐赠与拨付", "disbursements:approve": "审批拨付",
                "reports:read": "查看报表", "admin": "系统管理"}
assert set(SCOPE_LABELS) == set(SCOPES)
# The least power first: a new user gets it unless told otherwise.
ROLE_ORDER = ("auditor", "approver", "fund_manager", "admin")


def _select(label: str, choices: list[SelectChoice], default: str | None = None) -> SelectField:
    return SelectField(label, choices=choices, default=default, validate_choice=False)


class LoginForm(WebForm):
    shape = LOGIN

    username = StringField("用户名")
    password = PasswordField("密码")


def _id_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None  # the shape says why


def _organization_field() -> SelectField:
    """Its choices are set per request: only organisations the user may use."""
    return SelectField("所属机构", choices=[], coerce=_id_or_none, validate_choice=False)


class FundFilterForm(QueryForm):
    """The fund list's search."""

    shape = FUND_LIST

    q = StringField("关键词", render_kw={"placeholder": "名称或编号"})
    status = _select("状态", [ALL, *choices(FUND_STATUS_LABELS)], "")
    kind = _select("类型", [ALL, *choices(FUND_KIND_LABELS)], "")
    organization_id = _select("机构", [ALL], "")


class FundCreateForm(WebForm):
    shape = FUND

    code = StringField("基金编号", render_kw={"placeholder": "例如 TL-HQ-001"})
    name = StringField("基金名称")
    kind = _select("基金类型", choices(FUND_KIND_LABELS))
    organization_id = _organization_field()
    purpose = TextAreaField("用途说明")
    restricted = BooleanField("限定用途")
    opened_on = StringField("设立日期", render_kw={"type": "date"})


class FundEditForm(WebForm):
    shape = FUND_EDIT

    name = StringField("基金名称")
    purpose = TextAreaField("用途说明")


class CloseFundForm(WebForm):
    shape = FUND_CLOSE

    confirm = BooleanField("我确认关闭此基金（关闭后不可恢复）")


def approval_rule_choices() -> list[SelectChoice]:
    """An approval rule as the catalogue words it, in the reader's language (asked per request)."""
    return [SelectChoice(rule, f"{label(rule)}（{rule}）") for rule in APPROVAL_RULES]


def _approval_rule() -> SelectField:
    """Its choices are worded when the form is shown, in its reader's language."""
    return _select("拨付审批规则", approval_rule_choices, DEFAULT_APPROVAL_RULE)  # type: ignore[arg-type]


def _charity_kind() -> SelectField:
    return _select("慈善组织类型", choices(CHARITY_KIND_LABELS), DEFAULT_CHARITY_KIND)


class OrganizationForm(WebForm):
    shape = ORGANIZATION

    name = StringField("机构名称")
    kind = _select("机构类型", choices(ORGANIZATION_KIND_LABELS))
    charity_kind = _charity_kind()
    approval_rule = _approval_rule()


class CharityKindForm(WebForm):
    """The organisation's kind under the Charity Law, on its page."""

    shape = ORGANIZATION_CHARITY_KIND

    charity_kind = _charity_kind()


class ApprovalRuleForm(WebForm):
    """Who may approve the organisation's disbursements, on its page."""

    shape = ORGANIZATION_APPROVAL_RULE

    approval_rule = _approval_rule()


class ApiKeyForm(WebForm):
    shape = API_KEY

    name = StringField("密钥名称")
    scopes = SelectMultipleField(
        "权限范围", choices=choices({scope: f"{label}（{scope}）" for scope, label in SCOPE_LABELS.items()}),
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), validate_choice=False)


def _role() -> SelectField:
    return _select("角色", choices({role: ROLE_LABELS[role] for role in ROLE_ORDER}), ROLE_ORDER[0])


class UserCreateForm(WebForm):
    shape = USER

    username = StringField("用户名")
    display_name = StringField("显示名称")
    password = PasswordField("密码", description=f"至少 {MIN_PASSWORD_LENGTH} 位")
    role = _role()
    organization_id = _organization_field()


class UserEditForm(WebForm):
    shape = USER_CHANGE

    display_name = StringField("显示名称")
    role = _role()
    organization_id = _organization_field()
    active = BooleanField("账户启用")
    password = PasswordField("新密码（不修改请留空）")
