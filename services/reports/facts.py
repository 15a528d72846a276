"""What a report is made of: plain data, immutable, money in integer fen.

sources.py fills these from the other services' internal APIs; checks.py
judges them; build.py assembles a `ReportContent`; render/ turns one into
CSV, XLSX and PDF bytes (no database, no HTTP), and summary.py into the
API's `summary`. The same `ReportContent` always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shared.periods import Period

ANONYMOUS_NAME = "匿名"


@dataclass(frozen=True)
class Scope:
    """What a report covers: every fund (both None), one organisation's, or one fund."""

    organization_id: int | None = None
    fund_code: str | None = None

    @property
    def key(self) -> str:
        """A stable text naming the scope: "all", "org:7" or "fund:TL-HQ-001"."""
        if self.fund_code is not None:
            return f"fund:{self.fund_code}"
        if self.organization_id is not None:
            return f"org:{self.organization_id}"
        return "all"


@dataclass(frozen=True)
class Head:
    """A fund's chain head: its last entry's sequence number and hash (seq 0: no entries)."""

    fund_code: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Fund:
    """A fund as the funds service describes it, with its organisation."""

    code: str
    name: str
    organization_id: int
    organization_name: str
    restricted: bool
    status: str


@dataclass(frozen=True)
class FundFigures:
    """One fund's figures for the period (or the scope's totals, with code ``None``).

    closing = opening + donations - reversals - disbursements, every figure by
    business date (API.md); `available_fen` is the balance less approved,
    unpaid disbursements, as the ledger held it when the heads were taken.
    """

    fund_code: str | None
    name: str
    organization_id: int | None
    opening_fen: int
    donations_count: int
    donations_fen: int
    restricted_fen: int       # of donations_fen: to restricted funds
    in_kind_fen: int          # of donations_fen: goods
    reversals_count: int
    reversals_fen: int
    disbursements_count: int
    disbursements_fen: int
    closing_fen: int
    available_fen: int


@dataclass(frozen=True)
class MonthFlow:
    month: str               # "2026-07"
    inflow_fen: int          # donations received in the month
    outflow_fen: int         # reversals posted plus disbursements paid in the month


@dataclass(frozen=True)
class Donor:
    """A donor's donations in the period; an anonymous donor's name is ANONYMOUS_NAME."""

    name: str
    kind: str                # individual, enterprise, organization
    count: int
    total_fen: int


@dataclass(frozen=True)
class LateEntry:
    """An entry posted since the previous report whose business date lies before this period."""

    fund_code: str
    seq: int
    kind: str                # donation, reversal, disbursement
    effective_on: dt.date
    posted_at: dt.datetime
    amount_fen: int          # positive
    direction: str           # "in" or "out" of the fund
    reference: str           # receipt number or disbursement id, as text


@dataclass(frozen=True)
class Check:
    """A rule the ledger must keep, judged over the snapshot; `figures` are what it was judged on."""

    name: str                # trial_balance, balances_match_ledger, audit_chain, ...
    passed: bool
    detail: str              # one sentence in Chinese, naming what failed
    figures: tuple[tuple[str, str], ...] = ()   # (label, value) pairs, values as text


@dataclass(frozen=True)
class Anomaly:
    """Something worth an auditor's look; not a failure."""

    kind: str                # large_donation, structuring, dormant_fund, concentrated_payee
    fund_code: str
    detail: str              # one sentence in Chinese
    amount_fen: int | None = None


@dataclass(frozen=True)
class PreviousReport:
    id: int
    period: str
    heads: tuple[Head, ...]


@dataclass(frozen=True)
class ReportContent:
    """Everything a report says: the files are this, laid out."""

    report_id: int
    title: str               # e.g. "铜陵市慈善总会 2026年第三季度审计报告"
    scope_label: str         # 全部基金 / the organisation's name / "<fund name> (<code>)"
    period: Period
    generated_at: dt.datetime
    heads: tuple[Head, ...]
    previous: PreviousReport | None
    funds: tuple[FundFigures, ...]
    totals: FundFigures
    months: tuple[MonthFlow, ...]
    donors: tuple[Donor, ...]            # largest first
    late_entries: tuple[LateEntry, ...]
    checks: tuple[Check, ...]
    anomalies: tuple[Anomaly, ...] = field(default=())


# The ledger of a period, for the exports (journal, CSV, XLSX).

@dataclass(frozen=True)
class Posting:
    account: str             # bank, in_kind, unrestricted, restricted (the ledger's accounts)
    amount_fen: int          # debit positive, credit negative; an entry's postings sum to zero


@dataclass(frozen=True)
class LedgerEntry:
    fund_code: str
    seq: int
    kind: str                # donation, reversal, disbursement
    effective_on: dt.date
    posted_at: dt.datetime
    reference: str           # the receipt number, or "D<disbursement id>"
    description: str         # donor (匿名 if anonymous) or payee, and purpose
    category: str | None     # a disbursement's category (programme, management, fundraising)
    postings: tuple[Posting, ...]


@dataclass(frozen=True)
class OpeningBalance:
    """An account's balance at the start of the period (debit positive)."""

    fund_code: str
    account: str
    amount_fen: int
