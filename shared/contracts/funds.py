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

# A fund as the funds service describes it on its internal API (FundInfo.to_json).
FUND_INFO = Shape("FundInfo", {
    "code": fund_code(),
    "name": Text(max_length=200),
    "organization_id": Integer(minimum=1, maximum=MAX_ID),
    "restricted": Flag(),
    "status": Choice(FUND_STATUSES),
    "purpose": Text(max_length=2000, min_length=0),
    "status_version": Integer(minimum=0, maximum=MAX_BIG_ID),
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
