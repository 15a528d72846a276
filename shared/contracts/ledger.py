"""The donations ledger's word, as the funds service asks for it.

A fund's status belongs to the funds service; money moves in the ledger. A
change that stops money (freeze, close) is *prepared* in the ledger before
the funds service commits it, and *settled* after; a change that frees money
(unfreeze) is only settled, after the commit. Versions, taken from a
sequence in the funds service, order the changes, so a retry or a late
message is harmless. See services/donations/funds_status.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shared.contracts.funds import FUND_INFO, FUND_STATUSES, FundInfo
from shared.db import MAX_BIG_ID
from shared.errors import Problem
from shared.money import Money
from shared.peers import Peers
from shared.shapes import Choice, Integer, Nested, Shape

# The bodies of the ledger's internal status calls.
FUND_STATUS_CHANGE = Shape("FundStatusChange", {
    "fund": Nested(FUND_INFO), "status": Choice(FUND_STATUSES), "version": Integer(minimum=1, maximum=MAX_BIG_ID)})
FUND_STATUS_SETTLED = Shape("FundStatusSettled", {
    "status": Choice(FUND_STATUSES), "version": Integer(minimum=1, maximum=MAX_BIG_ID)})

# The statuses that stop money, prepared in the ledger before the funds service commits them.
RESTRICTING = frozenset({"frozen", "closed"})


@dataclass(frozen=True)
class LedgerBalance:
    balance: Money
    reserved: Money


class LedgerClient:
    """The donations service's internal API, for the funds service."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    def _path(self, code: str, rest: str) -> str:
        return f"/internal/v1/funds/{quote(code, safe='')}/{rest}"

    def balance(self, code: str) -> LedgerBalance:
        """What the ledger holds for the fund (nothing, for a fund without entries)."""
        body = self.peers.answer("donations", "GET", self._path(code, "balance"))
        if body is None:
            raise Problem.of("donations")
        return LedgerBalance(Money.parse(body["balance"]), Money.parse(body["reserved"]))

    def prepare_status(self, fund: FundInfo, status: str, version: int) -> None:
        """Before the funds service commits `status`: the ledger stops money at once (or refuses)."""
        self.peers.answer("donations", "POST", self._path(fund.code, "status/prepare"),
                          json={"fund": fund.to_json(), "status": status, "version": version})

    def settle_status(self, code: str, status: str, version: int) -> None:
        """After the funds service committed `status`."""
        self.peers.answer("donations", "POST", self._path(code, "status/settle"),
                          json={"status": status, "version": version})
