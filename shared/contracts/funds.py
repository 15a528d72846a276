"""The funds service's word on funds, keys and logins, as the other services hear it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from shared.auth import Principal, TTLCache, hash_api_key
from shared.db import MAX_BIG_ID, MAX_ID
from shared.peers import Peers
from shared.shapes import Choice, Flag, Integer, Refusal, Shape, Text

# A fund's code: its name in every service, in URLs, files and receipts.
FUND_CODE_PATTERN = r"[A-Z0-9-]{3,32}"
FUND_STATUSES = ("active", "frozen", "closed")


def fund_code(**kwargs: Any) -> Text:
    """The field of a fund code, wherever one is given."""
    return Text(max_length=32, min_length=3, trim=False, pattern=FUND_CODE_PATTERN,
                pattern_code="fund_code_format", example="TL-HQ-001", **kwargs)


FUND_CODE = fund_code()


def is_fund_code(value: Any) -> bool:
    """Whether `value` could name a fund: a code from a URL may hold anything (a NUL, which
    the database refuses, even), and one that could not names no fund."""
    try:
        FUND_CODE.check(value)
    except Refusal:
        return False
    return True

# Who may approve an organisation's disbursements: its approval rule, set per organisation in the
# funds service (Organization.approval_rule) and enforced by the ledger when a disbursement is
# requested and approved (services/donations/migrations/versions/0005_approval_rule.sql). This is
# the rule, once:
#
# - Every rule keeps four eyes: nobody, person or key, approves a disbursement they requested.
# - `other_actor` (the default, API.md's rule): any user or key holding `disbursements:approve`
#   other than the requester may approve.
# - `person_only`: only a person logged in to the pages approves; an API key's approval is refused
#   (`approval_rule_person_only`).
# - `non_requesting_keys`: people approve as under `other_actor`; a key approves only if it has
#   never requested a disbursement, of any fund, in any state, before the rule was set too
#   (`approval_by_requesting_key`); and a key that has ever approved one may not request one for
#   this organisation (`request_by_approving_key`). So the keys that request the organisation's
#   disbursements and the keys that approve them are two sets that never meet: an integration
#   whose keys request cannot approve with any of them, however many keys it holds.
#
# Rejecting moves no money and paying moves only what was approved: neither is governed by the rule.
# A key's requests and approvals take a lock on the key before anything else, so a request and an
# approval by one key at the same moment are decided one after the other, each seeing the other.
# A change of the rule reaches the ledger with the fund's description, within AUTH_CACHE_SECONDS.
APPROVAL_RULES = ("other_actor", "person_only", "non_requesting_keys")
DEFAULT_APPROVAL_RULE = APPROVAL_RULES[0]
APPROVAL_RULE_DESCRIPTION = (
    "Who may approve the organisation's disbursements (never their requester): `other_actor` (the default), "
    "any user or API key other than the requester; `person_only`, only a person on the web pages, never an "
    "API key; `non_requesting_keys`, people, or API keys that have never requested a disbursement (and a key "
    "that has approved one may not request one for this organisation).")


def approval_rule(**kwargs: Any) -> Choice:
    """The field of an organisation's approval rule, wherever one is given."""
    return Choice(APPROVAL_RULES, description=APPROVAL_RULE_DESCRIPTION, **kwargs)


# A fund as the funds service describes it on its internal API (FundInfo.to_json), with its
# organisation's approval rule (the ledger's requests and approvals follow it).
FUND_INFO = Shape("FundInfo", {
    "code": fund_code(),
    "name": Text(max_length=200),
    "organization_id": Integer(minimum=1, maximum=MAX_ID),
    "restricted": Flag(),
    "status": Choice(FUND_STATUSES),
    "purpose": Text(max_length=2000, min_length=0),
    "status_version": Integer(minimum=0, maximum=MAX_BIG_ID),
    "approval_rule": approval_rule(default=DEFAULT_APPROVAL_RULE),
})


@dataclass(frozen=True)
class FundInfo:
    """A fund as the funds service describes it to the others.

    `status_version` orders its status changes: a higher version is a later
    committed status (the ledger keeps the newest it has heard).
    """

    code: str
    name: str
    organization_id: int
    restricted: bool
    status: str
    purpose: str
    status_version: int = 0
    approval_rule: str = DEFAULT_APPROVAL_RULE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FundInfo:
        return cls(**{name: data[name] for name in FUND_INFO.fields if name in data})


class FundsClient:
    """The funds service's internal API, its answers kept for `ttl` seconds.

    Revoked keys, disabled users and status changes reach the other services
    within that time; the ledger does not wait for it to stop money (see
    services/donations/funds_status.py).
    """

    def __init__(self, peers: Peers, ttl: float) -> None:
        self.peers = peers
        self.cache = TTLCache(ttl)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        return self.peers.answer("funds", method, path, **kwargs)  # type: ignore[no-any-return]

    def principal_for_key(self, secret: str) -> Principal | None:
        key_hash = hash_api_key(secret)

        def load() -> Principal | None:
            data = self._call("POST", "/internal/v1/principals/key", json={"key_hash": key_hash})
            return None if data is None else Principal.from_json(data)

        return self.cache.get_or_load(("key", key_hash), load)

    def principal_for_session(self, user_id: int, session_token: str) -> Principal | None:
        def load() -> Principal | None:
            data = self._call("POST", "/internal/v1/principals/session",
                              json={"user_id": user_id, "session_token": session_token})
            return None if data is None else Principal.from_json(data)

        return self.cache.get_or_load(("session", user_id, session_token), load)

    def fund(self, code: str) -> FundInfo | None:
        def load() -> FundInfo | None:
            data = self._call("GET", f"/internal/v1/funds/{quote(code, safe='')}")
            return None if data is None else FundInfo.from_json(data)

        return self.cache.get_or_load(("fund", code), load)

    def fund_now(self, code: str) -> FundInfo | None:
        """The fund as committed this moment, after any status change in flight there (uncached)."""
        data = self._call("POST", f"/internal/v1/funds/{quote(code, safe='')}/settled")
        return None if data is None else FundInfo.from_json(data)
