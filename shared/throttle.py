"""Throttling guesses: wrong passwords by account and by address, unknown API keys by address.

Built on `limits` (the library under Flask-Limiter), counting failures only:
a person who types their password right is never slowed down by others'
mistakes on another account. The counts live in Redis in production (shared
by every process: `RATE_LIMIT_STORAGE_URL`, by default the broker when it is
Redis) and in memory on the embedded default. A refusal is a 429 with
Retry-After, and says when to try again. While the store cannot be reached
each process counts in its own memory instead (and logs it): an outage of Redis
must neither fail people's requests nor open the door to guessing.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from shared.errors import Problem

log = logging.getLogger(__name__)

# Wrong passwords for one account, and from one address (any accounts), within a minute.
LOGIN_FAILURES_PER_ACCOUNT = parse("5/minute")
LOGIN_FAILURES_PER_ADDRESS = parse("20/minute")
# Unknown or revoked API keys from one address within a minute.
BAD_KEYS_PER_ADDRESS = parse("20/minute")


# Reads of the public pages and JSON from one address: PUBLIC_READS_PER_MINUTE (Settings), 120 by default.
def public_reads_rule(per_minute: int) -> RateLimitItem:
    return parse(f"{per_minute}/minute")



# How long a request waits for the store (Redis) before going on without it.
STORE_TIMEOUT_SECONDS = 1.0


class Throttle:
    def __init__(self, storage_uri: str) -> None:
        options = ({"socket_timeout": STORE_TIMEOUT_SECONDS, "socket_connect_timeout": STORE_TIMEOUT_SECONDS}
                   if storage_uri.startswith(("redis://", "rediss://")) else {})
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri, wrap_exceptions=True, **options))
        # Counts of this process alone, while the shared store cannot be reached.
        self.fallback = MovingWindowRateLimiter(storage_from_string("memory://"))

    def check(self, rule: RateLimitItem, *identifiers: str) -> None:
        """Refuse (429) while the failures counted under `identifiers` have used up `rule`."""
        try:
            reset_at = self._reset_at(self.limiter, rule, identifiers)
        except StorageError as error:
            log.warning("the throttle's store cannot be reached; counting in this process: %s", error)
            reset_at = self._reset_at(self.fallback, rule, identifiers)
        if reset_at is not None:
            seconds = max(1, math.ceil(reset_at - time.time()))
            raise Problem("too_many_attempts", seconds=seconds, headers={"Retry-After": str(seconds)})

    def hit(self, rule: RateLimitItem, *identifiers: str, code: str = "too_many_reads") -> None:
        """Count a request under `identifiers`; refuse it (429, `code`) once `rule` is used up."""
        try:
            allowed = self.limiter.hit(rule, *identifiers)
            limiter = self.limiter
        except StorageError as error:
            log.warning("the throttle's store cannot be reached; counting in this process: %s", error)
            allowed, limiter = self.fallback.hit(rule, *identifiers), self.fallback
        if not allowed:
            try:
                reset_at = limiter.get_window_stats(rule, *identifiers).reset_time
            except StorageError:
                reset_at = time.time() + rule.get_expiry()
            seconds = max(1, math.ceil(reset_at - time.time()))
            raise Problem(code, seconds=seconds, headers={"Retry-After": str(seconds)})

    def failed(self, rule: RateLimitItem, *identifiers: str) -> None:
        try:
            self.limiter.hit(rule, *identifiers)
        except StorageError as error:
            log.warning("the throttle's store cannot be reached; counting in this process: %s", error)
            self.fallback.hit(rule, *identifiers)

    @staticmethod
    def _reset_at(limiter: MovingWindowRateLimiter, rule: RateLimitItem, identifiers: tuple[str, ...]) -> float | None:
        """When `rule` frees up again under `identifiers`; None while it is not used up."""
        if limiter.test(rule, *identifiers):
            return None
        return limiter.get_window_stats(rule, *identifiers).reset_time


def init_throttle(app: Flask, storage_uri: str) -> None:
    app.extensions["throttle"] = Throttle(storage_uri)


def throttle() -> Throttle:
    return current_app.extensions["throttle"]  # type: ignore[no-any-return]


def client_address() -> str:
    return request.remote_addr or "unknown"
