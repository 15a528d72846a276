"""Where a report's facts come from: the other services' internal APIs, and nothing else.

The only module of the reports service that knows those URLs. It turns their
JSON into the plain data of facts.py (money as integer fen), so that checks.py,
build.py, the exports and the renderers never see HTTP.

The ledger is asked for its heads first (`heads`); every later question names
heads, and the ledger answers up to them, so one report reads one moment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from services.reports import facts
from shared.errors import Problem
from shared.peers import Peers

# A report's questions can take a while over a large ledger (the chain check reads every entry).
LEDGER_TIMEOUT_SECONDS = 600.0
FUNDS_TIMEOUT_SECONDS = 30.0
PROGRAMMES_TIMEOUT_SECONDS = 60.0
ENTRIES_PAGE = 2000
_SIGNED_AMOUNT = re.compile(r"(-?)(0|[1-9][0-9]*)\.([0-9]{2})")


def fen(text: str | None) -> int:
    """The ledger's "1280.00" or "-1280.00" as integer fen (totals may exceed any one amount)."""
    match = _SIGNED_AMOUNT.fullmatch(text or "")
    if match is None:
        raise ValueError(f"not an amount: {text!r}")
    value = int(match.group(2)) * 100 + int(match.group(3))
    return -value if match.group(1) else value


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _heads_json(heads: Sequence[facts.Head]) -> list[dict[str, Any]]:
    return [{"fund_code": h.fund_code, "seq": h.seq, "hash": h.hash} for h in heads]


class Sources:
    """The donations ledger's and the funds service's word, for one report or export."""

    def __init__(self, peers: Peers, *, page_size: int = ENTRIES_PAGE) -> None:
        self.peers = peers
        self.page_size = page_size

    # -- plumbing -----------------------------------------------------------------------------

    def _ledger(self, path: str, body: Mapping[str, Any]) -> Any:
        answer = self.peers.answer("donations", "POST", f"/internal/v1/report/{path}", json=body,
                                   timeout=LEDGER_TIMEOUT_SECONDS)
        if answer is None:
            raise Problem.of("donations")
        return answer

    def _funds(self, path: str, **params: Any) -> Any:
        return self.peers.answer("funds", "GET", f"/internal/v1/{path}", params=params or None,
                                 timeout=FUNDS_TIMEOUT_SECONDS)

    # -- the ledger -------------------------------------------------------------------------------

    def heads(self) -> facts.Snapshot:
        """Every fund's head, balance and reservation, taken in one moment."""
        body = self._ledger("heads", {})
        return facts.Snapshot(_moment(body["taken_at"]), tuple(
            facts.FundHead(f["fund_code"], f["organization_id"], f["restricted"], f["status"], f["seq"], f["hash"],
                           fen(f["balance"]), fen(f["reserved"]), fen(f["available"]))
            for f in body["funds"]))

    def figures(self, heads: Sequence[facts.Head], first: dt.date, last: dt.date, *,
                previous: Sequence[facts.Head] | None = None, large_donation_fen: int,
                payee_share_percent: int) -> facts.PeriodFigures:
        """The period's figures of the heads' funds, up to the heads; `previous` (the previous
        report's heads) makes the entries posted since then but dated before `first` late."""
        body = self._ledger("figures", {
            "heads": _heads_json(heads), "from": first.isoformat(), "to": last.isoformat(),
            "previous_heads": None if previous is None else _heads_json(previous),
            "thresholds": {"large_donation": f"{large_donation_fen // 100}.{large_donation_fen % 100:02d}",
                           "payee_share_percent": payee_share_percent}})
        return facts.PeriodFigures(
            first=first, last=last,
            funds=tuple(facts.LedgerFundFigures(
                f["fund_code"], fen(f["opening"]), f["donations_count"], fen(f["donations_total"]),
                fen(f["restricted_total"]), fen(f["in_kind_total"]), f["reversals_count"],
                fen(f["reversals_total"]), f["disbursements_count"], fen(f["disbursements_total"]),
                tuple((name, fen(value)) for name, value in f["disbursements_by_category"].items()),
                fen(f["closing"])) for f in body["funds"]),
            months=tuple(facts.MonthFlow(m["month"], fen(m["inflow"]), fen(m["outflow"])) for m in body["months"]),
            donors=tuple(facts.Donor(d["name"], d["kind"], d["count"], fen(d["total"])) for d in body["donors"]),
            late_entries=tuple(facts.LateEntry(
                e["fund_code"], e["seq"], e["kind"], dt.date.fromisoformat(e["effective_on"]),
                _moment(e["posted_at"]), fen(e["amount"]), e["direction"], e["reference"])
                for e in body["late_entries"]),
            late_entries_count=body["late_entries_count"],
            large_donations=tuple(facts.LargeDonation(
                d["fund_code"], d["receipt_no"], d["donor"], d["donor_kind"], dt.date.fromisoformat(d["received_on"]),
                fen(d["amount"]), d["status"]) for d in body["large_donations"]),
            split_donations=tuple(facts.SplitDonations(
                s["donor"], s["donor_kind"], tuple(s["fund_codes"]), s["count"], fen(s["total"]),
                dt.date.fromisoformat(s["first_on"]), dt.date.fromisoformat(s["last_on"]), tuple(s["receipts"]))
                for s in body["structuring"]),
            dormant_funds=tuple(facts.DormantFund(d["fund_code"], _day(d["last_entry_on"]),
                                                  dt.date.fromisoformat(d["since"])) for d in body["dormant_funds"]),
            concentrated_payees=tuple(facts.ConcentratedPayee(
                p["fund_code"], p["payee"], p["count"], fen(p["total"]), fen(p["fund_total"]))
                for p in body["concentrated_payees"]),
            previous_year_income=tuple(facts.OrganizationIncome(
                i["organization_id"], i["year"], fen(i["donations"]), fen(i["reversals"])) for i in body["income"]))

    def check_inputs(self, heads: Sequence[facts.Head],
                     previous: Sequence[facts.Head] | None = None) -> facts.CheckInputs:
        """What the checks judge: the whole ledger's trial balance and receipt numbers; the heads'
        funds' balances, chains (and the previous report's heads on them) and payments."""
        body = self._ledger("checks", {"heads": _heads_json(heads),
                                       "previous_heads": None if previous is None else _heads_json(previous)})
        tb, balances, eyes = body["trial_balance"], body["balances"], body["four_eyes"]
        return facts.CheckInputs(
            trial_balance=facts.TrialBalance(
                fen(tb["debits"]), fen(tb["credits"]), tb["postings"], tb["entries"],
                tuple(facts.UnbalancedEntry(u["entry_id"], u["fund_code"], u["seq"], fen(u["sum"]))
                      for u in tb["unbalanced"]), tb["unbalanced_count"]),
            funds_checked=balances["funds_checked"],
            balance_mismatches=tuple(facts.BalanceMismatch(
                m["fund_code"], m["place"], _day(m["day"]), m["account"], fen(m["stored"]), fen(m["postings"]))
                for m in balances["mismatches"]),
            balance_mismatch_count=balances["mismatch_count"],
            chains=tuple(facts.ChainState(
                c["fund_code"], c["head_seq"], c["head_hash"], c["valid"], c["entries_verified"],
                c["first_bad_entry_id"], c["first_bad_seq"], c["problem"], c["problem_code"],
                *((c["previous"]["seq"], c["previous"]["hash"], c["previous"]["hash_now"]) if c["previous"]
                  else (None, None, None))) for c in body["chains"]),
            receipts=tuple(facts.ReceiptYear(
                r["year"], r["count"], r["first"], r["last"], r["last_issued"], r["missing_count"],
                tuple(r["missing"]), tuple(r["duplicates"])) for r in body["receipts"]),
            paid_disbursements=eyes["paid"],
            four_eyes_violations=tuple(facts.UnapprovedPayment(
                v["id"], v["fund_code"], fen(v["amount"]), v["requested_by"], v["approved_by"], _day(v["paid_on"]))
                for v in eyes["violations"]),
            four_eyes_violation_count=eyes["violation_count"])

    def entries(self, heads: Sequence[facts.Head], fund_codes: Sequence[str], first: dt.date,
                last: dt.date) -> Iterator[facts.LedgerEntry]:
        """The funds' entries dated from `first` to `last`, up to the heads, by fund code, date and seq."""
        after: dict[str, Any] | None = None
        while True:
            body = self._ledger("entries", {
                "heads": _heads_json(heads), "fund_codes": list(fund_codes), "from": first.isoformat(),
                "to": last.isoformat(), "after": after, "limit": self.page_size})
            for e in body["entries"]:
                yield facts.LedgerEntry(
                    e["fund_code"], e["seq"], e["kind"], dt.date.fromisoformat(e["effective_on"]),
                    _moment(e["posted_at"]), e["reference"], e["description"], e["category"],
                    tuple(facts.Posting(p["account"], fen(p["amount"])) for p in e["postings"]),
                    e.get("project_code"), e.get("budget_line"), e.get("need_id"))
            after = body["next"]
            if after is None:
                return

    def opening_balances(self, heads: Sequence[facts.Head], fund_codes: Sequence[str],
                         day: dt.date) -> list[facts.OpeningBalance]:
        """Each fund's account balances at the start of `day` (debit positive), up to the heads."""
        body = self._ledger("openings", {"heads": _heads_json(heads), "fund_codes": list(fund_codes),
                                         "day": day.isoformat()})
        return [facts.OpeningBalance(b["fund_code"], b["account"], fen(b["amount"])) for b in body["balances"]]

    # -- the programmes service ------------------------------------------------------------------

    def programmes(self, period: str, *, organization_id: int | None = None,
                   fund_code: str | None = None) -> dict[str, Any] | None:
        """The programmes' facts of the period and scope (services/programmes/report_api.py), as
        that service words them; None if it does not answer (a report goes on without them)."""
        try:
            return self.peers.answer("programmes", "POST", "/internal/v1/report-facts",  # type: ignore[no-any-return]
                                     json={"period": period, "organization_id": organization_id,
                                           "fund_code": fund_code}, timeout=PROGRAMMES_TIMEOUT_SECONDS)
        except (Problem, httpx.HTTPError):
            return None

    # -- the funds service ---------------------------------------------------------------------------

    def funds(self, organization_id: int | None = None) -> list[facts.Fund]:
        """Every fund (of one organisation), with its name and its organisation's name."""
        params = {} if organization_id is None else {"organization_id": organization_id}
        body = self._funds("funds", **params)
        if body is None:
            raise Problem.of("funds")
        return [facts.Fund(f["code"], f["name"], f["organization_id"], f["organization_name"], f["restricted"],
                           f["status"]) for f in body["funds"]]

    def fund(self, code: str) -> facts.Fund | None:
        """One fund (None if there is none)."""
        body = self._funds(f"funds/{quote(code, safe='')}")
        if body is None:
            return None
        organization = self.organization(body["organization_id"])
        return facts.Fund(body["code"], body["name"], body["organization_id"],
                          organization.name if organization else "", body["restricted"], body["status"])

    def organization(self, organization_id: int) -> facts.Organization | None:
        body = self._funds(f"organizations/{organization_id}")
        if body is None:
            return None
        limit = body.get("management_cost_limit_percent")
        if limit is not None:  # a whole percentage as an int, a fraction of one exactly
            limit = Decimal(str(limit))
            limit = int(limit) if limit == limit.to_integral_value() else limit
        return facts.Organization(body["id"], body["name"], body["kind"], body.get("charity_kind"), limit)


# The services that keep Idempotency-Keys, each pruning its own behind its internal API.
PRUNED_SERVICES = ("funds", "donations", "programmes")


def prune_idempotency_keys(app: Any) -> dict[str, int]:
    """Every service forgets its expired Idempotency-Keys (beat asks, each service deletes its
    own); how many each pruned. A service that cannot be reached is skipped until next time."""
    from shared.db import Database

    pruned: dict[str, int] = {}
    peers: Peers = app.extensions["peers"]
    for service in PRUNED_SERVICES:
        try:
            answer = peers.answer(service, "POST", "/internal/v1/idempotency/prune")
        except Problem:
            continue
        if answer is not None:
            pruned[service] = int(answer["pruned"])
    database: Database = app.extensions["database"]
    with database.transaction() as session:
        pruned["reports"] = app.extensions["idempotency"].prune(session)
    return pruned
