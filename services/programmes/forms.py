"""Web forms of the programmes service (labels in the reader's language, Chinese first).

Each form is checked by the shape the API uses for the same input (rules.py),
so a page accepts and refuses exactly what the API does; the lists' filters by
the shapes of web_reads.py. The words for the vocabularies (a need's category,
priority and status, a claim's status) are here, once, for every page.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField

from services.programmes.rules import (
    CLAIM, CLAIM_NOTE, CLAIM_STATUSES, NEED, NEED_CATEGORIES, NEED_STATUSES, PRIORITIES, VILLAGE,
)
from services.programmes.web_reads import CLAIM_PAGE, DEFAULT_PAGE_SIZE, NEED_PAGE, PAGE_SIZES, VILLAGE_PAGE
from shared.forms import ALL, OnceForm, QueryForm, WebForm, choices
from shared.refusals import LABELS

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
                       default=str(DEFAULT_PAGE_SIZE), validate_choice=False)


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
