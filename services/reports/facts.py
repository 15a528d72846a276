"""What a report is made of: plain data, immutable, money in integer fen.

sources.py fills these from the other services' internal APIs; checks.py
judges them; build.py assembles a `ReportContent`; render/ turns one into
CSV, XLSX and PDF bytes (no database, no HTTP), and summary.py into the
API's `summary`. The same `ReportContent` always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
    # The programmes service's facts of the period and scope (its JSON: money as text);
    # None when that service did not answer, and `notes` says so.
    programmes: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()


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
    # What a disbursement paid for: a project's budget line, or a village's need (programmes).
    project_code: str | None = None
    budget_line: str | None = None
    need_id: int | None = None


@dataclass(frozen=True)
class OpeningBalance:
    """An account's balance at the start of the period (debit positive)."""

    fund_code: str
    account: str
    amount_fen: int


# What the ledger and the funds service answer for a report (sources.py fills these;
# checks.py and build.py use them).

# The hash a fund's chain starts from: the head of a fund without entries.
NO_ENTRIES_HASH = "0" * 64


@dataclass(frozen=True)
class FundHead:
    """A fund as the ledger held it when the heads were taken."""

    fund_code: str
    organization_id: int
    restricted: bool
    status: str
    seq: int
    hash: str
    balance_fen: int
    reserved_fen: int         # approved, unpaid disbursements
    available_fen: int

    @property
    def head(self) -> Head:
        return Head(self.fund_code, self.seq, self.hash)


@dataclass(frozen=True)
class Snapshot:
    """Every fund's head, taken in one moment: a report asks for everything up to these."""

    taken_at: dt.datetime
    funds: tuple[FundHead, ...]

    def fund(self, code: str) -> FundHead | None:
        return next((f for f in self.funds if f.fund_code == code), None)


@dataclass(frozen=True)
class Organization:
    """An organisation as the funds service describes it; its Charity Law kind sets its limits."""

    id: int
    name: str
    kind: str
    charity_kind: str | None                  # social_organization, foundation, or None
    management_cost_limit_percent: int | Decimal | None


@dataclass(frozen=True)
class LedgerFundFigures:
    """One fund's figures for a period as the ledger sums them, up to its head."""

    fund_code: str
    opening_fen: int
    donations_count: int
    donations_fen: int
    restricted_fen: int
    in_kind_fen: int
    reversals_count: int
    reversals_fen: int
    disbursements_count: int
    disbursements_fen: int
    disbursements_by_category: tuple[tuple[str, int], ...]   # (programme|management|fundraising, fen)
    closing_fen: int

    def category_fen(self, category: str) -> int:
        return sum(fen for name, fen in self.disbursements_by_category if name == category)


@dataclass(frozen=True)
class LargeDonation:
    fund_code: str
    receipt_no: str
    donor: str               # ANONYMOUS_NAME if anonymous
    donor_kind: str
    received_on: dt.date
    amount_fen: int
    status: str


@dataclass(frozen=True)
class SplitDonations:
    """Several donations of one donor, each just under the large-donation threshold, within days."""

    donor: str
    donor_kind: str
    fund_codes: tuple[str, ...]
    count: int
    total_fen: int
    first_on: dt.date
    last_on: dt.date
    receipts: tuple[str, ...]


@dataclass(frozen=True)
class DormantFund:
    fund_code: str
    last_entry_on: dt.date | None   # None: no entry ever (up to the head)
    since: dt.date                  # no entry dated after this day up to the period's end


@dataclass(frozen=True)
class ConcentratedPayee:
    fund_code: str
    payee: str
    count: int
    total_fen: int
    fund_total_fen: int             # everything the fund paid in the period


@dataclass(frozen=True)
class OrganizationIncome:
    """Donations less reversals dated in one calendar year, over the report's funds of one organisation."""

    organization_id: int
    year: int
    donations_fen: int
    reversals_fen: int

    @property
    def income_fen(self) -> int:
        return self.donations_fen - self.reversals_fen


@dataclass(frozen=True)
class PeriodFigures:
    """What the ledger says of a period, for the funds of the heads it was asked with."""

    first: dt.date
    last: dt.date
    funds: tuple[LedgerFundFigures, ...]
    months: tuple[MonthFlow, ...]
    donors: tuple[Donor, ...]                      # largest first
    late_entries: tuple[LateEntry, ...]            # the first ones, by fund and seq
    late_entries_count: int
    large_donations: tuple[LargeDonation, ...]
    split_donations: tuple[SplitDonations, ...]
    dormant_funds: tuple[DormantFund, ...]
    concentrated_payees: tuple[ConcentratedPayee, ...]
    previous_year_income: tuple[OrganizationIncome, ...]


@dataclass(frozen=True)
class UnbalancedEntry:
    entry_id: int
    fund_code: str | None
    seq: int | None
    sum_fen: int


@dataclass(frozen=True)
class TrialBalance:
    """Every posting of the whole ledger: debits (positive) and credits (negative, as positive)."""

    debits_fen: int
    credits_fen: int
    postings: int
    entries: int
    unbalanced: tuple[UnbalancedEntry, ...] = ()   # the first entries whose postings do not sum to zero
    unbalanced_count: int = 0


@dataclass(frozen=True)
class BalanceMismatch:
    """A stored balance that is not the sum of its postings (signed as balances: net assets credit)."""

    fund_code: str
    place: str               # fund_ledger (the fund's balance) or fund_day (its change on `day`)
    day: dt.date | None
    account: str
    stored_fen: int
    postings_fen: int


@dataclass(frozen=True)
class ChainState:
    """A fund's hash chain verified from its first entry up to its head, and the previous report's head."""

    fund_code: str
    head_seq: int | None                  # None: the fund is in the previous heads only
    head_hash: str | None
    valid: bool
    entries_verified: int
    first_bad_entry_id: int | None = None
    first_bad_seq: int | None = None
    problem: str | None = None            # the ledger's words (English)
    problem_code: str | None = None       # seq_gap, prev_hash, unbalanced, content, head, no_fund, other
    previous_seq: int | None = None
    previous_hash: str | None = None
    hash_now_at_previous: str | None = None   # the hash at previous_seq as the ledger holds it now


@dataclass(frozen=True)
class ReceiptYear:
    year: int
    count: int
    first: str | None
    last: str | None
    last_issued: str | None
    missing_count: int
    missing: tuple[str, ...]          # the first missing numbers
    duplicates: tuple[str, ...]


@dataclass(frozen=True)
class UnapprovedPayment:
    """A paid disbursement approved by its requester or by nobody."""

    disbursement_id: int
    fund_code: str
    amount_fen: int
    requested_by: str
    approved_by: str | None
    paid_on: dt.date | None


@dataclass(frozen=True)
class CheckInputs:
    trial_balance: TrialBalance
    funds_checked: int
    balance_mismatches: tuple[BalanceMismatch, ...]
    balance_mismatch_count: int
    chains: tuple[ChainState, ...]
    receipts: tuple[ReceiptYear, ...]
    paid_disbursements: int
    four_eyes_violations: tuple[UnapprovedPayment, ...]
    four_eyes_violation_count: int
