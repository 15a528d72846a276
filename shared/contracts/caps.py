"""Spending caps: what the programmes service lets a fund pay for a project or a need.

The programmes service owns projects, their budget lines and milestones, and the
claims organisations make on villages' needs; the ledger (donations service)
owns the money. So that no race overspends a budget line or a pledge, the
ledger keeps a *cap* for each of them and checks it in the same transaction as
a fund's balance, when a disbursement naming a project's line or a need is
approved (and again when it is paid):

- `project:<code>`: what the project may have paid so far, the instalments of
  its accepted milestones (zero until the first is accepted), for its fund;
- `project:<code>:line:<name>`: a budget line's approved amount, for its fund;
- `need:<id>:org:<organization_id>`: what the organisation pledged to the need
  in live claims; its funds pay for it.

A disbursement naming `project_code` and `budget_line` is held by the first
two; one naming `need_id`, by its organisation's need cap. Approved and unpaid
it counts as `reserved`, paid as `paid`: `reserved + paid <= limit` always.

Protocol (as for a fund's status, shared/contracts/ledger.py): the programmes
service numbers every change of a cap from one sequence, so a retry or a late
message is harmless (the ledger keeps the newest version). A change that
*lowers* a cap is set in the ledger before the programmes service commits it,
so a refusal (`cap_below_committed`: the money is already approved or paid)
stops the change; a change that raises a cap is set after the commit. A lost
call leaves a cap lower than the programmes service says, which refuses money
(never lets too much out), and the next change of that cap sets it right.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.funds import fund_code
from shared.db import MAX_BIG_ID, MAX_ID
from shared.money import Money
from shared.peers import Peers
from shared.shapes import Choice, Flag, Integer, Many, Shape, Text

CAP_KINDS = ("project", "project_line", "need")
BUDGET_LINE_MAX_LENGTH = 200
# A cap's label says what it is for people reading the ledger (a project's and a line's names): cut to this.
CAP_LABEL_MAX_LENGTH = 300


def project_cap_key(project_code: str) -> str:
    return f"project:{project_code}"


def project_line_cap_key(project_code: str, budget_line: str) -> str:
    return f"project:{project_code}:line:{budget_line}"


def need_cap_key(need_id: int, organization_id: int) -> str:
    return f"need:{need_id}:org:{organization_id}"


# The body of PUT /donations/internal/v1/caps: set one cap (see the protocol above).
CAP_CHANGE = Shape("CapChange", {
    "cap_key": Text(max_length=300, trim=False),
    "kind": Choice(CAP_KINDS),
    # A project's caps hold one fund; a need's, one organisation's funds.
    "fund_code": fund_code(required=False, nullable=True, default=None),
    "organization_id": Integer(minimum=1, maximum=MAX_ID),
    # "0.00" is a cap too: nothing may be paid (yet).
    "limit": Text(max_length=16, trim=False),
    "version": Integer(minimum=1, maximum=MAX_BIG_ID),
    # True: a limit below what is already approved or paid becomes exactly that (a stopped
    # project's unpaid instalments); false: such a limit is refused (409 cap_below_committed).
    "clamp": Flag(default=False),
    "label": Text(max_length=CAP_LABEL_MAX_LENGTH, min_length=0, default=""),
})

# The body of POST /donations/internal/v1/caps/figures.
CAP_KEYS = Shape("CapKeys", {"cap_keys": Many(Text(max_length=300, trim=False), min_items=1)})


@dataclass(frozen=True)
class CapFigures:
    cap_key: str
    limit: Money
    reserved: Money  # approved, not yet paid
    paid: Money
    version: int

    @property
    def remaining(self) -> Money:
        return Money(self.limit.fen - self.reserved.fen - self.paid.fen)

    @classmethod
    def from_json(cls, body: dict[str, object]) -> CapFigures:
        return cls(cap_key=str(body["cap_key"]), limit=Money.parse(str(body["limit"])),
                   reserved=Money.parse(str(body["reserved"])), paid=Money.parse(str(body["paid"])),
                   version=int(body["version"]))  # type: ignore[call-overload]

    def to_json(self) -> dict[str, object]:
        return {"cap_key": self.cap_key, "limit": str(self.limit), "reserved": str(self.reserved),
                "paid": str(self.paid), "remaining": str(self.remaining), "version": self.version}


class CapsClient:
    """The ledger's caps, for the programmes service."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    def set(self, cap_key: str, kind: str, limit: Money, version: int, *, organization_id: int,
            fund_code: str | None = None, clamp: bool = False, label: str = "") -> CapFigures:
        """Set a cap (a 409 cap_below_committed is raised as the ledger gave it)."""
        body = self.peers.answer("donations", "PUT", "/internal/v1/caps", json={
            "cap_key": cap_key, "kind": kind, "fund_code": fund_code, "organization_id": organization_id,
            "limit": str(limit), "version": version, "clamp": clamp, "label": label})
        return CapFigures.from_json(body)

    def figures(self, cap_keys: list[str]) -> dict[str, CapFigures]:
        """The ledger's figures of these caps (a cap it has never heard of is left out)."""
        if not cap_keys:
            return {}
        body = self.peers.answer("donations", "POST", "/internal/v1/caps/figures", json={"cap_keys": cap_keys})
        return {item["cap_key"]: CapFigures.from_json(item) for item in (body or {}).get("items", [])}
