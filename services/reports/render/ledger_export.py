"""The ledger of a period as files for accountants: a journal, CSV and XLSX.

Pure: opening balances and entries in, bytes out; no database, no HTTP.

The journal is plain-text accounting that both hledger and ledger-cli read
without a warning, even with `hledger check -s` and `ledger --pedantic`
(every account, commodity and tag is declared before its first use). It
starts with one opening transaction per fund, dated the period's first day,
that posts each account's opening balance: the fund's assets against its net
assets `Funds:<code>:...`, so no equity account is needed, and the balance of
`Funds:<code>`, negated, is the fund's closing balance (API.md, exports).

The same data always gives the same bytes, in every format. Each format is
built in one pass over the entries after one sort (linear for entries that
come in order): for 120,000 entries on one core, the journal takes about 3 s,
the CSV about 3 s and the XLSX about 20 s (XlsxWriter's pace, in constant
memory).
"""

from __future__ import annotations

import csv as csv_module
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import xlsxwriter

from services.reports.facts import LedgerEntry, OpeningBalance, Posting
from shared.contracts.funds import is_fund_code
from shared.dates import SHANGHAI
from shared.money import CURRENCY
from shared.periods import Period

# The ledger's account names as its public API prints them (trial balance,
# statements): the reports service may not import the donations service's code,
# so the names are spelled here too, in the ledger's order.
ACCOUNT_NAMES = {
    "bank": "Assets:Bank:{code}",
    "in_kind": "Assets:InKind:{code}",
    "unrestricted": "Funds:{code}:Unrestricted",
    "restricted": "Funds:{code}:Restricted",
}
ACCOUNTS = tuple(ACCOUNT_NAMES)
OPENING_KIND = "opening"
OPENING_DESCRIPTION = "期初余额"

# Characters no one means to keep in a one-line text: controls (a NUL or an
# escape sequence), invisible formatting (zero-width and bidirectional
# overrides, which can make a line read otherwise than it parses) and lone
# surrogates (which cannot be written as UTF-8 at all).
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u206f\ufeff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")  # newlines, tabs, U+2028, ideographic spaces: each run becomes one space
# In a journal `;` starts a comment and hledger splits a description at `|`:
# their full-width forms read the same to a Chinese reader and mean nothing to the tools.
_JOURNAL_TEXT = str.maketrans({";": "；", "|": "｜"})
# A transaction's code sits in parentheses: only what a receipt number or
# disbursement reference is made of may go there.
_NOT_CODE = re.compile(r"[^0-9A-Za-z._/-]")
# Text a spreadsheet would take for a formula (OWASP's list; tab and CR are
# gone with the spaces); a quote in front keeps it text.
_FORMULA_START = ("=", "+", "-", "@")
# A fixed "created" date: XlsxWriter would stamp the time of writing, and the
# same ledger must give the same bytes.
_XLSX_CREATED = dt.datetime(2000, 1, 1)
# Day 0 of Excel's 1900 date system, as counted after its phantom 1900-02-29.
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def one_line(text: str | None) -> str:
    """`text` on one line: invisible characters dropped, every run of white space one space."""
    if not text:
        return ""
    return _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()


def amount_text(fen: int) -> str:
    """Integer fen as "-1280.50": exact, by integer division."""
    if type(fen) is not int:
        raise TypeError(f"an amount is integer fen, not {type(fen).__name__}")
    units, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{units}.{cents:02d}"


def amount_decimal(fen: int) -> Decimal:
    """Integer fen as an exact Decimal of yuan (XlsxWriter writes it digit for digit)."""
    return Decimal(amount_text(fen))


def account_name(fund_code: str, account: str) -> str:
    try:
        return ACCOUNT_NAMES[account].format(code=fund_code)
    except KeyError:
        raise ValueError(f"no such account in the ledger: {account!r}") from None


def posted_text(moment: dt.datetime) -> str:
    """When an entry was posted, in Shanghai time to the second."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(SHANGHAI)
    return moment.isoformat(sep=" ", timespec="seconds")


# The ledger, checked and put in order once for every format.

def _check_code(code: str, known: set[str]) -> None:
    # A fund code is part of account names: one with a space or a `;` would change the journal's syntax.
    if code not in known:
        if not is_fund_code(code):
            raise ValueError(f"not a fund code: {code!r}")
        known.add(code)


def _fund_openings(openings: Iterable[OpeningBalance]) -> dict[str, dict[str, int]]:
    by_fund: dict[str, dict[str, int]] = {}
    known: set[str] = set()
    for opening in openings:
        _check_code(opening.fund_code, known)
        accounts = by_fund.setdefault(opening.fund_code, {})
        if opening.account in accounts:
            raise ValueError(f"two opening balances of {account_name(opening.fund_code, opening.account)}")
        account_name(opening.fund_code, opening.account)  # refuses an unknown account
        amount_text(opening.amount_fen)                   # refuses anything but integer fen
        accounts[opening.account] = opening.amount_fen
    for code, accounts in by_fund.items():
        if sum(accounts.values()) != 0:
            raise ValueError(f"the opening balances of fund {code} do not balance: "
                             f"{amount_text(sum(accounts.values()))}")
    return by_fund


def _entry_order(entry: LedgerEntry) -> tuple[Any, ...]:
    # Business date first (ledgers and `hledger check ordereddates` read by date),
    # then the order of posting; a fund's own chain order breaks ties.
    return (entry.effective_on, entry.posted_at, entry.fund_code, entry.seq)


def _ordered(entries: Iterable[LedgerEntry], period: Period | None) -> list[LedgerEntry]:
    ordered = sorted(entries, key=_entry_order)  # timsort: linear when already in order
    known: set[str] = set()
    for entry in ordered:
        _check_code(entry.fund_code, known)
        if period is not None and not period.contains(entry.effective_on):
            raise ValueError(f"entry {entry.fund_code}#{entry.seq} of {entry.effective_on} "
                             f"lies outside the period {period.label}")
        if not entry.postings:
            raise ValueError(f"entry {entry.fund_code}#{entry.seq} has no postings")
        total = 0
        for posting in entry.postings:
            account_name(entry.fund_code, posting.account)
            amount_text(posting.amount_fen)
            total += posting.amount_fen
        if total != 0:
            raise ValueError(f"entry {entry.fund_code}#{entry.seq} does not balance: {amount_text(total)}")
    return ordered


def _opening_postings(by_fund: dict[str, dict[str, int]], codes: Iterable[str]) -> Iterator[tuple[str, Posting]]:
    """Every account of every fund, in the ledger's order; an account without an opening balance opens at 0."""
    for code in sorted(codes):
        accounts = by_fund.get(code, {})
        for account in ACCOUNTS:
            yield code, Posting(account, accounts.get(account, 0))


# The journal.

def _journal_text(text: str | None) -> str:
    return one_line(text).translate(_JOURNAL_TEXT)


def _tag(name: str, value: object) -> str:
    # One tag a line: hledger ends a tag's value at a comma, ledger-cli at the line's end.
    return f"    ; {name}: {_journal_text(str(value)).replace(',', '，')}\n"


# What a disbursement paid for, as hledger tags on its postings' line: `; project:XM-1, line:路灯, need:12`.
PAID_FOR_TAGS = ("project", "line", "need")


def _paid_for_comment(entry: LedgerEntry) -> str:
    """The posting comment naming the disbursement's project, budget line and need ("" if none).

    hledger reads `name:value` tags ended by a comma (so a comma in a value is
    written full-width); ledger-cli, which wants `name: value` for a tag,
    reads the same text as a plain comment and balances as before.
    """
    values = zip(PAID_FOR_TAGS, (entry.project_code, entry.budget_line, entry.need_id))
    tags = [f"{name}:{_journal_text(str(value)).replace(',', '，')}" for name, value in values
            if value is not None and str(value) != ""]
    return f"  ; {', '.join(tags)}" if tags else ""


def journal(openings: Iterable[OpeningBalance], entries: Iterable[LedgerEntry], *,
            period: Period, scope_label: str) -> bytes:
    """The period's ledger as a journal (UTF-8) that hledger and ledger-cli read.

    Raises ValueError on a ledger that is not one: an entry outside the period
    or that does not balance, openings that do not balance, an unknown account.
    """
    by_fund = _fund_openings(openings)
    ordered = _ordered(entries, period)
    codes = set(by_fund) | {entry.fund_code for entry in ordered}
    accounts = [account_name(code, account) for code in sorted(codes) for account in ACCOUNTS]
    width = max((len(name) for name in accounts), default=0)
    day = period.first.isoformat()

    out: list[str] = [
        f"; 账本导出 ledger export: {_journal_text(scope_label)}, {period.label} "
        f"({period.first.isoformat()} – {period.last.isoformat()}), amounts in {CURRENCY}\n",
        "; Each fund opens on the period's first day; the balance of Funds:<fund code>,\n"
        "; negated, is the fund's closing balance: hledger -f FILE bal Funds:<fund code>\n",
        "; Read it as UTF-8 (hledger: LANG=C.UTF-8).\n\n",
        f"commodity {CURRENCY}\n    format 1000.00 {CURRENCY}\n\n",
        # Types on the line below: ledger-cli would take a comment on the
        # directive's own line for part of the account's name.
        "account Assets\n    ; type: A\n",
        "account Funds\n    ; type: E\n",
        *(f"account {name}\n" for name in accounts),
        "\n",
        *(f"tag {name}\n" for name in ("fund", "kind", "seq", "posted", "category", *PAID_FOR_TAGS)),
        "\n",
    ]

    def posting_line(code: str, posting: Posting, comment: str = "") -> str:
        return (f"    {account_name(code, posting.account):<{width}}  "
                f"{amount_text(posting.amount_fen):>15} {CURRENCY}{comment}\n")

    fund_postings: dict[str, list[str]] = defaultdict(list)
    for code, posting in _opening_postings(by_fund, codes):
        fund_postings[code].append(posting_line(code, posting))
    for code in sorted(codes):
        out.append(f"{day} * {OPENING_DESCRIPTION} {code}\n")
        out.append(_tag("fund", code))
        out.append(_tag("kind", OPENING_KIND))
        out.extend(fund_postings[code])
        out.append("\n")

    for entry in ordered:
        reference = _NOT_CODE.sub("", entry.reference or "")
        code = f" ({reference})" if reference else ""
        out.append(f"{entry.effective_on.isoformat()} *{code} {_journal_text(entry.description)}".rstrip()
                   + "\n")
        out.append(_tag("fund", entry.fund_code))
        out.append(_tag("kind", entry.kind))
        out.append(_tag("seq", entry.seq))
        out.append(_tag("posted", posted_text(entry.posted_at)))
        if entry.category:
            out.append(_tag("category", entry.category))
        comment = _paid_for_comment(entry)
        out.extend(posting_line(entry.fund_code, posting, comment) for posting in entry.postings)
        out.append("\n")
    return "".join(out).encode("utf-8")


# The tables: one row per posting, the openings first.

# (CSV header, XLSX header): CSV for machines, XLSX for people.
COLUMNS = (
    ("date", "日期"),
    ("fund_code", "基金编号"),
    ("seq", "序号"),
    ("kind", "类型"),
    ("reference", "凭证号"),
    ("description", "摘要"),
    ("category", "支出类别"),
    ("account", "科目"),
    ("debit", "借方"),
    ("credit", "贷方"),
    ("posted_at", "入账时间"),
    # What a disbursement paid for (programmes): after every earlier column, so none moves.
    ("project_code", "项目编号"),
    ("budget_line", "预算科目"),
    ("need_id", "需求编号"),
)


class Row(NamedTuple):
    """One posting as a table shows it; an opening balance has no seq, reference or time."""

    day: dt.date | None
    fund_code: str
    seq: int | None
    kind: str
    reference: str
    description: str
    category: str
    account: str             # the ledger's key: bank, in_kind, unrestricted, restricted
    amount_fen: int          # debit positive
    posted: str
    project_code: str = ""
    budget_line: str = ""
    need_id: int | None = None

    @property
    def account_name(self) -> str:
        return account_name(self.fund_code, self.account)


def _rows(openings: Iterable[OpeningBalance], entries: Iterable[LedgerEntry],
          period: Period | None) -> Iterator[Row]:
    by_fund = _fund_openings(openings)
    ordered = _ordered(entries, period)
    codes = set(by_fund) | {entry.fund_code for entry in ordered}
    first = period.first if period is not None else None
    for code, posting in _opening_postings(by_fund, codes):
        yield Row(first, code, None, OPENING_KIND, "", OPENING_DESCRIPTION, "", posting.account,
                  posting.amount_fen, "")
    for entry in ordered:
        reference, description = one_line(entry.reference), one_line(entry.description)
        category, posted = one_line(entry.category), posted_text(entry.posted_at)
        project_code, budget_line = one_line(entry.project_code), one_line(entry.budget_line)
        for posting in entry.postings:
            yield Row(entry.effective_on, entry.fund_code, entry.seq, one_line(entry.kind), reference, description,
                      category, posting.account, posting.amount_fen, posted, project_code, budget_line,
                      entry.need_id)


def _excel_day(day: dt.date) -> int:
    """A date as Excel counts days (1900 system), exact; cheaper per cell than write_datetime."""
    return (day - _EXCEL_EPOCH).days


def _text_cell(text: str) -> str:
    """Text a spreadsheet opening the CSV keeps as text."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv(openings: Iterable[OpeningBalance], entries: Iterable[LedgerEntry], *,
        period: Period | None = None) -> bytes:
    """The period's ledger as CSV: UTF-8 with a byte-order mark (so Excel reads the
    Chinese), one row per posting, debit and credit as "1280.00".

    `period` dates the opening rows (its first day) and refuses entries outside it.
    """
    buffer = io.StringIO()
    writer = csv_module.writer(buffer, lineterminator="\r\n")
    writer.writerow([key for key, _ in COLUMNS])
    for row in _rows(openings, entries, period):
        fen = row.amount_fen
        writer.writerow([
            row.day.isoformat() if row.day else "", _text_cell(row.fund_code),
            "" if row.seq is None else row.seq, _text_cell(row.kind), _text_cell(row.reference),
            _text_cell(row.description), _text_cell(row.category), _text_cell(row.account_name),
            amount_text(fen) if fen >= 0 else "", amount_text(-fen) if fen < 0 else "", row.posted,
            _text_cell(row.project_code), _text_cell(row.budget_line), "" if row.need_id is None else row.need_id,
        ])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx(openings: Iterable[OpeningBalance], entries: Iterable[LedgerEntry], *,
         period: Period | None = None) -> bytes:
    """The period's ledger as a workbook: sheet 账本 (one row per posting, dates as
    dates, amounts as numbers in a money format, every text written as text) and
    sheet 余额 (each account's opening, debits, credits and closing).

    Rows go to disk as they are written (constant memory), and the same data
    always gives the same bytes.
    """
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {
        "constant_memory": True,
        # Belt and braces: every text goes through write_string already.
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    workbook.set_properties({"title": "账本导出" + (f" {period.label}" if period else ""), "created": _XLSX_CREATED})
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    money = workbook.add_format({"num_format": "#,##0.00"})

    sheet = workbook.add_worksheet("账本")
    for column, (_, label) in enumerate(COLUMNS):
        sheet.write_string(0, column, label, bold)
    for column, width in enumerate((11, 14, 8, 12, 14, 40, 12, 32, 14, 14, 20, 14, 16, 10)):
        sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)

    # (fund, account) -> [opening, debits, credits] in fen
    balances: dict[tuple[str, str], list[int]] = {}
    number = 0
    for number, row in enumerate(_rows(openings, entries, period), start=1):
        fen = row.amount_fen
        figures = balances.setdefault((row.fund_code, row.account), [0, 0, 0])
        if row.kind == OPENING_KIND and row.seq is None:
            figures[0] += fen
        elif fen >= 0:
            figures[1] += fen
        else:
            figures[2] -= fen
        if row.day is not None:
            sheet.write_number(number, 0, _excel_day(row.day), date_format)
        if row.seq is not None:
            sheet.write_number(number, 2, row.seq)
        # Text only through write_string, which never makes a formula; an
        # empty text stays an empty cell.
        for column, text in ((1, row.fund_code), (3, row.kind), (4, row.reference), (5, row.description),
                             (6, row.category), (7, row.account_name), (10, row.posted), (11, row.project_code),
                             (12, row.budget_line)):
            if text:
                sheet.write_string(number, column, text)
        if row.need_id is not None:
            sheet.write_number(number, 13, row.need_id)
        sheet.write_number(number, 8 if fen >= 0 else 9, amount_decimal(abs(fen)), money)
    sheet.autofilter(0, 0, number, len(COLUMNS) - 1)

    summary = workbook.add_worksheet("余额")
    for column, label in enumerate(("科目", "期初余额", "本期借方", "本期贷方", "期末余额")):
        summary.write_string(0, column, label, bold)
    summary.set_column(0, 0, 32)
    summary.set_column(1, 4, 16)
    summary.freeze_panes(1, 0)
    # Balances as the ledger keeps them, debit positive: net assets (credit balances) show negative.
    order = {account: index for index, account in enumerate(ACCOUNTS)}
    for index, key in enumerate(sorted(balances, key=lambda key: (key[0], order[key[1]])), start=1):
        opening, debits, credits = balances[key]
        summary.write_string(index, 0, account_name(*key))
        for column, fen in enumerate((opening, debits, credits, opening + debits - credits), start=1):
            summary.write_number(index, column, amount_decimal(fen), money)

    workbook.close()
    return output.getvalue()
