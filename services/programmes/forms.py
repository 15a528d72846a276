"""Web forms of the programmes service (labels in the reader's language, Chinese first).

Each form is checked by the shape the API uses for the same input (rules.py),
so a page accepts and refuses exactly what the API does; the lists' filters by
the shapes of web_reads.py. The words for the vocabularies (a need's category,
priority and status, a claim's status) are here, once, for every page.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField, HiddenField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField,
)

from services.programmes.rules import (
    ACTIVITY, ACTIVITY_KINDS, AMENDMENT, AMENDMENT_STATUSES, CLAIM, CLAIM_NOTE, CLAIM_STATUSES, DRIVE, DRIVE_STATUSES,
    MEMBER_ROLES, MILESTONE_REPORT, MILESTONE_STATUSES, NEED, NEED_CATEGORIES, NEED_STATUSES, PLEDGE, PRIORITIES,
    PROJECT, PROJECT_CLOSE, PROJECT_STATUSES, PROJECT_STOP, PURCHASE, PURCHASE_KINDS, TEAM, VILLAGE,
)
from services.programmes.web_reads import (
    CLAIM_PAGE, NEED_PAGE, PAGE_SIZE, PROJECT_PAGE, SIMPLE_PAGE, VILLAGE_PAGE,
)
from shared import page_input
from shared.forms import ALL, OnceForm, QueryForm, WebForm, choices
from shared.listing import PAGE_SIZES
from shared.refusals import LABELS
from shared.shapes import Refusal, Shape

CATEGORY_LABELS = {"roads": _l("Roads and bridges"), "lighting": _l("Street lighting"),
                   "drinking_water": _l("Drinking water"), "schooling": _l("Schooling"),
                   "elderly_care": _l("Care of the elderly"), "produce_sales": _l("Selling produce"),
                   "health": _l("Health care"), "housing": _l("Housing"), "other": _l("Other needs")}
PRIORITY_LABELS = {"high": _l("High"), "normal": _l("Normal"), "low": _l("Low")}
NEED_STATUS_LABELS = {"open": _l("Open"), "fully_pledged": _l("Fully pledged"), "fulfilled": _l("Fulfilled"),
                      "closed": _l("Closed")}
# A claim's status reads as the refusals name it (shared.refusals.LABELS), in the reader's language.
CLAIM_STATUS_LABELS = {status: _l(LABELS[status]) for status in CLAIM_STATUSES}
assert set(CATEGORY_LABELS) == set(NEED_CATEGORIES) and set(PRIORITY_LABELS) == set(PRIORITIES)
assert set(NEED_STATUS_LABELS) == set(NEED_STATUSES) and set(CLAIM_STATUS_LABELS) == set(CLAIM_STATUSES)


def _amount(label: str) -> StringField:
    return StringField(label, render_kw={"inputmode": "decimal", "placeholder": "3500.00"})


def _date(label: str) -> StringField:
    return StringField(label, render_kw={"type": "date"})


def _select(label: str, labels: dict[str, str], default: str = "", everything: bool = False) -> SelectField:
    options = [ALL, *choices(labels)] if everything else choices(labels)
    return SelectField(label, choices=options, default=default, validate_choice=False)


def _page_size() -> SelectField:
    return SelectField(_l("Rows a page"), choices=[SelectChoice(str(n), str(n)) for n in PAGE_SIZES],
                       default=str(PAGE_SIZE), validate_choice=False)


# -- the bureau's forms --------------------------------------------------------------------

class VillageForm(OnceForm):
    shape = VILLAGE

    name = StringField(_l("Village"))
    township = StringField(_l("Township"))
    weak = BooleanField(_l("An economically weak village"), default=True)


class NeedForm(OnceForm):
    shape = NEED

    village_id = HiddenField()
    title = StringField(_l("What the village needs"), render_kw={"placeholder": _l("such as ten street lamps")})
    category = _select(_l("Category"), CATEGORY_LABELS, "other")
    amount = _amount(_l("Amount asked (yuan)"))
    quantity = StringField(_l("Goods asked: how many (optional)"), render_kw={"inputmode": "decimal",
                                                                          "placeholder": "35"})
    unit = StringField(_l("Goods' unit (with the quantity)"), render_kw={"placeholder": _l("such as lamps")})
    due_on = _date(_l("Needed by"))
    priority = _select(_l("Priority"), PRIORITY_LABELS, "normal")
    description = TextAreaField(_l("Description (optional)"))


# -- an organisation's claims ----------------------------------------------------------------

class ClaimForm(OnceForm):
    shape = CLAIM

    amount = _amount(_l("Amount pledged (yuan)"))
    due_on = _date(_l("To be fulfilled by (optional; the need's date if left empty)"))


class NoteForm(WebForm):
    """A claim's step with a note (withdrawing one)."""

    shape = CLAIM_NOTE

    note = TextAreaField(_l("Note (optional)"))


class ButtonForm(WebForm):
    """A button that acts (start, fulfil, sign off, close): its CSRF token only."""


# -- the lists' filters --------------------------------------------------------------------

class NeedFilterForm(QueryForm):
    shape = NEED_PAGE

    township = SelectField(_l("Township"), default="", validate_choice=False)
    village_id = SelectField(_l("Village"), default="", validate_choice=False)
    category = _select(_l("Category"), CATEGORY_LABELS, everything=True)
    status = _select(_l("Status"), NEED_STATUS_LABELS, everything=True)
    size = _page_size()
    page = HiddenField(_l("Page"))


class VillageFilterForm(QueryForm):
    shape = VILLAGE_PAGE

    township = SelectField(_l("Township"), default="", validate_choice=False)
    size = _page_size()
    page = HiddenField(_l("Page"))


class ClaimFilterForm(QueryForm):
    shape = CLAIM_PAGE

    status = _select(_l("Status"), CLAIM_STATUS_LABELS, everything=True)
    size = _page_size()
    page = HiddenField(_l("Page"))


# -- projects, teams and drives (web_projects.py, web_teams_drives.py) ------------------------------

PROJECT_STATUS_LABELS = {"draft": _l("Draft"), "approved": _l("Approved"), "in_progress": _l("Under way"),
                         "closing": _l("Closing"), "complete": _l("Complete"), "stopped": _l("Stopped")}
MILESTONE_STATUS_LABELS = {"pending": _l("Pending"), "reported": _l("Reported"), "accepted": _l("Accepted"),
                           "cancelled": _l("Cancelled")}
AMENDMENT_STATUS_LABELS = {"requested": _l("Awaiting a decision"), "approved": _l("Approved"),
                           "rejected": _l("Rejected")}
MEMBER_ROLE_LABELS = {"lead": _l("Lead"), "partner": _l("Partner"), "donor": _l("Donor")}
ACTIVITY_KIND_LABELS = {"visit": _l("Visit"), "goods": _l("Goods given"), "training": _l("Training"),
                        "sales_help": _l("Help with sales")}
PURCHASE_KIND_LABELS = {"market": _l("At market price"), "given_on": _l("Given on to people in need"),
                        "premium": _l("Above market price")}
# What each kind of purchase is in the books, said in one line beside the choice.
PURCHASE_KIND_HINTS = {
    "market": _l("An exchange at market value: neither a donation nor charitable spending."),
    "given_on": _l("Charitable spending at market value; anything paid above it is a donation of the difference."),
    "premium": _l("Paid above market value: the difference is a donation."),
}
DRIVE_STATUS_LABELS = {"open": _l("Running"), "closed": _l("Closed")}
assert set(PROJECT_STATUS_LABELS) == set(PROJECT_STATUSES) and set(MILESTONE_STATUS_LABELS) == set(MILESTONE_STATUSES)
assert set(AMENDMENT_STATUS_LABELS) == set(AMENDMENT_STATUSES) and set(MEMBER_ROLE_LABELS) == set(MEMBER_ROLES)
assert set(ACTIVITY_KIND_LABELS) == set(ACTIVITY_KINDS) and set(PURCHASE_KIND_LABELS) == set(PURCHASE_KINDS)
assert set(PURCHASE_KIND_HINTS) == set(PURCHASE_KINDS) and set(DRIVE_STATUS_LABELS) == set(DRIVE_STATUSES)

# How many empty rows a form offers for its repeated parts (blank rows are ignored).
LINE_ROWS, MILESTONE_ROWS, MEMBER_ROWS, VOLUNTEER_ROWS = 5, 4, 5, 6


def _sub(shape: Shape, names: tuple[str, ...]) -> Shape:
    """Some of a shape's fields, the same rules: the part of a form that is not repeated rows."""
    return Shape(f"{shape.name}Head", {name: shape.fields[name] for name in names})


class RowsForm(OnceForm):
    """A form with repeated rows (`<list>_<field>_<n>`): its head is checked by `shape`, its rows
    by the page (web_rows.py); a refusal of a list as a whole is said beside its rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_errors: dict[str, list[str]] = {}

    def row_fields(self, prefix: str, names: tuple[str, ...], count: int) -> list[list[Any]]:
        return [[self[f"{prefix}_{name}_{n}"] for name in names] for n in range(1, count + 1)]


def _add_rows(form: type, prefix: str, fields: dict[str, Any], count: int) -> None:
    for n in range(1, count + 1):
        for name, make in fields.items():
            setattr(form, f"{prefix}_{name}_{n}", make(n))


class ProjectForm(RowsForm):
    shape = _sub(PROJECT, ("code", "name", "fund_code", "village_id", "team_id", "starts_on", "ends_on",
                           "description"))

    code = StringField(_l("Project code"), render_kw={"placeholder": "XM-2026-001", "autocapitalize": "characters"})
    name = StringField(_l("Project name"))
    fund_code = SelectField(_l("Paid from the fund"), validate_choice=False)
    village_id = SelectField(_l("Village served (optional)"), validate_choice=False)
    team_id = SelectField(_l("Assistance team (optional)"), validate_choice=False)
    starts_on = _date(_l("Starts on"))
    ends_on = _date(_l("Ends on"))
    description = TextAreaField(_l("Description (optional)"))


_add_rows(ProjectForm, "line", {"name": lambda n: StringField(_l("Budget line %(n)s", n=n)),
                                "amount": lambda n: _amount(_l("Amount of line %(n)s (yuan)", n=n))}, LINE_ROWS)
_add_rows(ProjectForm, "milestone", {
    "name": lambda n: StringField(_l("Milestone %(n)s", n=n)),
    "due_on": lambda n: _date(_l("Report of milestone %(n)s due on", n=n)),
    "instalment": lambda n: _amount(_l("Instalment of milestone %(n)s (yuan)", n=n))}, MILESTONE_ROWS)


class AmendmentForm(RowsForm):
    shape = _sub(AMENDMENT, ("reason",))

    reason = TextAreaField(_l("Why the budget changes"))


_add_rows(AmendmentForm, "line", {"name": lambda n: StringField(_l("Budget line %(n)s", n=n)),
                                  "amount": lambda n: _amount(_l("Amount of line %(n)s (yuan)", n=n))}, LINE_ROWS)


class ReportForm(WebForm):
    shape = MILESTONE_REPORT

    report = TextAreaField(_l("What was done (the milestone's report)"))


class StopForm(WebForm):
    shape = PROJECT_STOP

    reason = TextAreaField(_l("Why the project stops"))


class CloseProjectForm(WebForm):
    shape = PROJECT_CLOSE

    final_report = TextAreaField(_l("Final report"))
    leftover_to = StringField(_l("Where money left over goes (required when some is left)"))


class TeamForm(RowsForm):
    shape = _sub(TEAM, ("name",))  # its villages are checked with its members, by TEAM itself

    name = StringField(_l("Team name"))
    village_ids = SelectMultipleField(_l("Villages paired with the team"), validate_choice=False,
                                      render_kw={"size": 6})


_add_rows(TeamForm, "member", {
    "organization_id": lambda n: SelectField(_l("Member %(n)s", n=n), validate_choice=False),
    "role": lambda n: SelectField(_l("Role of member %(n)s", n=n), choices=choices(MEMBER_ROLE_LABELS),
                                  default="lead" if n == 1 else "partner", validate_choice=False),
    "contribution": lambda n: StringField(_l("Contribution of member %(n)s (optional)", n=n))}, MEMBER_ROWS)


class ActivityForm(RowsForm):
    shape = _sub(ACTIVITY, ("on", "village_id", "kind", "people_helped", "description"))

    on = _date(_l("Day of the activity"))
    village_id = SelectField(_l("Village"), validate_choice=False)
    kind = _select(_l("Kind"), ACTIVITY_KIND_LABELS, "visit")
    people_helped = StringField(_l("People helped"), default="0", render_kw={"inputmode": "numeric"})
    description = TextAreaField(_l("What was done (optional)"))


_add_rows(ActivityForm, "volunteer", {
    "name": lambda n: StringField(_l("Volunteer %(n)s", n=n)),
    "hours": lambda n: StringField(_l("Hours of volunteer %(n)s", n=n),
                                   render_kw={"inputmode": "decimal", "placeholder": "2.5"})}, VOLUNTEER_ROWS)


class QuantityForm(OnceForm):
    """A form with quantities of goods, read as people type them (page_input.quantity_text)."""

    quantities: tuple[str, ...] = ("quantity",)

    def raw(self) -> dict[str, Any]:
        raw = super().raw()
        for name in self.quantities:
            if raw.get(name, "").strip():
                try:
                    raw[name] = page_input.quantity_text(raw[name])
                except Refusal:
                    pass  # the shape refuses it, in its words
        return raw


class DriveForm(QuantityForm):
    shape = DRIVE

    name = StringField(_l("Drive name"))
    village_id = SelectField(_l("Village whose produce is bought"), validate_choice=False)
    product = StringField(_l("Product"), render_kw={"placeholder": _l("such as yellow peaches")})
    unit = StringField(_l("Unit"), render_kw={"placeholder": _l("such as a 5-jin basket")})
    unit_price = _amount(_l("Market price of a unit (yuan)"))
    quantity = StringField(_l("Target quantity (units)"), render_kw={"inputmode": "decimal", "placeholder": "2500"})
    seller = StringField(_l("Seller (optional)"))


class PledgeForm(QuantityForm):
    shape = PLEDGE

    quantity = StringField(_l("Quantity pledged (units)"), render_kw={"inputmode": "decimal"})


class PurchaseForm(QuantityForm):
    shape = PURCHASE

    quantity = StringField(_l("Quantity bought (units)"), render_kw={"inputmode": "decimal"})
    amount = _amount(_l("Amount paid to the village (yuan)"))
    kind = RadioField(_l("What the purchase is"), choices=choices(PURCHASE_KIND_LABELS), default="market",
                      validate_choice=False)
    related_party = BooleanField(_l("The seller is related to our organisation"))
    purchased_on = _date(_l("Day of the purchase"))
    fund_code = SelectField(_l("Fund concerned (optional)"), validate_choice=False)


# -- the lists' filters --------------------------------------------------------------------------

class ProjectFilterForm(QueryForm):
    shape = PROJECT_PAGE

    status = _select(_l("Status"), PROJECT_STATUS_LABELS, everything=True)
    organization_id = SelectField(_l("Organisation"), default="", validate_choice=False)
    village_id = SelectField(_l("Village"), default="", validate_choice=False)
    fund_code = SelectField(_l("Fund"), default="", validate_choice=False)
    size = _page_size()
    page = HiddenField(_l("Page"))


class SimplePageForm(QueryForm):
    """A list with no filter but its pages (teams, drives)."""

    shape = SIMPLE_PAGE

    size = _page_size()
    page = HiddenField(_l("Page"))
