"""The ledger exports for accountants: a journal that hledger and ledger-cli read, CSV and XLSX.

First over a synthetic ledger (several funds; donations to restricted and
unrestricted funds, in cash and in kind; reversals; disbursements; Chinese and
hostile descriptions), judged by the two accounting tools against closing
balances worked out from the events, not from the postings. Then end to end:
a ledger built through the public API, exported through Sources, and the
tools' balances against the ledger's own (its balances and trial balance).
"""

from __future__ import annotations

import csv as csv_module
import datetime as dt
import io
import re
import shutil
import subprocess
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import ApiClient, Factory
from helpers import assert_ok
from services.reports.facts import LedgerEntry, OpeningBalance, Posting, Scope
from services.reports.render import ledger_export
from shared.dates import SHANGHAI, today
from shared.periods import Period
from tests.reports_support import Org, donate, make_org, pay

API = "/donations/api/v1"
QUARTER = Period.parse("2026-Q3")
# hledger reads its file in the locale's encoding: the journal is UTF-8.
TOOL_ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"}
HOSTILE = ['=HYPERLINK("http://example.com","点我")', "; 这不是注释", "第一行\n第二行\r\n  第三行",
           "+86 138", "-负数", "@SUM(A1)", "甲|乙", "\t制表符开头", "零宽\u200b字符\u202e反向", "   "]


# -- the accounting tools ----------------------------------------------------------------------

def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; make install installs it as root)")
    return path


def run_tool(*args: str) -> str:
    """Run hledger or ledger-cli; it must succeed without a word on stderr (no warning)."""
    done = subprocess.run(args, capture_output=True, text=True, env=TOOL_ENV, timeout=300)
    assert done.returncode == 0 and done.stderr == "", (args, done.returncode, done.stderr)
    return done.stdout


_SHOWN = re.compile(r"(-?)(0|[1-9][0-9]*)\.([0-9]{2}) CNY")


def shown_fen(text: str) -> int:
    """A balance as the tools print it ("-1280.50 CNY", or "0") in fen, read exactly."""
    text = text.strip()
    if text == "0":
        return 0
    match = _SHOWN.fullmatch(text)
    assert match, f"not a CNY amount with two decimals: {text!r}"
    value = int(match.group(2)) * 100 + int(match.group(3))
    return -value if match.group(1) else value


def hledger_balances(path: Path) -> dict[str, int]:
    """Every account's balance (parents included, as subtotals), after hledger's strict checks."""
    hledger = _tool("hledger", "hledger")
    run_tool(hledger, "-f", str(path), "check", "--strict", "ordereddates")
    rows = list(csv_module.reader(io.StringIO(run_tool(
        hledger, "-f", str(path), "--strict", "balance", "--tree", "--empty", "--no-total", "-O", "csv"))))
    assert rows[0] == ["account", "balance"], rows[0]
    return {account: shown_fen(amount) for account, amount in rows[1:]}


def ledger_balances(path: Path) -> dict[str, int]:
    """Every account's balance (parents included) as ledger-cli --pedantic sums them."""
    ledger = _tool("ledger", "ledger")
    out = run_tool(ledger, "-f", str(path), "--pedantic", "--strict", "balance", "--empty", "--no-total",
                   "--format", "%(account)|%(scrub(display_total))\n")
    balances = {}
    for line in out.splitlines():
        account, _, amount = line.partition("|")
        balances[account] = shown_fen(amount)
    return balances


# -- a synthetic ledger --------------------------------------------------------------------------

@dataclass
class Expected:
    """What each fund should close with, from the events themselves (not from their postings)."""

    opening: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    donations: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reversals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    disbursements: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    bank: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    in_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def closing(self, code: str) -> int:
        return self.opening[code] + self.donations[code] - self.reversals[code] - self.disbursements[code]


@dataclass
class Synthetic:
    openings: list[OpeningBalance]
    entries: list[LedgerEntry]
    expected: Expected
    restricted: dict[str, bool]
    descriptions: dict[str, str]      # reference -> description as given


class Builder:
    """Entries posted as the ledger posts them (README, "The ledger")."""

    def __init__(self, funds: dict[str, bool]) -> None:
        self.restricted = funds
        self.seq: dict[str, int] = defaultdict(int)
        self.entries: list[LedgerEntry] = []
        self.openings: list[OpeningBalance] = []
        self.expected = Expected()
        self.descriptions: dict[str, str] = {}
        self.receipts = 0
        self.clock = dt.datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI)

    def open(self, code: str, bank: int, in_kind: int) -> None:
        net = "restricted" if self.restricted[code] else "unrestricted"
        self.openings += [OpeningBalance(code, "bank", bank), OpeningBalance(code, "in_kind", in_kind),
                          OpeningBalance(code, net, -(bank + in_kind))]
        self.expected.opening[code] += bank + in_kind
        self.expected.bank[code] += bank
        self.expected.in_kind[code] += in_kind

    def _post(self, code: str, kind: str, day: dt.date, reference: str, description: str,
              postings: list[tuple[str, int]], category: str | None = None) -> LedgerEntry:
        self.seq[code] += 1
        self.clock += dt.timedelta(minutes=7)
        entry = LedgerEntry(code, self.seq[code], kind, day, self.clock, reference, description, category,
                            tuple(Posting(account, fen) for account, fen in postings))
        self.entries.append(entry)
        self.descriptions[reference] = description
        return entry

    def donate(self, code: str, fen: int, day: dt.date, description: str, *, goods: bool = False) -> LedgerEntry:
        self.receipts += 1
        asset = "in_kind" if goods else "bank"
        net = "restricted" if self.restricted[code] else "unrestricted"
        self.expected.donations[code] += fen
        (self.expected.in_kind if goods else self.expected.bank)[code] += fen
        return self._post(code, "donation", day, f"2026-{self.receipts:06d}", description,
                          [(asset, fen), (net, -fen)])

    def reverse(self, gift: LedgerEntry, day: dt.date) -> None:
        code, fen = gift.fund_code, gift.postings[0].amount_fen
        self.expected.reversals[code] += fen
        (self.expected.in_kind if gift.postings[0].account == "in_kind" else self.expected.bank)[code] -= fen
        self._post(code, "reversal", day, gift.reference, "冲销：" + gift.description,
                   [(p.account, -p.amount_fen) for p in gift.postings])

    def pay(self, code: str, fen: int, day: dt.date, number: int, description: str,
            category: str = "programme") -> None:
        self.expected.disbursements[code] += fen
        self.expected.bank[code] -= fen
        postings = ([("restricted", fen), ("unrestricted", -fen), ("unrestricted", fen), ("bank", -fen)]
                    if self.restricted[code] else [("unrestricted", fen), ("bank", -fen)])
        self._post(code, "disbursement", day, f"D{number}", description, postings, category)


def synthetic_ledger() -> Synthetic:
    funds = {"TL-GEN-001": False, "TL-EDU-001": True, "XZ-OLD-009": False, "TL-NEW-002": True}
    b = Builder(funds)
    b.open("TL-GEN-001", 1_000_000_00, 12_345)
    b.open("TL-EDU-001", 250_000_01, 0)
    b.open("XZ-OLD-009", 5_00, 0)                    # a fund nothing happens to in the quarter
    july, august, september = dt.date(2026, 7, 1), dt.date(2026, 8, 15), dt.date(2026, 9, 30)
    gifts = [
        b.donate("TL-GEN-001", 1280_00, july, "王秀英：助学助困"),
        b.donate("TL-GEN-001", 30_000_00, july, "铜陵有色金属集团：图书", goods=True),
        b.donate("TL-EDU-001", 999_999_999_99, august, "匿名：贫困学生学费"),   # the largest amount there is
        b.donate("TL-NEW-002", 1, september, "张三：一分钱"),                   # a fund new in the quarter
    ]
    for number, text in enumerate(HOSTILE):
        gifts.append(b.donate("TL-GEN-001" if number % 2 else "TL-EDU-001", 100_00 + number, august, text,
                              goods=number == 3))
    b.reverse(gifts[1], august)       # goods
    b.reverse(gifts[4], september)    # a hostile one, in cash
    b.pay("TL-GEN-001", 500_00, august, 17, "铜陵市第一中学：资助贫困学生学费")
    b.pay("TL-EDU-001", 123_456_78, september, 18, '=HYPERLINK("x")；支出', category="management")
    b.pay("TL-EDU-001", 1, september, 19, "; 结尾\n", category="fundraising")
    # Given out of order, as the ledger's pages give them (by fund, then date).
    entries = sorted(b.entries, key=lambda e: (e.fund_code, e.effective_on, e.seq))
    return Synthetic(b.openings, entries, b.expected, funds, b.descriptions)


@pytest.fixture(scope="module")
def synthetic() -> Synthetic:
    return synthetic_ledger()


@pytest.fixture(scope="module")
def journal_file(synthetic: Synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("journal") / "ledger-2026-Q3-all.journal"
    path.write_bytes(ledger_export.journal(synthetic.openings, synthetic.entries, period=QUARTER,
                                           scope_label="全部基金\n; 注入"))
    return path


def assert_fund_balances(balances: dict[str, int], synthetic: Synthetic) -> None:
    expected = synthetic.expected
    for code in synthetic.restricted:
        # The contract: the balance of Funds:<code>, negated, is the fund's closing balance.
        assert -balances[f"Funds:{code}"] == expected.closing(code), code
        assert balances[f"Assets:Bank:{code}"] == expected.bank[code], code
        assert balances[f"Assets:InKind:{code}"] == expected.in_kind[code], code
        # Restricted money stays restricted except what was paid out of it.
        other = "Unrestricted" if synthetic.restricted[code] else "Restricted"
        assert balances[f"Funds:{code}:{other}"] == 0, code
    assert balances["Assets"] == -balances["Funds"] == sum(expected.closing(c) for c in synthetic.restricted)


# -- the journal, read by the tools --------------------------------------------------------------

def test_the_expected_figures_are_what_they_seem(synthetic: Synthetic) -> None:
    """The yardstick itself, worked by hand for two funds."""
    assert synthetic.expected.closing("XZ-OLD-009") == 5_00
    assert synthetic.expected.closing("TL-NEW-002") == 1
    assert synthetic.expected.closing("TL-EDU-001") == (
        250_000_01 + 999_999_999_99 + sum(100_00 + n for n in range(0, len(HOSTILE), 2))
        - 100_00                   # the first hostile gift, reversed
        - 123_456_78 - 1)          # two payments


def test_hledger_reads_the_journal_and_closes_each_fund_as_the_ledger(journal_file: Path,
                                                                      synthetic: Synthetic) -> None:
    assert_fund_balances(hledger_balances(journal_file), synthetic)


def test_ledger_cli_reads_the_journal_and_closes_each_fund_as_the_ledger(journal_file: Path,
                                                                         synthetic: Synthetic) -> None:
    assert_fund_balances(ledger_balances(journal_file), synthetic)


def test_the_tools_agree_on_every_account(journal_file: Path) -> None:
    assert hledger_balances(journal_file) == ledger_balances(journal_file)


def test_the_journal_opens_each_fund_on_the_first_day(journal_file: Path, synthetic: Synthetic) -> None:
    hledger = _tool("hledger", "hledger")

    def balances(*query: str) -> dict[str, int]:
        rows = csv_module.DictReader(io.StringIO(run_tool(
            hledger, "-f", str(journal_file), "balance", "--tree", "--empty", "--no-total", "-O", "csv", *query)))
        return {row["account"]: shown_fen(row["balance"]) for row in rows}

    assert balances("-e", QUARTER.first.isoformat()) == {}          # nothing before the first day
    opened = balances("tag:kind=opening")
    assert opened == balances(f"date:{QUARTER.first.isoformat()}", "tag:kind=opening")
    for code in synthetic.restricted:
        assert -opened[f"Funds:{code}"] == synthetic.expected.opening[code], code
        assert opened[f"Assets:Bank:{code}"] + opened[f"Assets:InKind:{code}"] == synthetic.expected.opening[code]
    text = journal_file.read_text(encoding="utf-8")
    transactions = re.findall(r"^\d{4}-\d{2}-\d{2} .*$", text, re.M)
    assert [line for line in transactions[:len(synthetic.restricted)]] == [
        f"2026-07-01 * 期初余额 {code}" for code in sorted(synthetic.restricted)]


def test_hostile_descriptions_stay_one_description_each(journal_file: Path, synthetic: Synthetic) -> None:
    """Each entry is one transaction whose code is its reference and whose description is what was
    given, on one line, with nothing a tool would read as syntax."""
    hledger = _tool("hledger", "hledger")
    rows = list(csv_module.DictReader(io.StringIO(run_tool(
        hledger, "-f", str(journal_file), "register", "-O", "csv", "not:tag:kind=opening"))))
    assert len({row["txnidx"] for row in rows}) == len(synthetic.entries)
    seen: dict[str, set[str]] = defaultdict(set)     # a reversal shares its donation's receipt number
    for row in rows:
        seen[row["code"]].add(row["description"])
    assert set(seen) == {entry.reference for entry in synthetic.entries}
    for descriptions in seen.values():
        for description in descriptions:
            assert not set(description) & set("\n\r\t;|\u200b\u202e"), description
            assert description == description.strip() and "  " not in description, description
    assert seen["2026-000005"] == {'=HYPERLINK("http://example.com","点我")',
                                   '冲销：=HYPERLINK("http://example.com","点我")'}
    assert seen["2026-000006"] == {"； 这不是注释"}
    assert seen["2026-000007"] == {"第一行 第二行 第三行"}
    assert seen["2026-000011"] == {"甲｜乙"}
    assert seen["2026-000013"] == {"零宽字符反向"}
    assert seen["2026-000014"] == {""}
    assert seen["D19"] == {"； 结尾"}

    ledger = _tool("ledger", "ledger")
    out = run_tool(ledger, "-f", str(journal_file), "--pedantic", "register", "--format",
                   "%(code)|%(payee)|%(tag('kind'))\n", "Assets")
    payees: dict[str, set[str]] = defaultdict(set)
    for line in out.splitlines():
        code, payee, kind = line.split("|")
        if kind != "opening":
            payees[code].add(payee)
    for code in ("2026-000005", "2026-000006", "2026-000007", "2026-000011", "D19"):
        assert payees[code] == seen[code], code


def test_the_journal_is_tidy_text(journal_file: Path) -> None:
    data = journal_file.read_bytes()
    text = data.decode("utf-8")
    assert "\r" not in text and "\t" not in text
    # Every line is a comment, a directive, a transaction's first line or an indented posting or tag.
    for line in text.splitlines():
        assert (not line or line.startswith((";", "commodity ", "account ", "tag ", "    "))
                or re.match(r"\d{4}-\d{2}-\d{2} \* ", line)), line
    # The scope's label, hostile too, stays in the first comment line.
    assert text.startswith("; 账本导出 ledger export: 全部基金 ； 注入, 2026-Q3 (2026-07-01 – 2026-09-30), amounts in CNY\n; ")
    assert re.search(r"^    Assets:Bank:TL-EDU-001 +-123456\.78 CNY$", text, re.M)
    assert re.search(r"^    Funds:TL-EDU-001:Restricted +-999999999\.99 CNY$", text, re.M)
    assert re.search(r"^2026-09-30 \* \(D18\) =HYPERLINK\(\"x\"\)；支出$", text, re.M)
    assert "    ; category: management\n" in text


def test_the_same_ledger_gives_the_same_journal_whatever_the_order(synthetic: Synthetic) -> None:
    once = ledger_export.journal(synthetic.openings, synthetic.entries, period=QUARTER, scope_label="全部基金")
    again = ledger_export.journal(list(reversed(synthetic.openings)), iter(reversed(synthetic.entries)),
                                  period=QUARTER, scope_label="全部基金")
    assert once == again


def test_a_ledger_that_is_not_one_is_refused(synthetic: Synthetic) -> None:
    entry = synthetic.entries[0]
    unbalanced = LedgerEntry(entry.fund_code, 99, "donation", entry.effective_on, entry.posted_at, "2026-999999",
                             "x", None, (Posting("bank", 100), Posting("unrestricted", -99)))
    outside = LedgerEntry(entry.fund_code, 99, "donation", QUARTER.last + dt.timedelta(days=1), entry.posted_at,
                          "2026-999999", "x", None, (Posting("bank", 100), Posting("unrestricted", -100)))
    unknown = LedgerEntry(entry.fund_code, 99, "donation", entry.effective_on, entry.posted_at, "2026-999999",
                          "x", None, (Posting("cash", 100), Posting("unrestricted", -100)))
    spaced = LedgerEntry("TL 001;x", 1, "donation", entry.effective_on, entry.posted_at, "2026-999999",
                         "x", None, (Posting("bank", 100), Posting("unrestricted", -100)))
    for bad in (unbalanced, outside, unknown, spaced):
        with pytest.raises(ValueError):
            ledger_export.journal(synthetic.openings, [*synthetic.entries, bad], period=QUARTER, scope_label="")
    with pytest.raises(ValueError):
        ledger_export.journal([OpeningBalance("TL-GEN-001", "bank", 1)], [], period=QUARTER, scope_label="")
    with pytest.raises(TypeError):
        ledger_export.amount_text(1.5)  # type: ignore[arg-type]


def test_amounts_are_written_exactly() -> None:
    assert [ledger_export.amount_text(fen) for fen in (0, 1, -1, 10, 1280_00, -1280_50, 999_999_999_99)] == [
        "0.00", "0.01", "-0.01", "0.10", "1280.00", "-1280.50", "999999999.99"]


# -- CSV and XLSX --------------------------------------------------------------------------------

def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())  # so that Excel reads the Chinese
    return list(csv_module.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_rows_are_the_postings_and_stay_text(synthetic: Synthetic) -> None:
    data = ledger_export.csv(synthetic.openings, synthetic.entries, period=QUARTER)
    assert data == ledger_export.csv(synthetic.openings, list(reversed(synthetic.entries)), period=QUARTER)
    rows = read_csv(data)
    postings = sum(len(e.postings) for e in synthetic.entries)
    assert len(rows) == postings + 4 * len(synthetic.restricted)
    assert [key for key, _ in ledger_export.COLUMNS] == list(rows[0])
    for row in rows:
        for key in ("fund_code", "kind", "reference", "description", "category", "account"):
            assert not row[key].startswith(("=", "+", "-", "@", "\t", "\r", " ")), row
        assert not (row["debit"] and row["credit"]), row
    described = {row["description"] for row in rows}
    assert "'=HYPERLINK(\"http://example.com\",\"点我\")" in described
    assert "'-负数" in described and "'@SUM(A1)" in described and "'+86 138" in described
    assert "第一行 第二行 第三行" in described

    closing: dict[str, int] = defaultdict(int)
    for row in rows:
        fen = int(row["debit"].replace(".", "")) if row["debit"] else -int(row["credit"].replace(".", ""))
        if row["account"].startswith("Funds:"):
            closing[row["fund_code"]] -= fen
        assert re.fullmatch(r"(0|[1-9][0-9]*)\.[0-9]{2}", row["debit"] or row["credit"]), row
    for code in synthetic.restricted:
        assert closing[code] == synthetic.expected.closing(code), code
    openings = [row for row in rows if row["kind"] == "opening"]
    assert {row["date"] for row in openings} == {"2026-07-01"} and all(not row["seq"] for row in openings)


def test_xlsx_is_the_same_bytes_and_has_no_formula(synthetic: Synthetic) -> None:
    from openpyxl import load_workbook

    data = ledger_export.xlsx(synthetic.openings, synthetic.entries, period=QUARTER)
    time.sleep(1.1)  # a clock in the file would show now
    assert data == ledger_export.xlsx(synthetic.openings, list(reversed(synthetic.entries)), period=QUARTER)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name), name

    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["账本", "余额"]
    sheet = book["账本"]
    header = [cell.value for cell in sheet[1]]
    assert header == [label for _, label in ledger_export.COLUMNS]
    closing: dict[str, int] = defaultdict(int)
    descriptions = set()
    rows = 0
    for row in sheet.iter_rows(min_row=2):
        rows += 1
        day, code, seq, kind, reference, description, category, account, debit, credit, posted = row[:11]
        assert all(cell.data_type != "f" for cell in row)
        assert day.is_date and day.number_format == "yyyy-mm-dd"
        assert QUARTER.contains(day.value.date())
        for cell in (debit, credit):
            if cell.value is not None:
                assert cell.data_type == "n" and cell.number_format == "#,##0.00"
        amount = debit.value if debit.value is not None else -credit.value
        fen = round(amount * 100)  # the cell's double, read back to the fen
        if account.value.startswith("Funds:"):
            closing[code.value] -= fen
        descriptions.add(description.value)
    assert rows == sum(len(e.postings) for e in synthetic.entries) + 4 * len(synthetic.restricted)
    assert '=HYPERLINK("http://example.com","点我")' in descriptions and "-负数" in descriptions
    for code in synthetic.restricted:
        assert closing[code] == synthetic.expected.closing(code), code

    balances = {row[0].value: [cell.value for cell in row[1:]] for row in book["余额"].iter_rows(min_row=2)}
    for code in synthetic.restricted:
        net = "Restricted" if synthetic.restricted[code] else "Unrestricted"
        opening, debits, credits, closing_value = balances[f"Funds:{code}:{net}"]
        assert round(-closing_value * 100) == synthetic.expected.closing(code), code
        assert round(-opening * 100) == synthetic.expected.opening[code], code
        assert round(balances[f"Assets:Bank:{code}"][3] * 100) == synthetic.expected.bank[code]


def test_a_quarter_of_120000_entries_is_built_in_linear_time() -> None:
    """Quadratic work would take hours at this size; linear takes seconds."""
    codes = [f"TL-{n:03d}" for n in range(40)]
    openings = [OpeningBalance(code, account, fen) for code in codes
                for account, fen in (("bank", 10_000_00), ("unrestricted", -10_000_00))]
    start = dt.datetime(2026, 7, 1, 9, 0, tzinfo=SHANGHAI)
    entries = [LedgerEntry(codes[n % 40], n // 40 + 1, "donation", QUARTER.first + dt.timedelta(days=n * 92 // 120_000),
                           start + dt.timedelta(seconds=n * 60), f"2026-{n + 1:06d}", "铜陵某某有限公司：助学助困", None,
                           (Posting("bank", 100 + n), Posting("unrestricted", -100 - n)))
               for n in range(120_000)]
    began = time.perf_counter()
    journal = ledger_export.journal(openings, iter(entries), period=QUARTER, scope_label="全部基金")
    table = ledger_export.csv(openings, iter(entries), period=QUARTER)
    elapsed = time.perf_counter() - began
    assert journal.count(b"\n2026-") == 120_000 + 40
    assert table.count(b"\r\n") == 1 + 2 * 120_000 + 4 * 40
    assert elapsed < 60, elapsed


# -- end to end: the ledger through the public API, exported through Sources --------------------

def trial_balance(api: ApiClient) -> dict[str, int]:
    """The ledger's own account balances now, debit positive."""
    body = assert_ok(api.get(f"{API}/trial-balance"))
    return {row["account"]: shown_fen(row["debit"] + " CNY") - shown_fen(row["credit"] + " CNY")
            for row in body["accounts"]}


@dataclass
class Books:
    home: Org
    general: str      # unrestricted, home
    school: str       # restricted, home
    other: str        # another organisation's
    quiet: str        # home's, never given anything
    this_year: Period


@pytest.fixture
def books(api: ApiClient, make: Factory) -> Books:
    """Last year's donations open this year; this year's donations, a reversal and payments
    (dated today: a reversal or a payment cannot be back-dated) close it."""
    home, away = make_org(api, make, "铜陵市慈善总会"), make_org(api, make, "义安区商会")
    general = make.fund(home.id, "TL-GEN-001", name="慈善总会非限定基金")["code"]
    school = make.fund(home.id, "TL-EDU-001", name="助学限定基金", restricted=True)["code"]
    quiet = make.fund(home.id, "TL-NIL-001", name="尚无捐赠的基金")["code"]
    other = make.fund(away.id, "YA-GEN-001", name="义安区商会基金")["code"]
    this_year = Period.containing(today(), "year")
    last_year = this_year.first - dt.timedelta(days=1)
    donate(home, general, "500.00", last_year)
    donate(home, general, "300.00", last_year, donor="铜陵有色金属集团", channel="in_kind", purpose="图书")
    donate(home, school, "2000.00", last_year, donor="张三丰", anonymous=True)
    donate(home, general, "1280.50", today(), donor='=HYPERLINK("http://x")', purpose="; 不是注释\n第二行 | 第三栏")
    twice = donate(home, general, "99.99", today(), donor="@重复", purpose="-重复入账")
    donate(home, school, "0.01", today(), donor="李四", purpose="一分钱")
    donate(away, other, "70.00", today(), donor="赵六")
    assert_ok(home.clerk.post(f"{API}/donations/{twice['id']}/reverse", json={"reason": "重复入账\n;再说"}))
    pay(home, school, "500.00", payee="铜陵市第一中学")
    pay(home, general, "200.00", payee="+铜陵市第二中学")
    return Books(home, general, school, other, quiet, this_year)


def export_with(gateway: Any, scope: Scope, period: Period, fmt: str) -> tuple[bytes, str, str]:
    from services.reports.exports import export
    from services.reports.sources import Sources

    app = gateway.apps["reports"]
    with app.app_context():
        return export(Sources(app.extensions["peers"]), scope, period, fmt)


def test_an_organisations_journal_closes_each_fund_with_the_ledgers_balance(
        gateway: Any, api: ApiClient, books: Books, tmp_path: Path) -> None:
    body, content_type, name = export_with(gateway, Scope(organization_id=books.home.id), books.this_year, "journal")
    assert content_type == "text/plain; charset=utf-8"
    assert name == f"ledger-{books.this_year.label}-org-{books.home.id}.journal"
    path = tmp_path / name
    path.write_bytes(body)
    ledger_now = trial_balance(api)
    for balances in (hledger_balances(path), ledger_balances(path)):
        for code in (books.general, books.school, books.quiet):
            balance = assert_ok(api.get(f"{API}/funds/{code}/balance"))["balance"]
            assert -balances.get(f"Funds:{code}", 0) == shown_fen(balance + " CNY"), code
            for account in (f"Assets:Bank:{code}", f"Assets:InKind:{code}",
                            f"Funds:{code}:Unrestricted", f"Funds:{code}:Restricted"):
                assert balances.get(account, 0) == ledger_now.get(account, 0), account
        assert not any(books.other in account for account in balances)
    assert -hledger_balances(path)[f"Funds:{books.general}"] == 500_00 + 300_00 + 1280_50 - 200_00
    assert -hledger_balances(path)[f"Funds:{books.school}"] == 2000_00 + 1 - 500_00
    text = body.decode("utf-8")
    assert '=HYPERLINK("http://x")' in text and "; 不是注释" not in text


def test_last_years_journal_closes_where_this_years_opens(gateway: Any, books: Books, tmp_path: Path) -> None:
    last_year = books.this_year.previous
    closed = tmp_path / "last.journal"
    closed.write_bytes(export_with(gateway, Scope(), last_year, "journal")[0])
    opened = tmp_path / "this.journal"
    opened.write_bytes(export_with(gateway, Scope(), books.this_year, "journal")[0])
    hledger = _tool("hledger", "hledger")
    first_day = list(csv_module.DictReader(io.StringIO(run_tool(
        hledger, "-f", str(opened), "balance", "--tree", "--empty", "--no-total", "-O", "csv",
        f"date:{books.this_year.first.isoformat()}", "tag:kind=opening"))))
    opening = {row["account"]: shown_fen(row["balance"]) for row in first_day}
    closing = hledger_balances(closed)
    for code in (books.general, books.school, books.other):
        assert opening.get(f"Funds:{code}", 0) == closing.get(f"Funds:{code}", 0), code
        assert opening.get(f"Assets:Bank:{code}", 0) == closing.get(f"Assets:Bank:{code}", 0), code
    assert -closing[f"Funds:{books.general}"] == 800_00 and -closing[f"Funds:{books.school}"] == 2000_00
    text = closed.read_text(encoding="utf-8")
    assert "张三丰" not in text and "匿名" in text          # an anonymous donor stays anonymous


def test_every_scope_and_format(gateway: Any, api: ApiClient, books: Books) -> None:
    year = books.this_year
    body, content_type, name = export_with(gateway, Scope(), year, "csv")
    assert (content_type, name) == ("text/csv; charset=utf-8", f"ledger-{year.label}-all.csv")
    rows = read_csv(body)
    assert {row["fund_code"] for row in rows} == {books.general, books.school, books.other, books.quiet}
    assert any(row["description"].startswith("'=HYPERLINK") for row in rows)

    body, content_type, name = export_with(gateway, Scope(fund_code=books.school), year, "xlsx")
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert name == f"ledger-{year.label}-fund-{books.school}.xlsx"
    assert body == export_with(gateway, Scope(fund_code=books.school), year, "xlsx")[0]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(body))["账本"]
    assert {row[1].value for row in sheet.iter_rows(min_row=2)} == {books.school}

    with pytest.raises(ValueError):
        export_with(gateway, Scope(), year, "pdf")


def test_an_organisation_without_funds_exports_an_empty_ledger(
        gateway: Any, make: Factory, books: Books, tmp_path: Path) -> None:
    empty = make.organization("尚无基金的商会")["id"]
    body, _, name = export_with(gateway, Scope(organization_id=empty), books.this_year, "journal")
    path = tmp_path / name
    path.write_bytes(body)
    assert hledger_balances(path) == {} and ledger_balances(path) == {}
    assert len(read_csv(export_with(gateway, Scope(organization_id=empty), books.this_year, "csv")[0])) == 0


def test_an_unknown_scope_is_refused(gateway: Any, books: Books) -> None:
    from services.reports.build import NoSuchScope

    with pytest.raises(NoSuchScope):
        export_with(gateway, Scope(fund_code="NO-SUCH-001"), books.this_year, "journal")
    with pytest.raises(NoSuchScope):
        export_with(gateway, Scope(organization_id=books.home.id + 1000), books.this_year, "journal")
