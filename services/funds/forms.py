"""Web forms of the funds service (labels in the reader's language, Chinese first).

Each form is checked by the shape the API uses for the same input (rules.py).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
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
from shared.refusals import LABELS

# A status reads as the catalogue says (shared/translations), in the reader's language.
FUND_STATUS_LABELS = {status: _l(LABELS[status]) for status in FUND_STATUSES}
FUND_KIND_LABELS = {"township_named": _l("Township named fund"), "chamber_named": _l("Chamber of commerce named fund"),
                    "general": _l("General fund")}
ORGANIZATION_KIND_LABELS = {"township": _l("Township"), "chamber_of_commerce": _l("Chamber of commerce"),
                            "federation": _l("Charity federation"), "other": _l("Other")}
# A charity kind reads as the catalogue says, with the management-cost limit it brings.
CHARITY_KIND_LABELS = {kind: _l("%(kind)s (management costs at most %(limit)s%% of the year's spending)",
                                kind=_l(LABELS[kind]), limit=MANAGEMENT_COST_LIMIT_PERCENT[kind])
                       for kind in CHARITY_KINDS}
SCOPE_LABELS = {"funds:read": _l("Read funds"), "funds:write": _l("Manage funds"),
                "donations:read": _l("Read donations"),
                "donations:write": _l("Record donations and disbursements"),
                "disbursements:approve": _l("Approve disbursements"),
                "reports:read": _l("Read reports"), "programmes:read": _l("Read programmes"),
                "programmes:write": _l("Run programmes: claims, projects, teams, drives"),
                "admin": _l("Administration")}
assert set(SCOPE_LABELS) == set(SCOPES)
# The least power first: a new user gets it unless told otherwise.
ROLE_ORDER = ("auditor", "approver", "fund_manager", "admin")


def _select(label: str, choices: list[SelectChoice], default: str | None = None) -> SelectField:
    return SelectField(label, choices=choices, default=default, validate_choice=False)


class LoginForm(WebForm):
    shape = LOGIN
    length_hints = False  # a name and a password people know; limits would only clutter the page

    username = StringField(_l("Username"))
    password = PasswordField(_l("Password"))


def _id_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None  # the shape says why


def _organization_field() -> SelectField:
    """Its choices are set per request: only organisations the user may use."""
    return SelectField(_l("Organisation"), choices=[], coerce=_id_or_none, validate_choice=False)


class FundFilterForm(QueryForm):
    """The fund list's search."""

    shape = FUND_LIST

    q = StringField(_l("Keyword"), render_kw={"placeholder": _l("Name or code")})
    status = _select(_l("Status"), [ALL, *choices(FUND_STATUS_LABELS)], "")
    kind = _select(_l("Kind"), [ALL, *choices(FUND_KIND_LABELS)], "")
    organization_id = _select(_l("Organisation"), [ALL], "")


class FundCreateForm(WebForm):
    shape = FUND

    code = StringField(_l("Fund code"), render_kw={"placeholder": _l("such as TL-HQ-001")})
    name = StringField(_l("Fund name"))
    kind = _select(_l("Kind of fund"), choices(FUND_KIND_LABELS))
    organization_id = _organization_field()
    purpose = TextAreaField(_l("Purpose"))
    restricted = BooleanField(_l("Restricted"))
    opened_on = StringField(_l("Opened on"), render_kw={"type": "date"})


class FundEditForm(WebForm):
    shape = FUND_EDIT

    name = StringField(_l("Fund name"))
    purpose = TextAreaField(_l("Purpose"))


class CloseFundForm(WebForm):
    shape = FUND_CLOSE

    confirm = BooleanField(_l("I confirm closing this fund (a closed fund cannot be reopened)"))


def approval_rule_choices() -> list[SelectChoice]:
    """An approval rule as the catalogue words it, in the reader's language (asked per request)."""
    return [SelectChoice(rule, _l("%(label)s (%(scope)s)", label=label(rule), scope=rule))
            for rule in APPROVAL_RULES]


def _approval_rule() -> SelectField:
    """Its choices are worded when the form is shown, in its reader's language."""
    return _select(_l("Disbursement approval rule"), approval_rule_choices,  # type: ignore[arg-type]
                   DEFAULT_APPROVAL_RULE)


def _charity_kind() -> SelectField:
    return _select(_l("Kind of charity"), choices(CHARITY_KIND_LABELS), DEFAULT_CHARITY_KIND)


class OrganizationForm(WebForm):
    shape = ORGANIZATION

    name = StringField(_l("Organisation name"))
    kind = _select(_l("Kind of organisation"), choices(ORGANIZATION_KIND_LABELS))
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

    name = StringField(_l("Key name"))
    scopes = SelectMultipleField(
        _l("Scopes"), choices=choices({scope: _l("%(label)s (%(scope)s)", label=label, scope=scope)
                                       for scope, label in SCOPE_LABELS.items()}),
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), validate_choice=False)


def _role() -> SelectField:
    return _select(_l("Role"), choices({role: ROLE_LABELS[role] for role in ROLE_ORDER}), ROLE_ORDER[0])


class UserCreateForm(WebForm):
    shape = USER

    username = StringField(_l("Username"))
    display_name = StringField(_l("Display name"))
    password = PasswordField(_l("Password"), description=_l("At least %(count)s characters", count=MIN_PASSWORD_LENGTH))
    role = _role()
    organization_id = _organization_field()


class UserEditForm(WebForm):
    shape = USER_CHANGE

    display_name = StringField(_l("Display name"))
    role = _role()
    organization_id = _organization_field()
    active = BooleanField(_l("Account active"))
    password = PasswordField(_l("New password (leave empty to keep the old one)"))
