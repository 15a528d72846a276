"""Money on the pages looks like money: ¥50,000.00 (Money.display, one place), right-aligned in
tables, each table of amounts with a 合计 row that sums exactly what it shows; Chinese capitals on
the receipt; every time in Beijing time."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from shared.dates import beijing_time
from shared.money import Money, chinese_capitals
from tests.conftest import Browser, Factory, csrf_token
from tests.test_pages_language import VisibleText

PASSWORD = "a-long-enough-password"
FUND = "TL-YUAN-01"
DISPLAYED = re.compile(r"-?¥\d{1,3}(?:,\d{3})*\.\d{2}")
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


def yuan(shown: str) -> Decimal:
    """¥50,000.00 as the Decimal it shows."""
    assert DISPLAYED.fullmatch(shown), shown
    return Decimal(shown.replace("¥", "").replace(",", ""))


class Cell:
    def __init__(self, header: bool, classes: set[str], column: int, span: int) -> None:
        self.header, self.classes, self.column, self.span = header, classes, column, span
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


class Tables(HTMLParser):
    """A page's tables by id: their rows (the row's class, its cells, each at the column it starts in)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[Cell]]]] = {}
        self.current: list[tuple[str, list[Cell]]] | None = None
        self.cell: Cell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "table":
            self.current = self.tables.setdefault(named.get("id") or f"table-{len(self.tables)}", [])
        elif tag == "tr" and self.current is not None:
            self.current.append((named.get("class") or "", []))
        elif tag in ("td", "th") and self.current:
            cells = self.current[-1][1]
            column = cells[-1].column + cells[-1].span if cells else 0
            self.cell = Cell(tag == "th", set((named.get("class") or "").split()), column,
                             int(named.get("colspan") or 1))
            cells.append(self.cell)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.parts.append(data)

    @classmethod
    def of(cls, html: str) -> dict[str, list[tuple[str, list[Cell]]]]:
        parser = cls()
        parser.feed(html)
        return parser.tables


def check_totals(html: str, table_id: str, columns: list[int]) -> dict[int, Decimal]:
    """The table's 合计 row: in each of `columns`, the sum of the amounts its entries show (not an
    opening or a closing balance). Every amount in the table is right-aligned (td.num)."""
    rows = Tables.of(html)[table_id]
    for _, cells in rows:
        for cell in cells:
            if DISPLAYED.search(cell.text):
                assert "num" in cell.classes, (table_id, cell.text, cell.classes)
    entries = [cells for kind, cells in rows if cells and not any(c.header for c in cells)
               and not {"opening", "closing", "total"} & set(kind.split())]
    total_rows = [cells for kind, cells in rows if "total" in kind.split()]
    assert len(total_rows) == 1, (table_id, [kind for kind, _ in rows])
    total = total_rows[0]
    assert total[0].text.startswith(("合计", "本期合计", "Total")), total[0].text
    totals: dict[int, Decimal] = {}
    for column in columns:
        shown = [yuan(cell.text) for cells in entries for cell in cells if cell.column == column and cell.text]
        assert shown, (table_id, column)
        [cell] = [cell for cell in total if cell.column == column]
        assert yuan(cell.text) == sum(shown, Decimal(0)), (table_id, column, shown, cell.text)
        totals[column] = yuan(cell.text)
    return totals


@pytest.fixture
def people(gateway: Any, make: Factory) -> dict[str, Any]:
    org = make.organization("铜陵市徽商商会")
    make.fund(org["id"], FUND, name="徽商助学基金")
    make.user(gateway, "manager", PASSWORD, "fund_manager", org["id"])
    make.user(gateway, "approver", PASSWORD, "approver", org["id"])
    manager, approver = Browser(gateway), Browser(gateway)
    manager.login("manager", PASSWORD)
    approver.login("approver", PASSWORD)
    return {"org": org, "manager": manager, "approver": approver}


def test_fifty_thousand_yuan_reads_as_money_on_every_page(people: dict[str, Any], make: Factory) -> None:
    donation = make.donation(FUND, "50000.00", received_on="2026-08-03")
    manager = people["manager"]

    receipt = manager.get(f"/donations/receipts/{donation['id']}").get_data(as_text=True)
    assert re.search(r'id="amount">¥50,000\.00<', receipt)
    assert re.search(r'id="amount-in-words"[^>]*>人民币伍万元整<', receipt)

    search = manager.get(f"/donations/search?fund_code={FUND}").get_data(as_text=True)
    [(_, cells)] = [(kind, cells) for kind, cells in Tables.of(search)["results"] if "total" not in kind and
                    not cells[0].header]
    assert [(cell.text, "num" in cell.classes) for cell in cells if "¥" in cell.text] == [("¥50,000.00", True)]

    statement = manager.get(f"/donations/funds/{FUND}/statement").get_data(as_text=True)
    entry = re.search(r'<tr class="entry">(.*?)</tr>', statement, re.S)
    assert entry and re.search(r'<td class="num">¥50,000\.00</td>', entry.group(1))
    assert re.search(r'id="closing-balance"><strong>¥50,000\.00<', statement)

    home = manager.get("/donations/").get_data(as_text=True)
    fund_row = re.search(rf'<tr id="fund-{FUND}">(.*?)</tr>', home, re.S)
    assert fund_row and re.search(r'class="num balance">¥50,000\.00<', fund_row.group(1))
    assert re.search(r'class="num available">¥50,000\.00<', fund_row.group(1))

    # In English too: the same figure, the capitals kept as the document's Chinese.
    english = manager.get(f"/donations/receipts/{donation['id']}?lang=en").get_data(as_text=True)
    assert re.search(r'id="amount">¥50,000\.00<', english) and "伍万元整" in english

    # No amount anywhere shows as a bare figure or a float.
    for page in (receipt, search, statement, home):
        shown = VisibleText.of(page)
        assert "50000.00" not in shown and "50000.0 " not in shown


def test_every_table_of_amounts_has_a_total_of_exactly_what_it_shows(people: dict[str, Any], make: Factory,
                                                                     admin: Browser) -> None:
    amounts = ["0.01", "1280.00", "50000.00", "99.99", "0.10"]
    for day, amount in enumerate(amounts, start=1):
        make.donation(FUND, amount, received_on=f"2026-08-{day:02d}")
    other = make.organization("枞阳县商会")
    make.fund(other["id"], "ZY-SH-001", name="枞阳县商会基金")
    make.donation("ZY-SH-001", "7.77", received_on="2026-08-02")
    manager, approver = people["manager"], people["approver"]
    for payee, amount in (("义安区实验小学", "300.00"), ("铜陵市图书馆", "120.55"), ("某村委会", "0.05")):
        assert manager.submit("/donations/disbursements/new", {
            "fund_code": FUND, "amount": amount, "payee": payee, "purpose": "助学",
            "category": "programme", "submission_id": payee}).status_code == 302
    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    first = min(int(n) for n in re.findall(r'id="disbursement-(\d+)"', queue))
    assert approver.http.post(f"/donations/disbursements/{first}/approve", data={"csrf_token": csrf_token(queue)},
                              headers={"Accept": "text/html"}).status_code == 302

    exact = sum((Decimal(a) for a in amounts), Decimal(0))
    search = manager.get(f"/donations/search?fund_code={FUND}").get_data(as_text=True)
    assert check_totals(search, "results", [4]) == {4: exact}

    statement = manager.get(f"/donations/funds/{FUND}/statement").get_data(as_text=True)
    assert check_totals(statement, "statement", [3]) == {3: exact}

    disbursements = manager.get("/donations/disbursements/").get_data(as_text=True)
    assert check_totals(disbursements, "disbursements", [2]) == {2: Decimal("420.60")}

    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    assert check_totals(queue, "requested", [2]) == {2: Decimal("120.60")}
    assert check_totals(queue, "approved", [2]) == {2: Decimal("300.00")}

    # The overview: the admin sees both organisations' funds, and their totals.
    home = admin.get("/donations/").get_data(as_text=True)
    totals = check_totals(home, "funds", [1, 2, 3])
    assert totals == {1: exact + Decimal("7.77"), 2: Decimal("300.00"), 3: exact + Decimal("7.77") - 300}
    # In English the row is a Total.
    assert re.search(r"<th[^>]*>Total</th>", admin.get("/donations/?lang=en").get_data(as_text=True))


@pytest.mark.parametrize(("amount", "capitals"), [
    ("0.01", "壹分"),
    ("10.00", "壹拾元整"),
    ("100000.00", "壹拾万元整"),
    ("1000000.05", "壹佰万元零伍分"),
    ("50000.00", "伍万元整"),
    ("50000.50", "伍万元伍角整"),
    ("1000000000.00", "壹拾亿元整"),
])
def test_chinese_capitals_on_the_receipt(amount: str, capitals: str) -> None:
    assert chinese_capitals(Money.parse(amount).fen) == capitals
    assert Money.parse(amount).in_chinese_capitals() == capitals


def test_times_are_beijing_time(people: dict[str, Any], make: Factory) -> None:
    # 17:00 UTC on 30 November is 01:00 on 1 December in Beijing.
    moment = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)
    assert beijing_time(moment).startswith("2026-12-01 01:00")

    donation = make.donation(FUND, "12.00")
    recorded = dt.datetime.fromisoformat(donation["created_at"]).astimezone(BEIJING)
    receipt = people["manager"].get(f"/donations/receipts/{donation['id']}").get_data(as_text=True)
    shown = re.search(r'id="recorded-at"[^>]*>([^<]+)<', receipt)
    assert shown and shown.group(1).startswith(recorded.strftime("%Y-%m-%d %H:%M")), (shown, recorded)
    assert "UTC" not in VisibleText.of(receipt) and "北京时间" in VisibleText.of(receipt)

    manager, approver = people["manager"], people["approver"]
    assert manager.submit("/donations/disbursements/new", {
        "fund_code": FUND, "amount": "1.00", "payee": "某学校", "purpose": "助学", "category": "programme",
        "submission_id": "t-1"}).status_code == 302
    queue = approver.get("/donations/disbursements/queue").get_data(as_text=True)
    requested_at = re.search(r'class="muted requested-at">([^<]+)<', queue)
    now = dt.datetime.now(BEIJING)
    assert requested_at and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", requested_at.group(1))
    shown_at = dt.datetime.strptime(requested_at.group(1)[:16], "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING)
    assert abs(shown_at - now) < dt.timedelta(minutes=5)  # Beijing time, not UTC (eight hours off)
    assert "UTC" not in VisibleText.of(queue)
