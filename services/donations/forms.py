"""Web forms of the donations service (labels in the reader's language, Chinese first).

Each form is checked by the shape the API uses for the same input
(rules.py): a form accepts and refuses exactly what the API does, and its
`values` are what the API would hand the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField

from shared import i18n, page_input
from shared.dates import today
from shared.money import Money, priced_fen
from shared.shapes import Refusal
from services.donations.rules import (
    CHANNELS, DEFAULT_DISBURSEMENT_CATEGORY, DISBURSEMENT, DISBURSEMENT_CATEGORIES, DISBURSEMENT_STATUSES, DONATION,
    DONATION_STATUSES, DONOR_KINDS, IN_KIND, PAYMENT, REVERSAL, WITHDRAWAL,
)
from shared.forms import ALL, OnceForm, QueryForm, WebForm, choices
from services.donations.listing import DISBURSEMENT_PAGE, DONATION_PAGE, STATEMENT_PAGE, STATEMENT_PAGE_SIZE
from shared.listing import DEFAULT_PAGE_SIZE, PAGE_SIZES
from shared.page_input import fund_choices, own_funds
from shared.labels import CHANNEL_LABELS, DONOR_KIND_LABELS
from shared.refusals import LABELS
from shared.money import CURRENCY

# A status reads as the catalogue says (shared/translations), in the reader's language.
DISBURSEMENT_STATUS_LABELS = {status: _l(LABELS[status]) for status in DISBURSEMENT_STATUSES}
DISBURSEMENT_CATEGORY_LABELS = {category: _l(LABELS[category]) for category in DISBURSEMENT_CATEGORIES}
ENTRY_KIND_LABELS = {"donation": _l("Donation"), "reversal": _l("Reversal"), "disbursement": _l("Disbursement")}
BATCH_STATUS_LABELS = {"recorded": _l("Recorded"), "duplicate": _l("Duplicate"), "invalid": _l("Invalid")}
# The CSV columns (and a batch row's error keys) as the page names them.
COLUMN_LABELS = {"fund_code": _l("Fund code"), "amount": _l("Amount"), "currency": _l("Currency"),
                 "donor_name": _l("Donor"), "donor_kind": _l("Kind of donor"), "donor_anonymous": _l("Anonymous"),
                 "received_on": _l("Received on"), "channel": _l("Channel"), "purpose": _l("Purpose"),
                 "reference": _l("Reference"), "_row": _l("Whole line")}
assert set(DONOR_KIND_LABELS) == set(DONOR_KINDS) and set(CHANNEL_LABELS) == set(CHANNELS)


def _fund_code(*, writable: bool = True, everything: bool = False) -> SelectField:
    """A fund picked from the user's own by name and code (those they may record to, or for a
    filter those they see), listed afresh for each form, so a fund made a moment ago is there."""
    return SelectField(_l("Fund code"), choices=lambda: fund_choices(writable=writable, everything=everything),
                       default="", validate_choice=False)


def _amount() -> StringField:
    return StringField(_l("Amount (yuan)"), render_kw={"inputmode": "decimal", "placeholder": "1280.00"})


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
    currency = StringField(_l("Currency"), default=CURRENCY, render_kw={"readonly": True})
    donor_name = StringField(_l("Donor's name"))
    donor_kind = _select(_l("Kind of donor"), DONOR_KIND_LABELS, "individual")
    donor_anonymous = BooleanField(_l("Anonymous (the donor's name is not shown on the receipt nor in searches)"))
    received_on = _date(_l("Received on"), default_today=True)
    channel = _select(_l("Channel"), CHANNEL_LABELS, "bank")
    purpose = TextAreaField(_l("Purpose of the gift"))
    reference = StringField(_l("Reference (a bank reference or the like; optional; never twice in one organisation)"))
    # A gift in kind's goods: asked for (and required) on the page when the channel is in kind.
    goods_item = StringField(_l("Goods given"), render_kw={"placeholder": _l("such as rice, quilts, laptops")})
    goods_quantity = StringField(_l("Quantity"), render_kw={"inputmode": "decimal", "placeholder": "2500"})
    goods_unit = StringField(_l("Unit"), render_kw={"placeholder": _l("such as jin, box, kg, piece")})
    goods_unit_price = StringField(_l("Unit price (yuan)"), render_kw={"inputmode": "decimal", "placeholder": "2.60"})

    GOODS_FIELDS = ("goods_item", "goods_quantity", "goods_unit", "goods_unit_price")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name in self.GOODS_FIELDS:  # required only for a gift in kind: the page's script says when
            self[name].render_kw = {key: value for key, value in self[name].render_kw.items() if key != "required"}

    def check_shape(self, data: Mapping[str, Any]) -> bool:
        """Goods only for a gift in kind (what was typed in them before the channel changed is
        dropped), and then all four; a quantity read as people type it; an amount left empty is
        the goods' total."""
        data = dict(data)
        if data.get("channel") != IN_KIND:
            data.update({name: "" for name in self.GOODS_FIELDS})
            return super().check_shape(data)
        refused: dict[str, str] = {}
        for name in self.GOODS_FIELDS:
            if not str(data.get(name) or "").strip():
                refused[name] = "required"
        if "goods_quantity" not in refused:
            try:
                data["goods_quantity"] = page_input.quantity_text(data["goods_quantity"])
            except Refusal as refusal:
                refused["goods_quantity"] = refusal.message.code
        if not str(data.get("amount") or "").strip() and not refused:
            try:
                unit_price = Money.parse(page_input.amount_text(data["goods_unit_price"]))
                data["amount"] = str(Money(priced_fen(Decimal(data["goods_quantity"]), unit_price.fen)))
            except (Refusal, ValueError):
                pass  # the unit price's own refusal follows
        valid = super().check_shape(data)
        for name, code in refused.items():  # the shape's own verdict on these gives way
            field = self[name]
            field.errors = [i18n.render(code, {"field": field.label.text})]
        if refused:
            self.values = {}
        return valid and not refused


class ReverseForm(WebForm):
    shape = REVERSAL

    reason = TextAreaField(_l("Reason for the reversal"))


class ImportForm(WebForm):
    file = FileField(_l("Spreadsheet (XLSX or CSV)"), render_kw={
        "accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv",
        "required": True})


class ImportConfirmForm(WebForm):
    include_warned = BooleanField(_l("Also record the rows that look like ones already recorded"))


class ImportContinueForm(WebForm):
    """Records an import's next rows (the result page's button, or its script)."""


# An imported row's verdict on the preview, and what became of it once confirmed.
IMPORT_VERDICT_LABELS = {"ready": _l("Ready"), "warning": _l("Check"), "error": _l("Error")}
IMPORT_STATE_LABELS = {"new": _l("Not confirmed"), "pending": _l("Waiting"), "recorded": _l("Recorded"),
                       "failed": _l("Not recorded"), "skipped": _l("Skipped")}
IMPORT_ERROR_COLUMN = _l("Errors")
# The columns as the import's pages name them: a batch's, and a gift in kind's goods.
IMPORT_COLUMN_LABELS = {**COLUMN_LABELS, "goods_item": _l("Goods given"), "goods_quantity": _l("Quantity"),
                        "goods_unit": _l("Unit"), "goods_unit_price": _l("Unit price (yuan)")}


def _organization_id() -> SelectField:
    """The organisations whose funds the user sees (only asked of those who see several)."""
    def organizations() -> list[SelectChoice]:
        named = {fund["organization_id"]: fund.get("organization_name") or str(fund["organization_id"])
                 for fund in own_funds(writable=False)}
        return [ALL, *(SelectChoice(str(key), name) for key, name in sorted(named.items(), key=lambda n: n[1]))]

    return SelectField(_l("Organisation"), choices=organizations, default="", validate_choice=False)


def _page_size(default: int = DEFAULT_PAGE_SIZE) -> SelectField:
    return SelectField(_l("Rows a page"), choices=[SelectChoice(str(n), str(n)) for n in PAGE_SIZES],
                       default=str(default), validate_choice=False)


def _amount_bound(label: str) -> StringField:
    return StringField(label, render_kw={"inputmode": "decimal"})


class _Paged:
    """A list's page, sort and direction: they travel in its links, the filter keeps the sort
    (hidden) and starts again at the first page (the page is never rendered)."""

    page = HiddenField(_l("Page"))
    sort = HiddenField(_l("Sort by"))
    order = HiddenField(_l("Sort order"))


class SearchForm(_Paged, QueryForm):
    """The donations list: /search?fund_code=&organization_id=&donor=&channel=&status=&from=&to=
    &amount_min=&amount_max=&size=&sort=&order=&page= (listing.DONATION_PAGE)."""

    shape = DONATION_PAGE

    fund_code = _fund_code(writable=False, everything=True)
    organization_id = _organization_id()
    donor = StringField(_l("Donor"), render_kw={"placeholder": _l("Any part of the name")})
    channel = _select(_l("Channel"), CHANNEL_LABELS, "", everything=True)
    status = _select(_l("Status"), {status: _l(LABELS[status]) for status in DONATION_STATUSES}, "",
                     everything=True)
    date_from = _date(_l("Received from"), name="from")
    date_to = _date(_l("to"), name="to")
    amount_min = _amount_bound(_l("Amount from (yuan)"))
    amount_max = _amount_bound(_l("Amount to (yuan)"))
    size = _page_size()


class StatementForm(_Paged, QueryForm):
    """A statement's period and page: ?from=&to=&size=&page= (listing.STATEMENT_PAGE)."""

    shape = STATEMENT_PAGE

    date_from = _date(_l("From"), name="from")
    date_to = _date(_l("To"), name="to")
    size = _page_size(STATEMENT_PAGE_SIZE)


# -- disbursements ---------------------------------------------------------------

class DisbursementForm(OnceForm):
    shape = DISBURSEMENT

    fund_code = _fund_code()
    amount = _amount()
    payee = StringField(_l("Payee"))
    purpose = TextAreaField(_l("Purpose of the disbursement"))
    project = StringField(_l("Project (optional)"))
    category = _select(_l("Kind of spending"), DISBURSEMENT_CATEGORY_LABELS, DEFAULT_DISBURSEMENT_CATEGORY)
    # What the programmes service lets it pay: a project's budget line, or a need pledged to (optional).
    project_code = StringField(_l("Programme project (code)"))
    budget_line = StringField(_l("Budget line"))
    need_id = StringField(_l("Village need (number)"))


class RejectForm(WebForm):
    shape = REVERSAL

    reason = TextAreaField(_l("Reason for the rejection"))


class WithdrawForm(WebForm):
    shape = WITHDRAWAL

    reason = TextAreaField(_l("Reason for withdrawing (optional)"))


class AttachmentForm(WebForm):
    file = FileField(_l("Attachment (an invoice, a contract…)"), render_kw={
        "accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg", "required": True})


class PayForm(WebForm):
    shape = PAYMENT

    paid_on = _date(_l("Paid on"), default_today=True)
    bank_reference = StringField(_l("Bank reference"))


class DisbursementFilterForm(_Paged, QueryForm):
    """The disbursement list's filter, page and sort (listing.DISBURSEMENT_PAGE)."""

    shape = DISBURSEMENT_PAGE

    status = _select(_l("Status"), DISBURSEMENT_STATUS_LABELS, "", everything=True)
    category = _select(_l("Kind of spending"), DISBURSEMENT_CATEGORY_LABELS, "", everything=True)
    fund_code = _fund_code(writable=False, everything=True)
    organization_id = _organization_id()
    payee = StringField(_l("Payee"), render_kw={"placeholder": _l("Any part of the name")})
    requested_from = _date(_l("Requested from"))
    requested_to = _date(_l("Requested to"))
    paid_from = _date(_l("Paid from"))
    paid_to = _date(_l("Paid to"))
    amount_min = _amount_bound(_l("Amount from (yuan)"))
    amount_max = _amount_bound(_l("Amount to (yuan)"))
    size = _page_size()
