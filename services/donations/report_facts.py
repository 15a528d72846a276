"""What the ledger tells the reports service: one snapshot's facts, aggregated in SQL.

A report is built from a fund's *head* (its last entry's seq and hash) for every
fund in its scope, taken once (`heads`). Everything else is asked for up to
those heads, `seq <= head`, so the figures, the checks and the exported entries
describe one moment of the ledger and can be rebuilt later from the same heads:
entries are immutable and a fund's seq only grows.

Figures are aggregated in PostgreSQL. Balances and a period's net change come
from `fund_day` (a row per fund and day), less what the entries after the heads
added to it; the outflows (reversals, payments) are read one by one, and the
donations are what remains; so a quarter's figures cost about the same over a
million entries as over a thousand. Only the chain check walks every entry, in
Python (chain.verify_fund recomputes each hash), fed by one sorted, streamed
query; the same pass sums the postings the balances check holds against
`fund_day` and `fund_ledger`.

Money is integer fen here; report_api.py writes it as text.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.donations import chain
from services.donations.models import GENESIS_HASH, receipt_no
from services.donations.rules import ANONYMOUS_NAME, DISBURSEMENT_CATEGORIES

ACCOUNTS = ("bank", "in_kind", "unrestricted", "restricted")

LARGEST_DONORS = 20
# Anomaly rules the caller may tune (the reports service sends the thresholds it owns).
STRUCTURING_MIN_COUNT = 3
STRUCTURING_DAYS = 7
STRUCTURING_BAND_PERCENT = 10
DORMANT_MONTHS = 12
# At most this many late entries (and large donations), and of the rest (missing receipt numbers,
# mismatching balances, ...) this many, are listed; their counts are always whole.
LATE_ENTRIES_LISTED = 1000
LISTED = 50
CHAIN_BATCH = 10_000
WORK_MEM = "256MB"


@dataclass(frozen=True)
class Head:
    fund_code: str
    seq: int
    hash: str | None = None


@dataclass(frozen=True)
class Thresholds:
    large_donation_fen: int
    payee_share_percent: int
    structuring_min_count: int = STRUCTURING_MIN_COUNT
    structuring_days: int = STRUCTURING_DAYS
    structuring_band_percent: int = STRUCTURING_BAND_PERCENT
    dormant_months: int = DORMANT_MONTHS


class UnknownFunds(Exception):
    """Heads name funds the ledger has never held."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = list(codes)


def read_snapshot(session: Session) -> None:
    """Every statement of this request reads the same moment, and writes nothing.

    A report's statements each read much of the ledger once: hash joins and sorts get
    the memory to stay off disk, and no time goes to compiling them (JIT).
    """
    if not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    session.execute(text("SET TRANSACTION READ ONLY"))
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    session.execute(text("SET LOCAL jit = off"))


# -- heads ---------------------------------------------------------------------------------

def heads(session: Session) -> dict[str, Any]:
    """Every fund's head, balances and reservation, read in one statement."""
    rows = session.execute(text("""
        SELECT now() AS taken_at, f.code, f.organization_id, f.restricted, f.status, f.entry_count, f.chain_head,
               f.unrestricted_fen + f.restricted_fen AS balance_fen, f.reserved_fen
        FROM donations.fund_ledger f ORDER BY f.code
    """)).all()
    taken_at = rows[0].taken_at if rows else session.scalar(text("SELECT now()"))
    return {"taken_at": taken_at, "funds": [
        {"fund_code": r.code, "organization_id": r.organization_id, "restricted": r.restricted,
         "status": r.status, "seq": r.entry_count, "hash": r.chain_head, "balance_fen": r.balance_fen,
         "reserved_fen": r.reserved_fen, "available_fen": r.balance_fen - r.reserved_fen} for r in rows]}


# The funds of the heads, with their ids: every query starts from these.
HEADS_CTE = """heads AS (
    SELECT f.id AS fund_id, f.code, f.organization_id, f.restricted, h.seq
    FROM unnest(CAST(:head_codes AS text[]), CAST(:head_seqs AS integer[])) AS h(code, seq)
    JOIN donations.fund_ledger f ON f.code = h.code
)"""


# The entries after the heads: committed, so fund_day and the tables hold them, but not the
# report's. Few (those posted since the heads were taken), found along the index of (fund_id, seq).
TAIL_CTE = """tail AS MATERIALIZED (
    SELECT h.fund_id, t.id, t.kind, t.effective_on, t.source_id
    FROM heads h CROSS JOIN LATERAL (
        SELECT e.id, e.kind, e.effective_on, e.source_id FROM donations.journal_entry e
        WHERE e.fund_id = h.fund_id AND e.seq > h.seq OFFSET 0) t
)"""


def _head_params(heads_: Sequence[Head]) -> dict[str, Any]:
    return {"head_codes": [h.fund_code for h in heads_], "head_seqs": [h.seq for h in heads_]}


def known_funds(session: Session, codes: Iterable[str]) -> set[str]:
    wanted = sorted(set(codes))
    return set(session.scalars(text("SELECT code FROM donations.fund_ledger WHERE code = ANY(CAST(:codes AS text[]))"),
                               {"codes": wanted}))


def require_known(session: Session, heads_: Sequence[Head]) -> None:
    """A head with entries must name a fund of the ledger (one without entries may be any fund)."""
    with_entries = {h.fund_code for h in heads_ if h.seq > 0}
    unknown = sorted(with_entries - known_funds(session, with_entries))
    if unknown:
        raise UnknownFunds(unknown)


# -- balances at a date ------------------------------------------------------------------------

def balances_before(session: Session, heads_: Sequence[Head], day: dt.date) -> dict[str, dict[str, int]]:
    """Each fund's account balances at the end of the day before `day`, up to its head:
    {code: {account: fen}}, debit positive (net assets are credits, so negative).

    fund_day holds every entry committed; the entries after the heads are taken back out.
    """
    rows = session.execute(text(f"""
        WITH {HEADS_CTE}, {TAIL_CTE},
        days AS (
            SELECT d.fund_id, sum(d.bank_fen) AS bank, sum(d.in_kind_fen) AS in_kind,
                   -sum(d.unrestricted_fen) AS unrestricted, -sum(d.restricted_fen) AS restricted
            FROM heads h JOIN donations.fund_day d ON d.fund_id = h.fund_id AND d.day < :day
            GROUP BY d.fund_id
        ), since_heads AS (
            SELECT t.fund_id,
                   sum(p.amount_fen) FILTER (WHERE p.account = 'bank') AS bank,
                   sum(p.amount_fen) FILTER (WHERE p.account = 'in_kind') AS in_kind,
                   sum(p.amount_fen) FILTER (WHERE p.account = 'unrestricted') AS unrestricted,
                   sum(p.amount_fen) FILTER (WHERE p.account = 'restricted') AS restricted
            FROM tail t JOIN donations.posting p ON p.entry_id = t.id
            WHERE t.effective_on < :day
            GROUP BY t.fund_id
        )
        SELECT h.code,
               coalesce(d.bank, 0) - coalesce(s.bank, 0) AS bank,
               coalesce(d.in_kind, 0) - coalesce(s.in_kind, 0) AS in_kind,
               coalesce(d.unrestricted, 0) - coalesce(s.unrestricted, 0) AS unrestricted,
               coalesce(d.restricted, 0) - coalesce(s.restricted, 0) AS restricted
        FROM heads h LEFT JOIN days d ON d.fund_id = h.fund_id LEFT JOIN since_heads s ON s.fund_id = h.fund_id
    """), {**_head_params(heads_), "day": day}).all()
    balances = {h.fund_code: dict.fromkeys(ACCOUNTS, 0) for h in heads_}
    for row in rows:
        balances[row.code] = {account: int(getattr(row, account)) for account in ACCOUNTS}
    return balances


def net_assets(balances: dict[str, int]) -> int:
    """A fund's balance (its net assets, a credit) from debit-positive account balances."""
    return -(balances["unrestricted"] + balances["restricted"])


def openings(session: Session, heads_: Sequence[Head], day: dt.date) -> list[dict[str, Any]]:
    balances = balances_before(session, heads_, day)
    return [{"fund_code": code, "account": account, "amount_fen": amounts[account]}
            for code, amounts in sorted(balances.items()) for account in ACCOUNTS]


# -- a period's figures ---------------------------------------------------------------------------

def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (that month's last day if it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _who(name: str | None, anonymous: bool | None) -> str:
    return ANONYMOUS_NAME if anonymous else (name or "")


@dataclass
class Moves:
    """What moved a fund's net assets in a period, up to its head."""

    net_fen: int = 0                 # every entry's change: donations - reversals - payments
    in_kind_fen: int = 0             # the change of its goods (donated goods in, their reversals out)
    reversals_count: int = 0
    reversals_fen: int = 0
    reversed_goods_fen: int = 0      # of reversals_fen: goods
    disbursements_count: int = 0
    disbursements_fen: int = 0
    by_category: dict[str, int] | None = None

    @property
    def donations_fen(self) -> int:
        return self.net_fen + self.reversals_fen + self.disbursements_fen


def _month(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


def _moves(session: Session, heads_: Sequence[Head], first: dt.date,
           last: dt.date) -> tuple[dict[str, Moves], dict[str, dict[str, int]]]:
    """Each fund's moves in the period, and the scope's net change and outflow by month.

    The net change comes from fund_day (a row per fund and day), less the entries after the
    heads; the outflows (reversals and payments, few) are read one by one; donations are what
    remains. So the cost follows the number of funds, days and outflows, not of donations.
    """
    params = {**_head_params(heads_), "first": first, "last": last}
    moves = {h.fund_code: Moves(by_category=dict.fromkeys(DISBURSEMENT_CATEGORIES, 0)) for h in heads_}
    months: dict[str, dict[str, int]] = {}
    day = first.replace(day=1)
    while day <= last:
        months[_month(day)] = {"net_fen": 0, "outflow_fen": 0}
        day = (day + dt.timedelta(days=32)).replace(day=1)

    for row in session.execute(text(f"""
        WITH {HEADS_CTE}, {TAIL_CTE},
        days AS (
            SELECT d.fund_id, date_trunc('month', d.day)::date AS month,
                   sum(d.unrestricted_fen + d.restricted_fen) AS net, sum(d.in_kind_fen) AS in_kind
            FROM heads h JOIN donations.fund_day d ON d.fund_id = h.fund_id AND d.day BETWEEN :first AND :last
            GROUP BY 1, 2
        ), since_heads AS (
            SELECT t.fund_id, date_trunc('month', t.effective_on)::date AS month,
                   -coalesce(sum(p.amount_fen) FILTER (WHERE p.account IN ('unrestricted', 'restricted')), 0) AS net,
                   coalesce(sum(p.amount_fen) FILTER (WHERE p.account = 'in_kind'), 0) AS in_kind
            FROM tail t JOIN donations.posting p ON p.entry_id = t.id
            WHERE t.effective_on BETWEEN :first AND :last
            GROUP BY 1, 2
        )
        SELECT h.code, m.month, m.net, m.in_kind FROM heads h JOIN days m ON m.fund_id = h.fund_id
        UNION ALL
        SELECT h.code, x.month, -x.net, -x.in_kind FROM heads h JOIN since_heads x ON x.fund_id = h.fund_id
    """), params):
        fund, net = moves[row.code], int(row.net)
        fund.net_fen += net
        fund.in_kind_fen += int(row.in_kind)
        months[_month(row.month)]["net_fen"] += net
    # The reversals and payments dated in the period, up to the heads.
    for row in session.execute(text(f"""
        WITH {HEADS_CTE}, outflows AS (
            SELECT h.code, e.id, e.kind, e.effective_on, NULL::text AS category
            FROM heads h JOIN donations.journal_entry e ON e.fund_id = h.fund_id AND e.seq <= h.seq
                 AND e.kind = 'reversal' AND e.effective_on BETWEEN :first AND :last
            UNION ALL
            SELECT h.code, e.id, e.kind, e.effective_on, b.category
            FROM heads h JOIN donations.disbursement b ON b.fund_id = h.fund_id AND b.status = 'paid'
            JOIN donations.journal_entry e ON e.id = b.entry_id AND e.seq <= h.seq
                 AND e.effective_on BETWEEN :first AND :last
        )
        SELECT o.code, o.kind, o.category, date_trunc('month', o.effective_on)::date AS month,
               count(*) FILTER (WHERE p.line = 1) AS entries,
               coalesce(sum(p.amount_fen) FILTER (WHERE p.account IN ('unrestricted', 'restricted')), 0) AS outflow,
               -coalesce(sum(p.amount_fen) FILTER (WHERE p.account = 'in_kind'), 0) AS goods
        FROM outflows o JOIN donations.posting p ON p.entry_id = o.id
        GROUP BY 1, 2, 3, 4
    """), params):
        fund, outflow = moves[row.code], int(row.outflow)
        if row.kind == "reversal":
            fund.reversals_count += row.entries
            fund.reversals_fen += outflow
            fund.reversed_goods_fen += int(row.goods)
        else:
            fund.disbursements_count += row.entries
            fund.disbursements_fen += outflow
            assert fund.by_category is not None
            fund.by_category[row.category] = fund.by_category.get(row.category, 0) + outflow
        months[_month(row.month)]["outflow_fen"] += outflow
    return moves, months


def figures(session: Session, heads_: Sequence[Head], first: dt.date, last: dt.date,
            previous: Sequence[Head] | None, thresholds: Thresholds) -> dict[str, Any]:
    params = {**_head_params(heads_), "first": first, "last": last}
    opening = balances_before(session, heads_, first)
    moves, months = _moves(session, heads_, first, last)
    received = {r.code: r.n for r in session.execute(text(f"{PERIOD_DONATIONS} SELECT code, count(*) AS n "
                                                          "FROM gifts GROUP BY code"), params)}
    restricted_funds = {r.code: r.restricted for r in session.execute(text(
        "SELECT code, restricted FROM donations.fund_ledger WHERE code = ANY(CAST(:codes AS text[]))"),
        {"codes": [h.fund_code for h in heads_]})}
    funds = []
    for head in heads_:
        fund, opening_fen = moves[head.fund_code], net_assets(opening[head.fund_code])
        restricted = restricted_funds.get(head.fund_code, False)
        funds.append({
            "fund_code": head.fund_code, "opening_fen": opening_fen,
            "donations_count": received.get(head.fund_code, 0), "donations_total_fen": fund.donations_fen,
            "restricted_total_fen": fund.donations_fen if restricted else 0,
            "in_kind_total_fen": fund.in_kind_fen + fund.reversed_goods_fen,
            "reversals_count": fund.reversals_count, "reversals_total_fen": fund.reversals_fen,
            "disbursements_count": fund.disbursements_count, "disbursements_total_fen": fund.disbursements_fen,
            "disbursements_by_category_fen": fund.by_category,
            "closing_fen": opening_fen + fund.net_fen})
    return {
        "funds": funds,
        "months": [{"month": month, "inflow_fen": flow["net_fen"] + flow["outflow_fen"],
                    "outflow_fen": flow["outflow_fen"]} for month, flow in months.items()],
        "donors": _largest_donors(session, params),
        **_late_entries(session, heads_, first, previous),
        **_notable_donations(session, params, thresholds),
        "dormant_funds": _dormant_funds(session, heads_, last, thresholds),
        "concentrated_payees": _concentrated_payees(session, params, thresholds),
        "income": _previous_year_income(session, heads_, last.year - 1),
    }


# The donations of the heads' funds received in the period, but for those after the heads.
PERIOD_DONATIONS = f"""WITH {HEADS_CTE}, {TAIL_CTE}, gifts AS (
    SELECT h.code, d.*
    FROM heads h JOIN donations.donation d ON d.fund_id = h.fund_id AND d.received_on BETWEEN :first AND :last
    WHERE d.id NOT IN (SELECT t.source_id FROM tail t WHERE t.kind = 'donation')
)"""


def _largest_donors(session: Session, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The donors who gave most in the period; an anonymous donor's name stays here."""
    rows = session.execute(text(f"""
        {PERIOD_DONATIONS}
        SELECT donor_name, donor_kind, donor_anonymous, count(*) AS n, sum(amount_fen) AS total
        FROM gifts GROUP BY donor_name, donor_kind, donor_anonymous
        ORDER BY total DESC, n DESC, donor_anonymous, donor_name, donor_kind LIMIT :limit
    """), {**params, "limit": LARGEST_DONORS}).all()
    return [{"name": _who(r.donor_name, r.donor_anonymous), "kind": r.donor_kind, "count": r.n,
             "total_fen": int(r.total)} for r in rows]


def _notable_donations(session: Session, params: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """Donations above the large-donation threshold, and several of one donor just under it
    within a few days (a large gift split to stay under it). Only donations from the band
    under the threshold up are read: few."""
    limit = thresholds.large_donation_fen
    rows = session.execute(text(f"""
        {PERIOD_DONATIONS}
        SELECT code, receipt_year, receipt_seq, donor_name, donor_kind, donor_anonymous, received_on, amount_fen,
               status
        FROM gifts WHERE amount_fen * 100 >= CAST(:limit AS bigint) * (100 - CAST(:band AS bigint))
        ORDER BY donor_name, donor_kind, donor_anonymous, received_on, receipt_year, receipt_seq
    """), {**params, "limit": limit, "band": thresholds.structuring_band_percent}).all()
    large = sorted((r for r in rows if r.amount_fen > limit),
                   key=lambda r: (-r.amount_fen, r.receipt_year, r.receipt_seq))
    return {
        "large_donations": [
            {"fund_code": r.code, "receipt_no": receipt_no(r.receipt_year, r.receipt_seq),
             "donor": _who(r.donor_name, r.donor_anonymous), "donor_kind": r.donor_kind,
             "received_on": r.received_on, "amount_fen": r.amount_fen, "status": r.status}
            for r in large[:LATE_ENTRIES_LISTED]],
        "structuring": _split_gifts([r for r in rows if r.amount_fen <= limit], thresholds)}


def _split_gifts(band: list[Any], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Runs of at least `structuring_min_count` gifts of one donor within `structuring_days`
    days, from gifts ordered by donor and date."""
    clusters = []
    window = dt.timedelta(days=thresholds.structuring_days - 1)
    for _, same_donor in itertools.groupby(band, key=lambda r: (r.donor_name, r.donor_kind, r.donor_anonymous)):
        gifts = list(same_donor)
        start = 0
        while start < len(gifts):
            end = start
            while end + 1 < len(gifts) and gifts[end + 1].received_on - gifts[start].received_on <= window:
                end += 1
            if end - start + 1 >= thresholds.structuring_min_count:
                group = gifts[start:end + 1]
                clusters.append({
                    "donor": _who(group[0].donor_name, group[0].donor_anonymous),
                    "donor_kind": group[0].donor_kind,
                    "fund_codes": sorted({g.code for g in group}), "count": len(group),
                    "total_fen": sum(g.amount_fen for g in group),
                    "first_on": group[0].received_on, "last_on": group[-1].received_on,
                    "receipts": [receipt_no(g.receipt_year, g.receipt_seq) for g in group]})
                start = end + 1
            else:
                start += 1
    return clusters


def _dormant_funds(session: Session, heads_: Sequence[Head], last: dt.date,
                   thresholds: Thresholds) -> list[dict[str, Any]]:
    """Funds with no entry dated in the `dormant_months` months up to `last`."""
    since = _months_before(last, thresholds.dormant_months)
    rows = session.execute(text(f"""
        WITH {HEADS_CTE}
        SELECT h.code, latest.effective_on
        FROM heads h
        LEFT JOIN LATERAL (SELECT e.effective_on FROM donations.journal_entry e
                           WHERE e.fund_id = h.fund_id AND e.seq <= h.seq AND e.effective_on <= :last
                           ORDER BY e.effective_on DESC LIMIT 1) latest ON true
    """), {**_head_params(heads_), "last": last}).all()
    latest = {r.code: r.effective_on for r in rows}
    return [{"fund_code": h.fund_code, "last_entry_on": latest.get(h.fund_code), "since": since}
            for h in heads_ if latest.get(h.fund_code) is None or latest[h.fund_code] <= since]


# The heads' funds' payments dated in the period, up to the heads.
PERIOD_PAYMENTS = f"""WITH {HEADS_CTE}, payments AS (
    SELECT h.code, b.*
    FROM heads h JOIN donations.disbursement b ON b.fund_id = h.fund_id AND b.status = 'paid'
    JOIN donations.journal_entry e ON e.id = b.entry_id AND e.seq <= h.seq
    WHERE e.effective_on BETWEEN :first AND :last
)"""


def _concentrated_payees(session: Session, params: dict[str, Any], thresholds: Thresholds) -> list[dict[str, Any]]:
    rows = session.execute(text(f"""
        {PERIOD_PAYMENTS}, paid AS (
            SELECT code, payee, sum(amount_fen) AS total, count(*) AS n FROM payments GROUP BY code, payee
        ), shares AS (
            SELECT paid.*, sum(total) OVER (PARTITION BY code) AS fund_total FROM paid
        )
        SELECT * FROM shares WHERE total * 100 > fund_total * :percent ORDER BY code, total DESC, payee
    """), {**params, "percent": thresholds.payee_share_percent}).all()
    return [{"fund_code": r.code, "payee": r.payee, "count": r.n, "total_fen": int(r.total),
             "fund_total_fen": int(r.fund_total)} for r in rows]


def _previous_year_income(session: Session, heads_: Sequence[Head], year: int) -> list[dict[str, Any]]:
    """Each organisation's donations less reversals dated in `year`, over the heads' funds."""
    moves, _ = _moves(session, heads_, dt.date(year, 1, 1), dt.date(year, 12, 31))
    organizations = {r.code: r.organization_id for r in session.execute(text(
        "SELECT code, organization_id FROM donations.fund_ledger WHERE code = ANY(CAST(:codes AS text[]))"),
        {"codes": [h.fund_code for h in heads_]})}
    income: dict[int, dict[str, Any]] = {}
    for code, organization_id in sorted(organizations.items()):
        entry = income.setdefault(organization_id, {"organization_id": organization_id, "year": year,
                                                    "donations_fen": 0, "reversals_fen": 0, "income_fen": 0})
        entry["donations_fen"] += moves[code].donations_fen
        entry["reversals_fen"] += moves[code].reversals_fen
        entry["income_fen"] += moves[code].donations_fen - moves[code].reversals_fen
    return [income[org] for org in sorted(income)]


# -- late entries and entries -----------------------------------------------------------------------

ENTRY_SOURCES = """
    LEFT JOIN donations.donation d ON e.kind IN ('donation', 'reversal') AND d.id = e.source_id
    LEFT JOIN donations.disbursement b ON e.kind = 'disbursement' AND b.id = e.source_id
"""
ENTRY_SOURCE_COLUMNS = """d.receipt_year, d.receipt_seq, d.donor_name, d.donor_anonymous, d.purpose AS gift_purpose,
    d.reversal_reason, b.id AS disbursement_id, b.payee, b.purpose AS payment_purpose"""


def _reference(row: Any) -> str:
    if row.kind == "disbursement":
        return f"D{row.disbursement_id}" if row.disbursement_id is not None else ""
    return receipt_no(row.receipt_year, row.receipt_seq) if row.receipt_year is not None else ""


def _description(row: Any) -> str:
    def joined(who: str, what: str | None) -> str:
        return f"{who}：{what}" if what else who

    if row.kind == "disbursement":
        return joined(row.payee or "", row.payment_purpose)
    donor = _who(row.donor_name, row.donor_anonymous)
    if row.kind == "reversal":
        return joined(f"冲销 {donor}", row.reversal_reason)
    return joined(donor, row.gift_purpose)


def _late_entries(session: Session, heads_: Sequence[Head], first: dt.date,
                  previous: Sequence[Head] | None) -> dict[str, Any]:
    """Entries posted since the previous report's heads whose business date lies before
    the period: the previous report did not see them, and this one's opening includes them."""
    if previous is None:
        return {"late_entries": [], "late_entries_count": 0}
    params = {**_head_params(heads_), "first": first, "limit": LATE_ENTRIES_LISTED,
              "previous_codes": [h.fund_code for h in previous], "previous_seqs": [h.seq for h in previous]}
    late = f"""
        WITH {HEADS_CTE}, previous AS (
            SELECT code, max(seq) AS seq
            FROM unnest(CAST(:previous_codes AS text[]), CAST(:previous_seqs AS integer[])) AS p(code, seq)
            GROUP BY code
        ), late AS (
            SELECT h.code, e.*
            FROM heads h LEFT JOIN previous pv ON pv.code = h.code
            CROSS JOIN LATERAL (SELECT * FROM donations.journal_entry e
                                WHERE e.fund_id = h.fund_id AND e.seq > coalesce(pv.seq, 0) AND e.seq <= h.seq
                                  AND e.effective_on < :first OFFSET 0) e
        )"""
    count = session.scalar(text(f"{late} SELECT count(*) FROM late"), params)
    rows = session.execute(text(f"""
        {late}
        SELECT e.code, e.seq, e.kind, e.effective_on, e.posted_at, {ENTRY_SOURCE_COLUMNS},
               (SELECT -sum(p.amount_fen) FROM donations.posting p
                WHERE p.entry_id = e.id AND p.account IN ('unrestricted', 'restricted')) AS net
        FROM late e {ENTRY_SOURCES}
        ORDER BY e.code, e.seq LIMIT :limit
    """), params).all()
    return {"late_entries_count": count, "late_entries": [
        {"fund_code": r.code, "seq": r.seq, "kind": r.kind, "effective_on": r.effective_on,
         "posted_at": r.posted_at, "amount_fen": abs(int(r.net or 0)),
         "direction": "in" if (r.net or 0) >= 0 else "out", "reference": _reference(r),
         "description": _description(r)} for r in rows]}


def entries(session: Session, heads_: Sequence[Head], first: dt.date, last: dt.date,
            after: tuple[str, int] | None, limit: int) -> dict[str, Any]:
    """A page of the heads' funds' entries dated in the period, in (fund code, date, seq) order.

    The cursor is the last entry's (fund code, seq); its date is looked up, so the page
    after it is read by the index on (fund_id, effective_on, seq), fund by fund.
    """
    funds = {r.code: r.id for r in session.execute(text(
        "SELECT id, code FROM donations.fund_ledger WHERE code = ANY(CAST(:codes AS text[]))"),
        {"codes": [h.fund_code for h in heads_]})}
    pending = sorted((h for h in heads_ if h.fund_code in funds and h.seq > 0), key=lambda h: h.fund_code)
    start: tuple[dt.date, int] | None = None
    if after is not None:
        pending = [h for h in pending if h.fund_code >= after[0]]
        if pending and pending[0].fund_code == after[0]:
            day = session.scalar(text("SELECT effective_on FROM donations.journal_entry "
                                      "WHERE fund_id = :fund AND seq = :seq"),
                                 {"fund": funds[after[0]], "seq": after[1]})
            if day is None:
                pending = pending[1:]  # the cursor names no entry: that fund is done
            else:
                start = (day, after[1])
    rows: list[Any] = []
    for head in pending:
        if len(rows) > limit:
            break
        fund_start = start if head.fund_code == (after[0] if after else None) else None
        rows.extend(session.execute(text(f"""
            SELECT :code AS code, e.id, e.seq, e.kind, e.effective_on, e.posted_at, {ENTRY_SOURCE_COLUMNS},
                   b.category, b.project_code, b.budget_line, b.need_id
            FROM donations.journal_entry e {ENTRY_SOURCES}
            WHERE e.fund_id = :fund AND e.seq <= :head AND e.effective_on BETWEEN :first AND :last
              AND (CAST(:after_day AS date) IS NULL OR (e.effective_on, e.seq) > (:after_day, :after_seq))
            ORDER BY e.effective_on, e.seq LIMIT :limit
        """), {"code": head.fund_code, "fund": funds[head.fund_code], "head": head.seq, "first": first,
               "last": last, "after_day": fund_start[0] if fund_start else None,
               "after_seq": fund_start[1] if fund_start else 0, "limit": limit + 1 - len(rows)}).all())
    more = len(rows) > limit
    rows = rows[:limit]
    postings: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
    if rows:
        for entry_id, account, amount in session.execute(text(
                "SELECT entry_id, account, amount_fen FROM donations.posting "
                "WHERE entry_id = ANY(CAST(:ids AS bigint[])) ORDER BY entry_id, line"),
                {"ids": list(postings)}):
            postings[entry_id].append({"account": account, "amount_fen": amount})
    page = [{"fund_code": r.code, "seq": r.seq, "kind": r.kind, "effective_on": r.effective_on,
             "posted_at": r.posted_at, "reference": _reference(r), "description": _description(r),
             "category": r.category if r.kind == "disbursement" else None, "postings": postings[r.id],
             # What the disbursement paid for: a project's budget line, or a need (None otherwise).
             "project_code": r.project_code, "budget_line": r.budget_line, "need_id": r.need_id}
            for r in rows]
    following = {"fund_code": rows[-1].code, "seq": rows[-1].seq} if more else None
    return {"entries": page, "next": following}


# -- the checks' inputs ---------------------------------------------------------------------------

def trial_balance(session: Session) -> dict[str, Any]:
    """The whole ledger's debit and credit postings; any entry that does not balance, named."""
    row = session.execute(text("""
        SELECT coalesce(sum(amount_fen) FILTER (WHERE amount_fen > 0), 0) AS debits,
               coalesce(-sum(amount_fen) FILTER (WHERE amount_fen < 0), 0) AS credits,
               count(*) AS postings
        FROM donations.posting
    """)).one()
    entries_count = session.scalar(text("SELECT count(*) FROM donations.journal_entry"))
    unbalanced: list[dict[str, Any]] = []
    unbalanced_count = 0
    if row.debits != row.credits:
        # Only then is every entry summed: a balanced ledger needs no search.
        found = session.execute(text("""
            WITH sums AS (SELECT entry_id, sum(amount_fen) AS total FROM donations.posting GROUP BY entry_id
                          HAVING sum(amount_fen) <> 0)
            SELECT s.entry_id, s.total, f.code, e.seq, count(*) OVER () AS n
            FROM sums s LEFT JOIN donations.journal_entry e ON e.id = s.entry_id
            LEFT JOIN donations.fund_ledger f ON f.id = e.fund_id
            ORDER BY s.entry_id LIMIT :limit
        """), {"limit": LISTED}).all()
        unbalanced_count = found[0].n if found else 0
        unbalanced = [{"entry_id": r.entry_id, "fund_code": r.code, "seq": r.seq, "sum_fen": int(r.total)}
                      for r in found]
    return {"debits_fen": int(row.debits), "credits_fen": int(row.credits), "postings": row.postings,
            "entries": entries_count, "unbalanced": unbalanced, "unbalanced_count": unbalanced_count}


# Balances as the ledger stores them: assets debit, net assets credit (a posting's sign reversed).
BALANCE_SIGNS = {"bank": 1, "in_kind": 1, "unrestricted": -1, "restricted": -1}
ACCOUNT_PLACES = {account: place for place, account in enumerate(ACCOUNTS)}


class PostingSums:
    """Postings summed by fund and day, signed as balances: what fund_day and fund_ledger must hold.

    Filled while the chains are walked (which read every entry and its postings anyway), then
    with the entries after the heads, so that the balances need no second pass over the ledger.
    """

    def __init__(self) -> None:
        self.days: dict[tuple[str, dt.date], list[int]] = {}

    def add(self, code: str, day: dt.date, account: str, amount: int) -> None:
        sums = self.days.get((code, day))
        if sums is None:
            sums = self.days[(code, day)] = [0, 0, 0, 0]
        sums[ACCOUNT_PLACES[account]] += BALANCE_SIGNS[account] * amount

    def counted(self, rows: Iterable[ChainRow]) -> Iterator[ChainRow]:
        for row in rows:
            for account, amount in zip(row.accounts or (), row.amounts or (), strict=True):
                self.add(row.code, row.effective_on, account, amount)
            yield row


def balance_mismatches(session: Session, heads_: Sequence[Head], sums: PostingSums) -> dict[str, Any]:
    """The heads' funds' stored balances (fund_ledger, and fund_day by day) against the sums of
    their postings, over everything committed (stored balances include entries after the heads).
    `sums` holds the postings up to the heads; the entries after them are added here."""
    params = _head_params(heads_)
    for row in session.execute(text(f"""
        WITH {HEADS_CTE}, {TAIL_CTE}
        SELECT h.code, t.effective_on, p.account, sum(p.amount_fen) AS total
        FROM heads h JOIN tail t ON t.fund_id = h.fund_id JOIN donations.posting p ON p.entry_id = t.id
        GROUP BY h.code, t.effective_on, p.account
    """), params):
        sums.add(row.code, row.effective_on, row.account, int(row.total))
    stored_days = {(r.code, r.day): [r.bank_fen, r.in_kind_fen, r.unrestricted_fen, r.restricted_fen]
                   for r in session.execute(text(f"""
                       WITH {HEADS_CTE}
                       SELECT h.code, d.day, d.bank_fen, d.in_kind_fen, d.unrestricted_fen, d.restricted_fen
                       FROM heads h JOIN donations.fund_day d ON d.fund_id = h.fund_id"""), params)}
    stored_funds = {r.code: [r.bank_fen, r.in_kind_fen, r.unrestricted_fen, r.restricted_fen]
                    for r in session.execute(text(f"""
                        WITH {HEADS_CTE}
                        SELECT h.code, f.bank_fen, f.in_kind_fen, f.unrestricted_fen, f.restricted_fen
                        FROM heads h JOIN donations.fund_ledger f ON f.id = h.fund_id"""), params)}
    zero = [0, 0, 0, 0]
    mismatches = []
    totals = {code: [0, 0, 0, 0] for code in stored_funds}
    for code, day in sorted(stored_days.keys() | sums.days.keys()):
        stored, summed = stored_days.get((code, day), zero), sums.days.get((code, day), zero)
        totals[code] = [t + v for t, v in zip(totals[code], summed, strict=True)]
        mismatches.extend({"fund_code": code, "place": "fund_day", "day": day, "account": account,
                           "stored_fen": stored[place], "postings_fen": summed[place]}
                          for account, place in ACCOUNT_PLACES.items() if stored[place] != summed[place])
    for code in sorted(stored_funds):
        stored, summed = stored_funds[code], totals[code]
        mismatches.extend({"fund_code": code, "place": "fund_ledger", "day": None, "account": account,
                           "stored_fen": stored[place], "postings_fen": summed[place]}
                          for account, place in ACCOUNT_PLACES.items() if stored[place] != summed[place])
    mismatches.sort(key=lambda m: (m["fund_code"], m["place"] != "fund_ledger", m["day"] or dt.date.min))
    return {"funds_checked": len(stored_funds), "mismatches": mismatches[:LISTED], "mismatch_count": len(mismatches)}


# The heads' funds' entries up to their heads, by fund and seq, each with its postings and its
# source document's columns. One statement: the tables are read in bulk, joined and sorted once,
# which costs far less than following the index of each fund's entries (a page read per entry).
CHAIN_ROWS = f"""
    WITH {HEADS_CTE},
    entries AS (
        SELECT h.code, e.* FROM heads h JOIN donations.journal_entry e ON e.fund_id = h.fund_id AND e.seq <= h.seq
    ), postings AS (
        SELECT p.entry_id, array_agg(p.account ORDER BY p.line) AS accounts,
               array_agg(p.amount_fen ORDER BY p.line) AS amounts
        FROM donations.posting p WHERE p.fund_id IN (SELECT fund_id FROM heads)
        GROUP BY p.entry_id
    )
    SELECT e.code, e.id, e.seq, e.kind, e.effective_on, e.posted_at, e.source_id, e.actor, e.prev_hash, e.hash,
           p.accounts, p.amounts,
           d.id AS donation_id, d.receipt_year, d.receipt_seq, d.amount_fen AS gift_fen, d.donor_name, d.donor_kind,
           d.donor_anonymous, d.received_on, d.channel, d.purpose AS gift_purpose, d.reference,
           d.reversal_reason, d.goods_item, d.goods_quantity, d.goods_unit, d.goods_unit_price_fen,
           b.id AS disbursement_id, b.amount_fen AS payment_fen, b.payee, b.purpose AS payment_purpose, b.project,
           b.paid_on, b.bank_reference, b.requested_by, b.approved_by, b.category, b.project_code, b.budget_line,
           b.need_id
    FROM entries e
    LEFT JOIN postings p ON p.entry_id = e.id
    {ENTRY_SOURCES}
    ORDER BY e.code, e.seq
"""
ChainRow = namedtuple("ChainRow", "code id seq kind effective_on posted_at source_id actor prev_hash hash accounts "
                                  "amounts donation_id receipt_year receipt_seq gift_fen donor_name donor_kind "
                                  "donor_anonymous received_on channel gift_purpose reference reversal_reason goods_item "
                                  "goods_quantity goods_unit goods_unit_price_fen "
                                  "disbursement_id payment_fen payee payment_purpose project paid_on bank_reference "
                                  "requested_by approved_by category project_code budget_line need_id")


def _chain_rows(session: Session, heads_: Sequence[Head]) -> Iterator[ChainRow]:
    """CHAIN_ROWS streamed through a server-side cursor, in this request's snapshot."""
    connection = session.connection().connection.driver_connection
    sql = re.sub(r":(head_codes|head_seqs)\b", r"%(\1)s", CHAIN_ROWS)
    with connection.cursor(name="report_chain_rows", binary=True) as cursor:
        cursor.execute(sql, _head_params(heads_))
        while batch := cursor.fetchmany(CHAIN_BATCH):
            yield from map(ChainRow._make, batch)


def _document(row: ChainRow) -> str:
    """The entry's source document as chain.py writes it; a missing source reads as empty
    (as reads._document does), so that the entry then fails its hash."""
    if row.kind == "donation" and row.donation_id is not None:
        return chain.donation_document(
            receipt_no=receipt_no(row.receipt_year, row.receipt_seq), amount_fen=row.gift_fen,
            donor_name=row.donor_name, donor_kind=row.donor_kind, donor_anonymous=row.donor_anonymous,
            received_on=row.received_on, channel=row.channel, purpose=row.gift_purpose, reference=row.reference,
            goods_item=row.goods_item, goods_quantity=row.goods_quantity, goods_unit=row.goods_unit,
            goods_unit_price_fen=row.goods_unit_price_fen)
    if row.kind == "reversal" and row.donation_id is not None:
        return chain.reversal_document(donation_id=row.donation_id,
                                       receipt_no=receipt_no(row.receipt_year, row.receipt_seq),
                                       reason=row.reversal_reason or "")
    if row.kind == "disbursement" and row.disbursement_id is not None:
        return chain.disbursement_document(
            disbursement_id=row.disbursement_id, amount_fen=row.payment_fen, payee=row.payee,
            purpose=row.payment_purpose, project=row.project, paid_on=row.paid_on or row.effective_on,
            bank_reference=row.bank_reference or "", requested_by=row.requested_by,
            approved_by=row.approved_by or "", category=row.category, project_code=row.project_code,
            budget_line=row.budget_line, need_id=row.need_id)
    return ""


def _chain_entries(rows: Iterable[ChainRow]) -> Iterator[chain.ChainEntry]:
    for row in rows:
        yield chain.ChainEntry(row.id, row.seq, row.kind, row.effective_on, row.posted_at, row.source_id, row.actor,
                               row.prev_hash, row.hash, _document(row),
                               list(zip(row.accounts or (), row.amounts or (), strict=True)))


NO_SUCH_FUND = "the ledger has no such fund"
# chain.verify_fund's problems, by how they begin, as codes a reader can word in its language.
PROBLEM_CODES = (("entry seq", "seq_gap"), ("prev_hash", "prev_hash"), ("postings do not sum", "unbalanced"),
                 ("content does not match", "content"), ("the fund's head", "head"), (NO_SUCH_FUND, "no_fund"))


def problem_code(verdict: chain.ChainVerdict) -> str | None:
    if verdict.valid:
        return None
    problem = verdict.problem or ""
    return next((code for start, code in PROBLEM_CODES if problem.startswith(start)), "other")


def chains(session: Session, heads_: Sequence[Head], previous: Sequence[Head] | None,
           sums: PostingSums | None = None) -> list[dict[str, Any]]:
    """Each head's fund's chain, verified from its first entry to the head; a previous
    report's head is looked up as its entry stands now. Every entry read is added to `sums`."""
    sums = sums if sums is not None else PostingSums()
    known = known_funds(session, (h.fund_code for h in heads_))
    wanted = {h.fund_code: h for h in heads_ if h.fund_code in known}
    verdicts: dict[str, chain.ChainVerdict] = {}
    with_entries = [h for h in wanted.values() if h.seq > 0]
    if with_entries:
        for code, rows in itertools.groupby(_chain_rows(session, with_entries), key=lambda r: r.code):
            head = wanted[code]
            counted = sums.counted(rows)
            verdicts[code] = chain.verify_fund(code, head.hash or "", head.seq, GENESIS_HASH,
                                               _chain_entries(counted))
            for _ in counted:  # verify_fund stops at the first bad entry; the sums take every one
                pass
    for code, head in wanted.items():
        if code not in verdicts:  # no entries up to the head (or they are gone)
            verdicts[code] = chain.verify_fund(code, head.hash or "", head.seq, GENESIS_HASH, ())

    now_at_previous: dict[str, str | None] = {}
    if previous:
        for row in session.execute(text("""
            SELECT p.code, e.hash
            FROM unnest(CAST(:codes AS text[]), CAST(:seqs AS integer[])) AS p(code, seq)
            LEFT JOIN donations.fund_ledger f ON f.code = p.code
            LEFT JOIN donations.journal_entry e ON e.fund_id = f.id AND e.seq = p.seq
        """), {"codes": [h.fund_code for h in previous], "seqs": [h.seq for h in previous]}):
            now_at_previous[row.code] = row.hash
    previous_by_code = {h.fund_code: h for h in previous or ()}

    answers = []
    for head in heads_:
        verdict = verdicts.get(head.fund_code)
        if verdict is None and head.seq > 0:
            verdict = chain.ChainVerdict(head.fund_code, 0, GENESIS_HASH, False, None, None, NO_SUCH_FUND)
        elif verdict is None:  # no entries up to the head
            verdict = chain.ChainVerdict(head.fund_code, 0, GENESIS_HASH, head.hash in (None, GENESIS_HASH))
        before = previous_by_code.get(head.fund_code)
        answer: dict[str, Any] = {
            "fund_code": head.fund_code, "head_seq": head.seq, "head_hash": head.hash,
            "valid": verdict.valid, "entries_verified": verdict.entries,
            "first_bad_entry_id": verdict.first_bad_entry_id, "first_bad_seq": verdict.first_bad_seq,
            "problem": verdict.problem, "problem_code": problem_code(verdict), "previous": None}
        if before is not None:
            answer["previous"] = {"seq": before.seq, "hash": before.hash,
                                  "hash_now": GENESIS_HASH if before.seq == 0
                                  else now_at_previous.get(head.fund_code)}
        answers.append(answer)
    # A fund the previous report had but these heads do not: its head is compared all the same.
    for code, before in previous_by_code.items():
        if code not in {h.fund_code for h in heads_}:
            answers.append({"fund_code": code, "head_seq": None, "head_hash": None, "valid": True,
                            "entries_verified": 0, "first_bad_entry_id": None, "first_bad_seq": None,
                            "problem": None, "problem_code": None,
                            "previous": {"seq": before.seq, "hash": before.hash,
                                         "hash_now": GENESIS_HASH if before.seq == 0 else now_at_previous.get(code)}})
    return answers


def receipts(session: Session) -> list[dict[str, Any]]:
    """Each year's receipt numbers: how many, the first and last, the missing (from 1 to the
    last issued) and the repeated. Read along the unique index of (year, seq)."""
    years = {r.receipt_year: {"year": r.receipt_year, "count": r.n, "first_seq": r.first, "last_seq": r.last,
                              "issued_seq": r.last}
             for r in session.execute(text("""
                 SELECT receipt_year, count(*) AS n, min(receipt_seq) AS first, max(receipt_seq) AS last
                 FROM donations.donation GROUP BY receipt_year"""))}
    # The counter knows the last number issued, so a number missing at the end shows too.
    for year, last in session.execute(text("SELECT year, last_seq FROM donations.receipt_counter")):
        entry = years.setdefault(year, {"year": year, "count": 0, "first_seq": None, "last_seq": None,
                                        "issued_seq": last})
        entry["issued_seq"] = max(last, entry["last_seq"] or 0)
    breaks = session.execute(text("""
        SELECT receipt_year, previous, receipt_seq FROM (
            SELECT receipt_year, receipt_seq,
                   lag(receipt_seq, 1, 0) OVER (PARTITION BY receipt_year ORDER BY receipt_seq) AS previous
            FROM donations.donation) s
        WHERE receipt_seq - previous <> 1
        ORDER BY receipt_year, receipt_seq
    """)).all()
    missing: dict[int, list[tuple[int, int]]] = {}
    repeated: dict[int, list[int]] = {}
    for year, before, seq in breaks:
        if seq == before:
            repeated.setdefault(year, []).append(seq)
        else:
            missing.setdefault(year, []).append((before + 1, seq - 1))
    answers = []
    for year in sorted(years):
        entry = years[year]
        gaps = missing.get(year, [])
        if entry["issued_seq"] > (entry["last_seq"] or 0):
            gaps = [*gaps, ((entry["last_seq"] or 0) + 1, entry["issued_seq"])]
        listed = [receipt_no(year, n) for low, high in gaps for n in range(low, min(high, low + LISTED) + 1)][:LISTED]
        answers.append({
            "year": year, "count": entry["count"],
            "first": receipt_no(year, entry["first_seq"]) if entry["first_seq"] else None,
            "last": receipt_no(year, entry["last_seq"]) if entry["last_seq"] else None,
            "last_issued": receipt_no(year, entry["issued_seq"]) if entry["issued_seq"] else None,
            "missing_count": sum(high - low + 1 for low, high in gaps), "missing": listed,
            "duplicates": [receipt_no(year, n) for n in sorted(set(repeated.get(year, [])))][:LISTED]})
    return answers


def four_eyes(session: Session, heads_: Sequence[Head]) -> dict[str, Any]:
    """The heads' funds' paid disbursements (up to the heads), and those nobody else approved."""
    paid = f"""
        WITH {HEADS_CTE}, paid AS (
            SELECT h.code, b.*
            FROM heads h JOIN donations.disbursement b ON b.fund_id = h.fund_id AND b.status = 'paid'
            JOIN donations.journal_entry e ON e.id = b.entry_id AND e.seq <= h.seq
        )"""
    params = {**_head_params(heads_), "limit": LISTED}
    count = session.scalar(text(f"{paid} SELECT count(*) FROM paid"), params)
    rows = session.execute(text(f"""
        {paid}
        SELECT code, id, amount_fen, requested_by, approved_by, paid_on, count(*) OVER () AS n
        FROM paid WHERE approved_by IS NULL OR approved_by = requested_by
        ORDER BY id LIMIT :limit
    """), params).all()
    return {"paid": count, "violation_count": rows[0].n if rows else 0, "violations": [
        {"id": r.id, "fund_code": r.code, "amount_fen": r.amount_fen, "requested_by": r.requested_by,
         "approved_by": r.approved_by, "paid_on": r.paid_on} for r in rows]}


def checks(session: Session, heads_: Sequence[Head], previous: Sequence[Head] | None) -> dict[str, Any]:
    sums = PostingSums()
    chain_states = chains(session, heads_, previous, sums)  # fills `sums` on the way
    return {"trial_balance": trial_balance(session), "balances": balance_mismatches(session, heads_, sums),
            "chains": chain_states, "receipts": receipts(session), "four_eyes": four_eyes(session, heads_)}
