"""What every format of a report shares: names in Chinese, money and time as text,
and the report's tables (sections) that the CSV and the XLSX both lay out.

The CSV and the XLSX are the same tables in two encodings, so they are built
once here: a `Section` is a title, headers and rows of plain values, where the
value's type says how to write it (`Money` for an amount, `int` for a count,
`dt.date`, `dt.datetime` in Beijing time, `str`, `None` for an empty cell).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from shared.dates import SHANGHAI
from shared.money import Money
from shared.periods import Period

from ..facts import Head, ReportContent

CHECK_NAMES = {
    "trial_balance": "试算平衡",
    "balances_match_ledger": "余额与分录一致",
    "audit_chain": "审计哈希链",
    "receipt_numbers_gapless": "收据编号连续",
    "four_eyes": "四眼原则(审批人不同于申请人)",
    "charity_law_spending_ratio": "慈善活动支出比例",
    "charity_law_management_cost_ratio": "管理费用比例",
}
DONOR_KINDS = {"individual": "个人", "enterprise": "企业", "organization": "社会组织"}
ENTRY_KINDS = {"donation": "捐赠", "reversal": "冲销", "disbursement": "拨付"}
DIRECTIONS = {"in": "流入", "out": "流出"}
ANOMALY_KINDS = {
    "large_donation": "大额捐赠",
    "structuring": "疑似拆分捐赠",
    "dormant_fund": "休眠基金",
    "concentrated_payee": "收款方集中",
}
PASSED, FAILED = "通过", "未通过"
NONE_TEXT = "无"
TOTAL_LABEL = "合计"

# Sheet names of the XLSX and section names of the CSV, in order.
SUMMARY, FUNDS, MONTHS, DONORS, LATE, CHECKS, ANOMALIES, HEADS = (
    "概要", "基金明细", "月度收支", "主要捐赠人", "补记条目", "核查结果", "异常提示", "哈希链头")
# The programmes' (from the programmes service), after the ledger's.
PROJECTS, OVERDUE, DISCLOSURE, NEEDS, OPEN_NEEDS, TEAMS, DRIVES, DRIVE_KINDS = (
    "项目", "逾期里程碑", "公开报告到期", "需求", "久未认领需求", "帮扶团", "消费帮扶", "消费帮扶分类")
PROJECT_STATUSES = {"draft": "草稿", "approved": "已批准", "in_progress": "实施中", "closing": "结项中",
                    "complete": "已结项", "stopped": "已终止"}
DISCLOSURE_REPORTS = {"quarterly": "季度公开报告（实施超过6个月）", "full": "结项全面报告（结束未满3个月）"}


def amount(text: str) -> Money:
    """An amount as the programmes service words it ("1280.00")."""
    return Money.parse(text)


def check_name(code: str) -> str:
    """A check's Chinese name; a check this module does not know shows its code."""
    return CHECK_NAMES.get(code, code)


def label(names: dict[str, str], code: str) -> str:
    return names.get(code, code)


def yuan(fen: int) -> str:
    """"1280.00": the API's form of an amount (negative allowed), from integer fen."""
    return str(Money(fen))


def money(fen: int) -> str:
    """"¥1,280.00", "-¥12.50": an amount as the PDF shows it."""
    return Money(fen).display()


def share_text(part_fen: int, whole_fen: int) -> str:
    """The part as a percentage of the whole, to 0.01 %, rounded half up in integers."""
    if whole_fen <= 0:
        return "—"
    basis_points = (2 * part_fen * 10_000 + whole_fen) // (2 * whole_fen)
    units, hundredths = divmod(basis_points, 100)
    return f"{units}.{hundredths:02d}%"


def text_width(text: str) -> int:
    """Columns the text takes in a monospace font: a Chinese (wide) character takes two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def beijing(moment: dt.datetime) -> dt.datetime:
    """The moment in Beijing time, without tzinfo (a spreadsheet has no time zones).

    A naive moment is taken as UTC, as the services store them, so that the
    result never depends on the machine's own time zone.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def beijing_text(moment: dt.datetime) -> str:
    return beijing(moment).strftime("%Y-%m-%d %H:%M:%S")


def period_name(period: Period) -> str:
    return period.chinese_name


def period_span(period: Period) -> str:
    return f"{period.first.isoformat()} 至 {period.last.isoformat()}"


@dataclass(frozen=True)
class HeadRow:
    """A fund's chain head in this report beside the previous report's (None: not there)."""

    fund_code: str
    current: Head | None
    previous: Head | None

    @property
    def new_entries(self) -> int | None:
        if self.current is None or self.previous is None:
            return None
        return self.current.seq - self.previous.seq


def head_rows(content: ReportContent) -> list[HeadRow]:
    """Every fund with a head in this report or the previous one, this report's order first."""
    previous = {head.fund_code: head for head in content.previous.heads} if content.previous else {}
    current = {head.fund_code: head for head in content.heads}
    codes = [head.fund_code for head in content.heads]
    codes += [head.fund_code for head in (content.previous.heads if content.previous else ())
              if head.fund_code not in current]
    return [HeadRow(code, current.get(code), previous.get(code)) for code in codes]


def previous_text(content: ReportContent) -> str:
    if content.previous is None:
        return NONE_TEXT
    return f"第 {content.previous.id} 号（{content.previous.period}）"


# The tables: what the CSV and the XLSX say.

Cell = Money | int | dt.date | dt.datetime | str | None


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    total_row: bool = False          # the last row is a 合计 row
    widths: tuple[int, ...] = ()     # XLSX column widths, in characters; empty: from the cells


def _figures(figures) -> tuple[Cell, ...]:
    return (Money(figures.opening_fen), figures.donations_count, Money(figures.donations_fen),
            Money(figures.restricted_fen), Money(figures.in_kind_fen), figures.reversals_count,
            Money(figures.reversals_fen), figures.disbursements_count,
            Money(figures.disbursements_fen), Money(figures.closing_fen), Money(figures.available_fen))


FIGURE_HEADERS = ("期初余额", "捐赠笔数", "捐赠金额", "其中定向", "其中实物", "冲销笔数", "冲销金额",
                  "拨付笔数", "已支付拨付", "期末余额", "可用余额")


def sections(content: ReportContent) -> list[Section]:
    """The report as tables, in the order of the PDF."""
    totals = content.totals
    failed = [check for check in content.checks if not check.passed]
    summary: list[tuple[Cell, ...]] = [
        ("报告编号", content.report_id),
        ("标题", content.title),
        ("范围", content.scope_label),
        ("报告期间", f"{period_name(content.period)}（{content.period.label}）"),
        ("期间起", content.period.first),
        ("期间止", content.period.last),
        ("生成时间（北京时间）", beijing(content.generated_at)),
        ("上一份报告", previous_text(content)),
        ("基金数", len(content.funds)),
        *zip(FIGURE_HEADERS, _figures(totals)),
        ("核查项目数", len(content.checks)),
        ("未通过核查数", len(failed)),
        ("补记条目数", len(content.late_entries)),
        ("异常提示数", len(content.anomalies)),
        *(("说明", note) for note in content.notes),
    ]
    funds = [(fund.fund_code, fund.name, *_figures(fund)) for fund in content.funds]
    funds.append((TOTAL_LABEL, None, *_figures(totals)))
    months: list[tuple[Cell, ...]] = [
        (month.month, Money(month.inflow_fen), Money(month.outflow_fen),
         Money(month.inflow_fen - month.outflow_fen)) for month in content.months]
    inflow = sum(month.inflow_fen for month in content.months)
    outflow = sum(month.outflow_fen for month in content.months)
    months.append((TOTAL_LABEL, Money(inflow), Money(outflow), Money(inflow - outflow)))
    donors = [(rank, donor.name, label(DONOR_KINDS, donor.kind), donor.count, Money(donor.total_fen))
              for rank, donor in enumerate(content.donors, 1)]
    late = [(entry.fund_code, entry.seq, label(ENTRY_KINDS, entry.kind), entry.effective_on,
             beijing(entry.posted_at), label(DIRECTIONS, entry.direction), Money(entry.amount_fen),
             entry.reference) for entry in content.late_entries]
    # A check's figures a row each: audit_chain alone names two heads per fund, far
    # more than an Excel cell holds (32,767 characters) at hundreds of funds.
    checks: list[tuple[Cell, ...]] = []
    for check in content.checks:
        verdict = PASSED if check.passed else FAILED
        for index, (name, value) in enumerate(check.figures or ((None, None),)):
            checks.append((check_name(check.name), check.name, verdict,
                           check.detail if index == 0 else None, name, value))
    anomalies = [(label(ANOMALY_KINDS, anomaly.kind), anomaly.fund_code, anomaly.detail,
                  None if anomaly.amount_fen is None else Money(anomaly.amount_fen))
                 for anomaly in content.anomalies]
    heads = [(row.fund_code,
              None if row.current is None else row.current.seq,
              None if row.current is None else row.current.hash,
              None if row.previous is None else row.previous.seq,
              None if row.previous is None else row.previous.hash)
             for row in head_rows(content)]
    return [
        Section(SUMMARY, ("项目", "内容"), summary, widths=(22, 60)),
        Section(FUNDS, ("基金编号", "基金名称", *FIGURE_HEADERS), funds, total_row=True),
        Section(MONTHS, ("月份", "流入（捐赠）", "流出（冲销及拨付）", "净额"), months, total_row=True),
        Section(DONORS, ("排名", "捐赠人", "类型", "笔数", "金额"), donors),
        Section(LATE, ("基金编号", "序号", "类型", "业务日期", "入账时间（北京时间）", "方向", "金额",
                       "凭证号"), late),
        Section(CHECKS, ("核查项目", "代码", "结果", "说明", "数据项", "数值"), checks,
                widths=(30, 34, 8, 60, 36, 60)),
        Section(ANOMALIES, ("类型", "基金编号", "说明", "金额"), anomalies, widths=(14, 16, 70, 18)),
        Section(HEADS, ("基金编号", "序号", "链头哈希（sha256）", "上一报告序号", "上一报告链头哈希"),
                heads, widths=(16, 10, 68, 14, 68)),
        *programme_sections(content),
    ]


def programme_sections(content: ReportContent) -> list[Section]:
    """The programmes' tables; none when the programmes service did not answer (the summary says so)."""
    facts = content.programmes
    if facts is None:
        return []
    projects, needs, teams, drives = facts["projects"], facts["needs"], facts["teams"], facts["drives"]
    money_columns = ("budget", "approved", "reserved", "paid", "remaining")
    project_rows: list[tuple[Cell, ...]] = [
        (p["project_code"], p["name"], p["fund_code"], label(PROJECT_STATUSES, p["status"]),
         *(amount(p[name]) for name in money_columns)) for p in projects["items"]]
    project_rows.append((TOTAL_LABEL, f"{projects['count']} 个项目", None, None,
                         *(amount(projects[name]) for name in money_columns)))
    overdue = [(m["project_code"], m["project_name"], m["n"], m["milestone"], dt.date.fromisoformat(m["due_on"]),
                m["days_overdue"], amount(m["instalment"])) for m in projects["milestones_overdue"]]
    disclosure = [(d["project_code"], d["name"], label(DISCLOSURE_REPORTS, d["report"]),
                   dt.date.fromisoformat(d["starts_on"]),
                   None if d["ended_on"] is None else dt.date.fromisoformat(d["ended_on"]))
                  for d in projects["disclosure_due"]]
    need_rows: list[tuple[Cell, ...]] = [
        ("本期发布需求", needs["posted"]["count"], None, amount(needs["posted"]["amount"])),
        ("本期认领（有效认领）", needs["claimed"]["count"], needs["claimed"]["needs"], amount(needs["claimed"]["amount"])),
        ("本期完成认领", needs["fulfilled"]["count"], needs["fulfilled"]["needs"], amount(needs["fulfilled"]["amount"])),
    ]
    open_needs = [(n["need_id"], n["township"], n["village"], n["title"], dt.date.fromisoformat(n["posted_on"]),
                   n["days_open"], amount(n["amount"]), amount(n["open"])) for n in needs["open_longest"]]
    team_rows: list[tuple[Cell, ...]] = [
        (t["name"], t["activities"], t["people_helped"], t["volunteer_hours"], t["projects"], amount(t["raised"]),
         amount(t["spent"])) for t in teams["items"]]
    team_rows.append((TOTAL_LABEL, teams["activities"], teams["people_helped"], teams["volunteer_hours"],
                      sum(t["projects"] for t in teams["items"]), amount(teams["raised"]), amount(teams["spent"])))
    unit_rows: list[tuple[Cell, ...]] = [(u["unit"], u["quantity"], u["purchases"], amount(u["paid_to_village"]))
                                         for u in drives["by_unit"]]
    unit_rows.append((TOTAL_LABEL, None, drives["purchases"], amount(drives["paid_to_village"])))
    kinds: list[tuple[Cell, ...]] = [
        ("支付给村（合计）", amount(drives["paid_to_village"])),
        ("其中：市场价购买（交换，不计捐赠或慈善支出）", amount(drives["exchange"])),
        ("慈善活动支出（转赠困难群众，按市场价值）", amount(drives["charitable_spending"])),
        ("差价捐赠（高于市场价的部分）", amount(drives["donation_of_difference"])),
        ("关联方采购笔数（须于30日内公开）", drives["related_party"]),
    ]
    return [
        Section(PROJECTS, ("项目编号", "项目名称", "基金编号", "状态", "预算", "已批准", "已预留（已批未付）",
                           "已支付", "剩余可用"), project_rows, total_row=True),
        Section(OVERDUE, ("项目编号", "项目名称", "里程碑序号", "里程碑", "应完成日期", "逾期天数", "分期金额"),
                overdue),
        Section(DISCLOSURE, ("项目编号", "项目名称", "应公开报告", "开始日期", "结束日期"), disclosure),
        Section(NEEDS, ("项目", "笔数", "涉及需求数", "金额"), need_rows, widths=(24, 10, 12, 18)),
        Section(OPEN_NEEDS, ("需求编号", "乡镇", "村", "需求", "发布日期", "已开放天数", "需求金额", "未认领金额"),
                open_needs),
        Section(TEAMS, ("帮扶团", "活动次数", "帮扶人数", "志愿服务时长（小时）", "项目数", "已筹集（已批准）",
                        "已支出"), team_rows, total_row=True),
        Section(DRIVES, ("计量单位", "采购数量", "采购笔数", "支付给村"), unit_rows, total_row=True),
        Section(DRIVE_KINDS, ("项目", "内容"), kinds, widths=(44, 18)),
    ]
