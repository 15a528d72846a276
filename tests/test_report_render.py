"""A report's files from a `ReportContent`: PDF, XLSX, CSV (services/reports/render).

No database and no app: synthetic content in, bytes out. The PDF is read
back with pdftotext, the XLSX with openpyxl, the CSV with the csv module.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import shutil
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from services.reports.facts import (ANONYMOUS_NAME, Anomaly, Check, Donor, FundFigures, Head,
                                    LateEntry, MonthFlow, PreviousReport, ReportContent)
from services.reports.render import CONTENT_TYPES, FORMATS, render
from services.reports.render.common import CHECK_NAMES, money
from services.reports.render.pdf import render_html
from shared.money import Money
from shared.periods import Period

HOSTILE = '=HYPERLINK("http://x","y")'
SHEETS = ["概要", "基金明细", "月度收支", "主要捐赠人", "补记条目", "核查结果", "异常提示", "哈希链头"]
PERIOD = Period.parse("2026-Q3")
GENERATED_AT = dt.datetime(2026, 9, 30, 18, 5, 33, tzinfo=dt.UTC)   # 2026-10-01 02:05:33 in Beijing


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fund(index: int, name: str) -> FundFigures:
    opening = 5_000_000_00 + index * 1_234_567
    donations = 120_000_00 + index * 98_765
    restricted = donations // 3 if index % 2 else 0
    in_kind = 8_000_00 if index % 5 == 0 else 0
    reversals = 500_00 if index % 7 == 0 else 0
    disbursements = 60_000_00 + index * 4_321
    closing = opening + donations - reversals - disbursements
    return FundFigures(
        fund_code=f"TL-{index // 50:02d}-{index:03d}", name=name, organization_id=1 + index // 50,
        opening_fen=opening, donations_count=10 + index % 40, donations_fen=donations,
        restricted_fen=restricted, in_kind_fen=in_kind, reversals_count=1 if reversals else 0,
        reversals_fen=reversals, disbursements_count=2 + index % 3, disbursements_fen=disbursements,
        closing_fen=closing, available_fen=closing - (10_000_00 if index % 4 == 0 else 0))


def _totals(funds: list[FundFigures]) -> FundFigures:
    def total(attribute: str) -> int:
        return sum(getattr(fund, attribute) for fund in funds)
    return FundFigures(
        fund_code=None, name="合计", organization_id=None, opening_fen=total("opening_fen"),
        donations_count=total("donations_count"), donations_fen=total("donations_fen"),
        restricted_fen=total("restricted_fen"), in_kind_fen=total("in_kind_fen"),
        reversals_count=total("reversals_count"), reversals_fen=total("reversals_fen"),
        disbursements_count=total("disbursements_count"), disbursements_fen=total("disbursements_fen"),
        closing_fen=total("closing_fen"), available_fen=total("available_fen"))


def make_content(n_funds: int = 4, *, with_previous: bool = True) -> ReportContent:
    """A quarter's report over `n_funds` funds, with a hostile donor and fund name, one
    failing check and one check this renderer does not know."""
    names = ["铜陵市助学基金", "<script>alert(1)</script>", "长江生态保护专项基金", HOSTILE]
    funds = [_fund(index, names[index] if index < len(names) else f"铜陵市第{index}号慈善基金")
             for index in range(n_funds)]
    totals = _totals(funds)
    # The months split the totals: inflow all donations, outflow reversals and disbursements.
    inflow, outflow = totals.donations_fen, totals.reversals_fen + totals.disbursements_fen
    months = (MonthFlow("2026-07", inflow // 2, outflow // 4),
              MonthFlow("2026-08", inflow // 3, outflow // 4),
              MonthFlow("2026-09", inflow - inflow // 2 - inflow // 3, outflow - 2 * (outflow // 4)))
    donors = (Donor("安徽铜陵有色金属集团", "enterprise", 3, 300_000_00),
              Donor(ANONYMOUS_NAME, "individual", 12, 95_000_00),
              Donor(HOSTILE, "individual", 1, 50_000_00),
              Donor("@SUM(A1:A9)", "organization", 2, 12_345_67),
              Donor("张三", "individual", 1, 1_00))
    late = (LateEntry(funds[0].fund_code, 41, "donation", dt.date(2026, 6, 28),
                      dt.datetime(2026, 7, 2, 1, 30, tzinfo=dt.UTC), 20_000_00, "in", "R2026-000123"),
            LateEntry(funds[-1].fund_code, 17, "disbursement", dt.date(2026, 6, 30),
                      dt.datetime(2026, 7, 3, 9, 0, tzinfo=dt.UTC), 7_500_50, "out", "D88"))
    heads = tuple(Head(fund.fund_code, 100 + index, _hash(f"now {fund.fund_code}"))
                  for index, fund in enumerate(funds))
    previous = None
    if with_previous:
        previous = PreviousReport(41, "2026-Q2", tuple(
            Head(fund.fund_code, 90 + index, _hash(f"before {fund.fund_code}"))
            for index, fund in enumerate(funds)))
    # As checks.audit_chain names them: every fund's head, and the previous report's.
    chain_figures = tuple((f"{head.fund_code} 链头", f"第{head.seq}条 {head.hash}") for head in heads)
    chain_figures += tuple((f"{head.fund_code} 上期链头（报告 41）", f"第{head.seq}条 {head.hash}")
                           for head in (previous.heads if previous else ()))
    checks = (Check("trial_balance", True, "全部分录借贷平衡。", (("借方合计", "1280.00"), ("贷方合计", "1280.00"))),
              Check("balances_match_ledger", True, "各基金余额与分录汇总一致。"),
              Check("audit_chain", True, "哈希链完整。", chain_figures),
              Check("receipt_numbers_gapless", True, "收据编号连续。"),
              Check("four_eyes", False, "拨付 D88 的审批人与申请人相同。", (("违规拨付", "1"),)),
              Check("charity_law_spending_ratio", True, "慈善活动支出占上年总收入 72.50%，不低于 70%。"),
              Check("charity_law_management_cost_ratio", True, "管理费用占总支出 8.20%，不高于 10%。"),
              Check("new_rule", True, "一项新的核查。"))
    anomalies = (Anomaly("large_donation", funds[0].fund_code, "单笔捐赠超过 20 万元。", 300_000_00),
                 Anomaly("dormant_fund", funds[-1].fund_code, "本期无任何收支。"))
    return ReportContent(
        report_id=42, title="铜陵市慈善总会 2026年第三季度审计报告", scope_label="全部基金",
        period=PERIOD, generated_at=GENERATED_AT, heads=heads, previous=previous, funds=tuple(funds),
        totals=totals, months=months, donors=donors, late_entries=late, checks=checks,
        anomalies=anomalies)


SMALL = make_content()
LARGE = make_content(200)


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (Debian: poppler-utils)")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def small_pdf() -> bytes:
    return render(SMALL, "pdf")


def _csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """The CSV's sections by name, each its header line and rows."""
    assert data.startswith(b"\xef\xbb\xbf")
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        if len(row) == 1 and re.fullmatch(r"\[.+\]", row[0]):
            current = sections.setdefault(row[0][1:-1], [])
        elif row:
            current.append(row)
    return sections


def _open_xlsx(data: bytes):
    openpyxl = pytest.importorskip("openpyxl")
    return openpyxl.load_workbook(io.BytesIO(data))


def _fen(value: float) -> int:
    """A cell's yuan back to fen, exactly (repr gives the shortest decimal of the double)."""
    return int(Decimal(repr(value)).scaleb(2))


def test_formats_and_content_types() -> None:
    assert FORMATS == ("pdf", "xlsx", "csv")
    assert set(CONTENT_TYPES) == set(FORMATS)
    with pytest.raises(ValueError):
        render(SMALL, "docx")


def test_money_is_formatted_from_integer_fen() -> None:
    assert money(5_000_000) == "¥50,000.00"
    assert money(1) == "¥0.01"
    assert money(-123_456_789) == "-¥1,234,567.89"
    assert money(100_000_000_000_00) == "¥100,000,000,000.00"


def test_pdf_says_everything(small_pdf: bytes, tmp_path: Path) -> None:
    assert small_pdf.startswith(b"%PDF-")
    text = _pdf_text(small_pdf, tmp_path)
    assert SMALL.title in text
    assert "2026-07-01 至 2026-09-30" in text
    assert "2026-10-01 02:05:33" in text       # generated at, Beijing time
    for fund in SMALL.funds:
        assert fund.fund_code in text
    totals = SMALL.totals
    for fen in (totals.opening_fen, totals.donations_fen, totals.closing_fen, totals.available_fen):
        assert money(fen) in text
    compact = re.sub(r"\s+", "", text)
    assert "<script>alert(1)</" in text    # shown as text, not markup (the name wraps after it)
    lines = text.splitlines()
    for check in SMALL.checks:
        name = CHECK_NAMES.get(check.name, check.name)
        verdict = "✔ 通过" if check.passed else "✘ 未通过"
        # The name's start and the verdict share a line of the checks table.
        assert any(name[:4] in line and verdict in line for line in lines), check.name
    assert "new_rule" in text                     # an unknown check shows its code
    for head in SMALL.heads + SMALL.previous.heads:
        assert head.hash in text
    pages = int(re.search(r"共(\d+)页", compact).group(1))
    assert pages >= 3
    for page in range(1, pages + 1):
        assert f"第 {page} 页 / 共 {pages} 页" in text
    assert "补记" in text and "R2026-000123" in text
    assert ANONYMOUS_NAME in text


def test_pdf_has_the_chart(small_pdf: bytes, tmp_path: Path) -> None:
    html = render_html(SMALL)
    assert re.search(r"<svg[^>]*class=\"chart\"", html)
    assert "<script>" not in html and "&lt;script&gt;" in html   # autoescaped
    text = _pdf_text(small_pdf, tmp_path)
    for label in ("流入（捐赠）", "流出（冲销及拨付）", "7月", "8月", "9月"):
        assert label in text


def test_pdf_without_a_previous_report_says_none(tmp_path: Path) -> None:
    text = _pdf_text(render(make_content(2, with_previous=False), "pdf"), tmp_path)
    assert re.search(r"上一份同范围报告：\s*无", text)


def test_xlsx_sheets_numbers_and_totals() -> None:
    book = _open_xlsx(render(SMALL, "xlsx"))
    assert book.sheetnames == SHEETS
    sheet = book["基金明细"]
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["基金编号", "基金名称", "期初余额"]
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == len(SMALL.funds) + 1
    for fund, row in zip(SMALL.funds, rows):
        assert row[0].value == fund.fund_code and row[1].value == fund.name
        assert row[1].data_type == "s"
        assert isinstance(row[2].value, (int, float)) and row[2].number_format == "¥#,##0.00"
        assert _fen(row[2].value) == fund.opening_fen
        assert row[3].value == fund.donations_count and isinstance(row[3].value, int)
        assert _fen(row[11].value) == fund.closing_fen
    total = rows[-1]
    assert total[0].value == "合计"
    for column, attribute in ((2, "opening_fen"), (4, "donations_fen"), (10, "disbursements_fen"),
                              (11, "closing_fen"), (12, "available_fen")):
        assert _fen(total[column].value) == getattr(SMALL.totals, attribute)
        assert sum(_fen(row[column].value) for row in rows[:-1]) == getattr(SMALL.totals, attribute)
    late = list(book["补记条目"].iter_rows(min_row=2, values_only=True))
    assert late[0][3] == dt.datetime(2026, 6, 28)                 # a date, as a date
    assert late[0][4] == dt.datetime(2026, 7, 2, 9, 30)           # posted at, Beijing time
    summary = {row[0]: row[1] for row in book["概要"].iter_rows(min_row=2, values_only=True)}
    assert summary["报告编号"] == 42 and summary["期间起"] == dt.datetime(2026, 7, 1)
    assert _fen(summary["期末余额"]) == SMALL.totals.closing_fen
    heads = list(book["哈希链头"].iter_rows(min_row=2, values_only=True))
    assert [row[2] for row in heads] == [head.hash for head in SMALL.heads]
    assert [row[4] for row in heads] == [head.hash for head in SMALL.previous.heads]
    checks = list(book["核查结果"].iter_rows(min_row=2, values_only=True))
    four_eyes = [row for row in checks if row[1] == "four_eyes"]
    assert four_eyes == [("四眼原则(审批人不同于申请人)", "four_eyes", "未通过", "拨付 D88 的审批人与申请人相同。",
                          "违规拨付", "1")]
    chain = [row for row in checks if row[1] == "audit_chain"]       # a figure a row
    assert [tuple(row[4:]) for row in chain] == list(SMALL.checks[2].figures)
    assert chain[0][3] == "哈希链完整。" and chain[1][3] is None
    assert checks[-1][:3] == ("new_rule", "new_rule", "通过")


def test_csv_parses_back_to_the_figures() -> None:
    data = render(SMALL, "csv")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    sections = _csv_sections(data)
    assert list(sections) == SHEETS
    header, *rows = sections["基金明细"]
    assert header[:3] == ["基金编号", "基金名称", "期初余额"]
    assert len(rows) == len(SMALL.funds) + 1
    closing = header.index("期末余额")
    for fund, row in zip(SMALL.funds, rows):
        assert row[0] == fund.fund_code
        assert Money.parse(row[2]).fen == fund.opening_fen
        assert Money.parse(row[closing]).fen == fund.closing_fen
        assert int(row[3]) == fund.donations_count
    assert rows[-1][0] == "合计"
    assert Money.parse(rows[-1][closing]).fen == SMALL.totals.closing_fen
    assert Money.parse(rows[-1][4]).fen == SMALL.totals.donations_fen
    months = sections["月度收支"][1:]
    assert [row[0] for row in months] == ["2026-07", "2026-08", "2026-09", "合计"]
    assert sum(Money.parse(row[1]).fen for row in months[:-1]) == SMALL.totals.donations_fen
    late = sections["补记条目"][1]
    assert late[3:5] == ["2026-06-28", "2026-07-02 09:30:00"]
    heads = sections["哈希链头"][1:]
    assert [row[2] for row in heads] == [head.hash for head in SMALL.heads]
    chain = [row for row in sections["核查结果"][1:] if row[1] == "audit_chain"]
    assert [tuple(row[4:]) for row in chain] == list(SMALL.checks[2].figures)


def test_hostile_text_never_becomes_a_formula() -> None:
    csv_rows = [row for rows in _csv_sections(render(SMALL, "csv")).values() for row in rows]
    cells = [cell for row in csv_rows for cell in row]
    assert "'" + HOSTILE in cells and "'@SUM(A1:A9)" in cells
    # Only amounts may start with "-"; nothing else starts a formula.
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [cell for cell in cells if cell.startswith("-") and not re.fullmatch(r"-\d+\.\d\d", cell)]

    data = render(SMALL, "xlsx")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name
    book = _open_xlsx(data)
    donors = list(book["主要捐赠人"].iter_rows(min_row=2))
    hostile = [row[1] for row in donors if row[1].value == HOSTILE]
    assert hostile and hostile[0].data_type == "s"


def test_same_content_same_bytes(small_pdf: bytes) -> None:
    first = {fmt: render(SMALL, fmt) for fmt in ("csv", "xlsx")}
    assert first == {fmt: render(make_content(), fmt) for fmt in ("csv", "xlsx")}
    first["pdf"] = small_pdf
    # Another process, another time zone and hash seed: still the same bytes.
    script = (
        "import sys, hashlib; sys.path.insert(0, sys.argv[1]);"
        "from test_report_render import SMALL; from services.reports.render import render;"
        "print(' '.join(hashlib.sha256(render(SMALL, f)).hexdigest() for f in ('csv', 'xlsx', 'pdf')))")
    env = {"TZ": "America/New_York", "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)],
                            capture_output=True, text=True, env=env, check=True,
                            cwd=Path(__file__).parent.parent)
    assert result.stdout.split() == [hashlib.sha256(first[fmt]).hexdigest() for fmt in ("csv", "xlsx", "pdf")]


def test_a_report_over_200_funds(tmp_path: Path) -> None:
    files = {fmt: render(LARGE, fmt) for fmt in FORMATS}
    text = _pdf_text(files["pdf"], tmp_path)
    for fund in LARGE.funds:
        assert fund.fund_code in text
    for head in LARGE.heads:
        assert head.hash in text
    assert money(LARGE.totals.closing_fen) in text
    assert "另有 394 项" in text     # audit_chain's 400 figures: ten in the PDF, all in the files
    book = _open_xlsx(files["xlsx"])
    rows = list(book["基金明细"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 201
    assert sum(_fen(row[11]) for row in rows[:-1]) == _fen(rows[-1][11]) == LARGE.totals.closing_fen
    sections = _csv_sections(files["csv"])
    assert len(sections["基金明细"]) == 1 + 201
    assert len(sections["哈希链头"]) == 1 + 200
