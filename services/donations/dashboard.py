"""How the funds are doing: the figures of the overview page and of a fund's page.

Per fund and in total: this month's and this year's income and spending (in
Beijing calendar months and years, shared/periods.py), the balance, the cash
available to pay, the goods held and what approved payments have set aside;
income and spending by month over the last twelve months; the last entries.

A handful of queries whatever the number of funds: the balances from
`fund_ledger`, the months from `fund_day` (a row per fund and day) and the
paid disbursements, the last entries from each fund's newest few. Income is
what came in less what was reversed (a donation's reversal counts in the
month it is posted, as in the reports): the fund's net change plus what it
paid out. Spending is the disbursements paid, by the day they were paid. So
opening balance + income - spending = closing balance, month by month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.donations import commands
from services.donations.models import Disbursement, FundLedger, receipt_no
from shared import i18n
from shared.auth import Principal
from shared.charts import Bar, Layout, Words, flow_chart_svg
from shared.dates import shanghai_date
from shared.db import utcnow
from shared.money import Money
from shared.period_names import period_name
from shared.periods import Period

CHART_MONTHS = 12
RECENT_ENTRIES = 10


def periods_at(moment: dt.datetime) -> tuple[Period, Period]:
    """The Beijing calendar month and year `moment` falls in (16:30 UTC on 30 November is 1 December)."""
    day = shanghai_date(moment)
    return Period.containing(day, "month"), Period.containing(day, "year")


def chart_months(month: Period) -> list[Period]:
    """The CHART_MONTHS months up to and including `month`, the oldest first."""
    months = [month]
    while len(months) < CHART_MONTHS:
        months.insert(0, months[0].previous)
    return months


@dataclass
class Flows:
    """What came in (donations less reversals) and went out (disbursements paid) in a period."""

    income_fen: int = 0
    spending_fen: int = 0

    def add(self, income_fen: int, spending_fen: int) -> None:
        self.income_fen += income_fen
        self.spending_fen += spending_fen


@dataclass
class FundFigures:
    code: str
    organization_id: int
    restricted: bool
    status: str
    balance_fen: int
    cash_fen: int            # at the bank
    available_cash_fen: int  # what can be paid: cash less approved, unpaid disbursements
    goods_fen: int           # donated goods, at their declared value
    reserved_fen: int        # set aside for approved, unpaid disbursements
    entry_count: int
    month: Flows = field(default_factory=Flows)
    year: Flows = field(default_factory=Flows)

    @classmethod
    def of(cls, row: FundLedger) -> FundFigures:
        # A freeze or close being committed in the funds service applies in the ledger already.
        return cls(row.code, row.organization_id, row.restricted, row.pending_status or row.status, row.balance_fen,
                   row.bank_fen, row.available_cash_fen, row.in_kind_fen, row.reserved_fen, row.entry_count)


@dataclass(frozen=True)
class MonthFlows:
    month: Period
    income_fen: int
    spending_fen: int


@dataclass(frozen=True)
class RecentEntry:
    entry_id: int
    fund_code: str
    kind: str                # donation, reversal, disbursement
    source_id: int           # the donation's or the disbursement's id
    effective_on: dt.date
    posted_at: dt.datetime
    change_fen: int          # signed: into (+) or out of (-) the fund
    party: str | None        # the donor (None if anonymous) or the payee
    receipt_no: str | None


@dataclass
class Overview:
    month: Period
    year: Period
    funds: list[FundFigures]
    months: list[MonthFlows]
    recent: list[RecentEntry]

    def total(self, name: str) -> int:
        return sum(getattr(fund, name) for fund in self.funds)

    @property
    def month_total(self) -> Flows:
        return Flows(sum(f.month.income_fen for f in self.funds), sum(f.month.spending_fen for f in self.funds))

    @property
    def year_total(self) -> Flows:
        return Flows(sum(f.year.income_fen for f in self.funds), sum(f.year.spending_fen for f in self.funds))


def _funds(session: Session, actor: Principal, fund_code: str | None) -> list[FundLedger]:
    query = select(FundLedger).order_by(FundLedger.code)
    if not actor.sees_all_organizations:
        query = query.where(FundLedger.organization_id == actor.organization_id)
    if fund_code is not None:
        query = query.where(FundLedger.code == fund_code)
    return list(session.scalars(query))


# Each fund's net change and payments by month, in one pass over fund_day and the paid disbursements.
FLOWS_BY_MONTH = text("""
    WITH net AS (
        SELECT d.fund_id, date_trunc('month', d.day)::date AS month,
               sum(d.unrestricted_fen + d.restricted_fen) AS net
        FROM donations.fund_day d
        WHERE d.fund_id = ANY(CAST(:fund_ids AS bigint[])) AND d.day BETWEEN :first AND :last
        GROUP BY 1, 2
    ), paid AS (
        SELECT b.fund_id, date_trunc('month', b.paid_on)::date AS month, sum(b.amount_fen) AS spent
        FROM donations.disbursement b
        WHERE b.fund_id = ANY(CAST(:fund_ids AS bigint[])) AND b.status = 'paid'
              AND b.paid_on BETWEEN :first AND :last
        GROUP BY 1, 2
    )
    SELECT coalesce(n.fund_id, p.fund_id) AS fund_id, coalesce(n.month, p.month) AS month,
           coalesce(n.net, 0) AS net, coalesce(p.spent, 0) AS spent
    FROM net n FULL JOIN paid p ON p.fund_id = n.fund_id AND p.month = n.month
""")

# The newest entries of the funds: each fund's newest few (its (fund_id, seq) index), then the newest of those.
RECENT = text("""
    WITH recent AS (
        SELECT x.* FROM unnest(CAST(:fund_ids AS bigint[])) AS f(id)
        CROSS JOIN LATERAL (SELECT e.id, e.fund_id, e.kind, e.source_id, e.effective_on, e.posted_at
                            FROM donations.journal_entry e WHERE e.fund_id = f.id
                            ORDER BY e.seq DESC LIMIT :limit) x
        ORDER BY x.id DESC LIMIT :limit
    )
    SELECT r.id, l.code, r.kind, r.source_id, r.effective_on, r.posted_at,
           (SELECT -sum(p.amount_fen) FROM donations.posting p
            WHERE p.entry_id = r.id AND p.account IN ('unrestricted', 'restricted')) AS change,
           CASE WHEN r.kind = 'disbursement' THEN b.payee WHEN NOT d.donor_anonymous THEN d.donor_name END AS party,
           d.receipt_year, d.receipt_seq
    FROM recent r JOIN donations.fund_ledger l ON l.id = r.fund_id
    LEFT JOIN donations.donation d ON r.kind IN ('donation', 'reversal') AND d.id = r.source_id
    LEFT JOIN donations.disbursement b ON r.kind = 'disbursement' AND b.id = r.source_id
    ORDER BY r.id DESC
""")


def overview(session: Session, actor: Principal, *, fund_code: str | None = None,
             moment: dt.datetime | None = None) -> Overview:
    """The figures of the funds `actor` sees (or of one of them), as of `moment` (now)."""
    month, year = periods_at(moment or utcnow())
    rows = _funds(session, actor, fund_code)
    funds = [FundFigures.of(row) for row in rows]
    by_id = {row.id: figures for row, figures in zip(rows, funds, strict=True)}
    months = chart_months(month)
    chart = {m.first: Flows() for m in months}
    recent: list[RecentEntry] = []
    if by_id:
        ids = list(by_id)
        for row in session.execute(FLOWS_BY_MONTH, {"fund_ids": ids, "first": min(months[0].first, year.first),
                                                     "last": month.last}):
            spent = int(row.spent)
            income = int(row.net) + spent
            figures = by_id[row.fund_id]
            if row.month == month.first:
                figures.month.add(income, spent)
            if year.contains(row.month):
                figures.year.add(income, spent)
            if row.month in chart:
                chart[row.month].add(income, spent)
        recent = [RecentEntry(r.id, r.code, r.kind, r.source_id, r.effective_on, r.posted_at, int(r.change or 0),
                              r.party, receipt_no(r.receipt_year, r.receipt_seq) if r.receipt_year else None)
                  for r in session.execute(RECENT, {"fund_ids": ids, "limit": RECENT_ENTRIES})]
    return Overview(month, year, funds,
                    [MonthFlows(m, chart[m.first].income_fen, chart[m.first].spending_fen) for m in months], recent)


def approval_queue_size(session: Session, actor: Principal) -> int:
    """The requests awaiting approval that the approver sees: the approval queue's size."""
    requested = commands.disbursement_query(actor, status="requested").order_by(None)
    return int(session.scalar(select(func.count()).select_from(requested.subquery())) or 0)


def own_pending_requests(session: Session, actor: Principal) -> int:
    """The caller's own requests still awaiting a decision."""
    return int(session.scalar(select(func.count()).select_from(Disbursement).where(
        Disbursement.status == "requested", Disbursement.requested_by == actor.actor)) or 0)


def to_json(view: Overview) -> dict[str, Any]:
    """The overview as the internal API answers it: money as text, as everywhere."""
    def flows(value: Flows) -> dict[str, str]:
        return {"income": str(Money(value.income_fen)), "spending": str(Money(value.spending_fen))}

    return {
        "month": view.month.label, "year": view.year.label,
        "funds": [{"fund_code": f.code, "status": f.status, "balance": str(Money(f.balance_fen)),
                   "cash": str(Money(f.cash_fen)), "available_cash": str(Money(f.available_cash_fen)),
                   "goods": str(Money(f.goods_fen)), "reserved": str(Money(f.reserved_fen)),
                   "entries": f.entry_count, "this_month": flows(f.month), "this_year": flows(f.year)}
                  for f in view.funds],
    }


# The chart on the overview: fewer, larger units than the reports' A4 chart, so it reads on a phone.
CHART_LAYOUT = Layout(width=400, height=260, left=50, right=0, top=40, bottom=28, font_size=12, tick_font_size=12,
                      legend_font_size=14, legend_width=190, legend_gap=95, label_gap=19, unit_x=0)
def chart_svg(view: Overview) -> Markup:
    """Income and spending by month over the last twelve months, in the reader's language."""
    words = Words(inflow=i18n.translate("Income"), outflow=i18n.translate("Spending"),
                  yuan=i18n.translate("yuan"), wan=i18n.translate("10,000 yuan"),
                  empty=i18n.translate("No income or spending"))
    first, last = view.months[0].month, view.months[-1].month
    title = i18n.translate("Income and spending by month, %(first)s to %(last)s") % {
        "first": period_name(first), "last": period_name(last)}
    description = "; ".join(
        i18n.translate("%(month)s: income %(income)s, spending %(spending)s") % {
            "month": period_name(m.month), "income": Money(m.income_fen).display(),
            "spending": Money(m.spending_fen).display()} for m in view.months)
    bars = [Bar(period_name(m.month, short=True), m.income_fen, m.spending_fen) for m in view.months]
    # Built here, every text in it escaped by flow_chart_svg.
    return Markup(flow_chart_svg(bars, words, CHART_LAYOUT, title=title, description=description,
                                 element_id="monthly-chart"))
