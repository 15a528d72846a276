"""The lists and the statement as documents: XLSX (XlsxWriter) and, for the statement, PDF (WeasyPrint).

As the audit reports are (services/reports/render): amounts are numbers in
yuan with the money format, from integer fen exactly (fen / 100 is the double
nearest the amount); dates are dates; every text from the data is written with
`write_string`, so a donor called "=HYPERLINK(...)" stays text. Headers and
labels are in the reader's language, as the page they come from. Each sheet
says what it holds above its table (the organisation or the filters, the
period, when it was made, in Beijing time), its header row stays in view
(frozen) and it ends with a 合计 row of what it lists.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter
from flask import render_template

from services.donations.forms import CHANNEL_LABELS, DONOR_KIND_LABELS, ENTRY_KIND_LABELS
from services.donations.models import Disbursement, Donation
from shared import i18n
from shared.i18n import translate
from shared.dates import SHANGHAI, beijing_time
from shared.money import Money

MONEY_FORMAT = "¥#,##0.00"
MAX_CELL_TEXT = 32_767   # Excel's limit on a cell's text
_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")


class _Sheet:
    """One worksheet: lines saying what it holds, a header row kept in view, rows, a total row."""

    def __init__(self, book: xlsxwriter.Workbook, name: str, headers: Sequence[str], widths: Sequence[int],
                 about: Iterable[tuple[str, str]]) -> None:
        self.book = book
        self.sheet = book.add_worksheet(name[:31])
        base = {"font_name": "等线", "font_size": 10, "valign": "top"}
        self.formats = {}
        for total in (False, True):
            extra = {"bold": True, "top": 1} if total else {}
            self.formats[total] = {
                "text": book.add_format({**base, **extra}),
                "money": book.add_format({**base, **extra, "num_format": MONEY_FORMAT}),
                "int": book.add_format({**base, **extra, "num_format": "0"}),
                "date": book.add_format({**base, **extra, "num_format": "yyyy-mm-dd"}),
            }
        header = book.add_format({**base, "bold": True, "bg_color": "#D9E1F2", "bottom": 1, "text_wrap": True})
        title = book.add_format({**base, "bold": True, "font_size": 13})
        for column, width in enumerate(widths):
            self.sheet.set_column(column, column, width)
        self.row = 0
        for index, (label, value) in enumerate(about):
            if index == 0:
                self.sheet.write_string(0, 0, label, title)
            else:
                self.sheet.write_string(self.row, 0, label, self.formats[False]["text"])
                self.sheet.write_string(self.row, 1, value, self.formats[False]["text"])
            self.row += 1
        self.row += 1
        self.header_row = self.row
        for column, text in enumerate(headers):
            self.sheet.write_string(self.row, column, text, header)
        self.row += 1
        self.sheet.freeze_panes(self.row, 0)

    def write(self, values: Sequence[Any], total: bool = False) -> None:
        formats = self.formats[total]
        for column, value in enumerate(values):
            if value is None:
                self.sheet.write_blank(self.row, column, None, formats["text"])
            elif isinstance(value, Money):
                self.sheet.write_number(self.row, column, value.fen / 100, formats["money"])
            elif isinstance(value, dt.date):
                self.sheet.write_datetime(self.row, column, value, formats["date"])
            elif isinstance(value, int):
                self.sheet.write_number(self.row, column, value, formats["int"])
            else:
                text = str(value)
                if len(text) > MAX_CELL_TEXT:
                    text = text[:MAX_CELL_TEXT - 1] + "…"
                self.sheet.write_string(self.row, column, text, formats["text"])
        self.row += 1


def workbook(out: io.BytesIO, title: str) -> xlsxwriter.Workbook:
    """A workbook that takes every string as text: never a formula, a link or a number."""
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    book.set_properties({"title": title, "author": translate("Named charity fund management")})
    return book


def _made_at() -> tuple[str, str]:
    return translate("Exported at (Beijing time)"), beijing_time(dt.datetime.now(dt.UTC))


def _filters_line(filters: Sequence[tuple[str, str]]) -> tuple[str, str]:
    return translate("Filters"), "；".join(f"{label}：{value}" for label, value in filters) or translate("All")


def _count_label(count: int) -> str:
    return translate("Total (%(count)s rows)") % {"count": f"{count:,}"}


def donations_xlsx(rows: Sequence[Donation], filters: Sequence[tuple[str, str]],
                   organizations: dict[int, str]) -> bytes:
    """The donations the list shows for these filters, every one of them, in its order."""
    out = io.BytesIO()
    book = workbook(out, translate("Donations"))
    headers = [translate("Receipt number"), translate("Received on"), translate("Organisation"), translate("Fund code"), translate("Donor"),
               translate("Kind of donor"), translate("Channel"), translate("Amount"), translate("Status")]
    sheet = _Sheet(book, translate("Donations"), headers, [14, 12, 24, 14, 28, 12, 12, 16, 10],
                   [(translate("Donations"), ""), _filters_line(filters), _made_at()])
    anonymous = translate("Anonymous donor")
    for d in rows:
        sheet.write([d.receipt_no, d.received_on, organizations.get(d.organization_id, ""), d.fund_code,
                     anonymous if d.donor_anonymous else d.donor_name, str(DONOR_KIND_LABELS[d.donor_kind]),
                     str(CHANNEL_LABELS[d.channel]), Money(d.amount_fen), i18n.label(d.status)])
    sheet.write([_count_label(len(rows)), None, None, None, None, None, None,
                 Money(sum(d.amount_fen for d in rows)), None], total=True)
    book.close()
    return out.getvalue()


def disbursements_xlsx(rows: Sequence[Disbursement], filters: Sequence[tuple[str, str]],
                       organizations: dict[int, str]) -> bytes:
    """The disbursements the list shows for these filters, every one of them, in its order."""
    out = io.BytesIO()
    book = workbook(out, translate("Disbursements"))
    headers = [translate("No."), translate("Requested on"), translate("Organisation"), translate("Fund code"), translate("Payee"), translate("Purpose"),
               translate("Kind of spending"), translate("Amount"), translate("Status"), translate("Paid on"), translate("Bank reference")]
    sheet = _Sheet(book, translate("Disbursements"), headers, [8, 12, 24, 14, 28, 30, 14, 16, 10, 12, 20],
                   [(translate("Disbursements"), ""), _filters_line(filters), _made_at()])
    for d in rows:
        sheet.write([d.id, d.created_at.astimezone(SHANGHAI).date(), organizations.get(d.organization_id, ""),
                     d.fund_code, d.payee, d.purpose, i18n.label(d.category), Money(d.amount_fen),
                     i18n.label(d.status), d.paid_on, d.bank_reference])
    sheet.write([_count_label(len(rows)), None, None, None, None, None, None,
                 Money(sum(d.amount_fen for d in rows)), None, None, None], total=True)
    book.close()
    return out.getvalue()


def period_text(document: dict[str, Any]) -> str:
    """The statement's period as its header says it."""
    start = document["from"].isoformat() if document["from"] else translate("the first entry")
    end = document["to"].isoformat() if document["to"] else translate("today")
    return f"{start} — {end}"


def _voucher(line: Any) -> str:
    if line.receipt_no:
        return line.receipt_no
    return translate("Disbursement #%(id)s") % {"id": line.source_id}


def _party(line: Any) -> str:
    return translate("Anonymous donor") if line.anonymous else (line.party or "")


def _asset(line: Any) -> str:
    return translate("Goods") if line.goods else translate("Cash")


def statement_xlsx(document: dict[str, Any], *, fund: Any, organization_name: str, printed_at: dt.datetime) -> bytes:
    """The whole period's statement: opening, every entry with its running balance, totals, closing."""
    out = io.BytesIO()
    book = workbook(out, f"{translate('Statement')} {fund.code}")
    headers = [translate("Date"), translate("Kind"), translate("Receipt or voucher"), translate("Donor or payee"), translate("Cash or goods"),
               translate("Income"), translate("Spending"), translate("Balance")]
    about = [(translate("Fund statement: %(name)s (%(code)s)") % {"name": fund.name, "code": fund.code}, ""),
             (translate("Organisation"), organization_name), (translate("Period"), period_text(document)),
             (translate("Printed at (Beijing time)"), beijing_time(printed_at))]
    sheet = _Sheet(book, translate("Statement"), headers, [12, 10, 16, 28, 10, 16, 16, 16], about)
    sheet.write([document["from"], None, translate("Opening balance"), None, None, None, None,
                 Money(document["opening_fen"])])
    for line in document["rows"]:
        amount = Money(line.amount_fen)
        sheet.write([line.date, str(ENTRY_KIND_LABELS.get(line.kind, line.kind)), _voucher(line), _party(line),
                     _asset(line), amount if line.direction == "in" else None,
                     amount if line.direction == "out" else None, Money(line.balance_after_fen)])
    totals = document["totals"]
    sheet.write([translate("Total for the period"), None, None, None, None, Money(totals.in_fen), Money(totals.out_fen),
                 None], total=True)
    for label, income, spending in ((translate("of which cash"), totals.cash_in_fen, totals.cash_out_fen),
                                    (translate("of which goods"), totals.goods_in_fen, totals.goods_out_fen)):
        sheet.write([label, None, None, None, None, Money(income), Money(spending), None])
    sheet.write([document["to"], None, translate("Closing balance"), None, None, None, None,
                 Money(document["closing_fen"])], total=True)
    book.close()
    return out.getvalue()


def statement_html(document: dict[str, Any], *, fund: Any, organization_name: str, printed_at: dt.datetime) -> str:
    """The HTML WeasyPrint lays out (templates/donations/statement_pdf.html)."""
    html = render_template("donations/statement_pdf.html", statement=document, fund=fund,
                           organization_name=organization_name, period=period_text(document),
                           printed_at=beijing_time(printed_at), voucher=_voucher, party=_party, asset=_asset)
    # The indentation between tags is no content, but WeasyPrint would parse every run of it.
    return _BETWEEN_TAGS.sub("><", html)


def statement_pdf(document: dict[str, Any], **context: Any) -> bytes:
    import weasyprint  # half a second to import: only when a PDF is wanted

    return weasyprint.HTML(string=statement_html(document, **context)).write_pdf()
