"""Posting single donations together: one transaction for all that are waiting.

Every donation locks its fund's ledger row and the year's receipt counter
until its transaction commits, so one hot fund takes one donation per commit
however many clients send them. The poster (one thread per process) takes
every donation waiting when it is free, records them with one call of the
ledger's function in one transaction, builds each one's answer, commits, and
then lets each request answer: a commit per group, not per donation, as
ledgers batch transfers to go past that ceiling.

Each request keeps its own answer and its own line in the audit log; a
refusal (a duplicate reference, a closed fund) is its request's alone. If
the group's transaction fails as a whole, each of its donations is tried
alone, so that one bad donation cannot refuse the others. Nothing is answered
before the commit: a donation answered is a donation recorded.

A request with an Idempotency-Key is not posted here: its key's record must
commit in the same transaction as its donation (commands.record_donation).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response
from sqlalchemy import Engine

from services.donations import funds_status, ledger
from services.donations.ledger import NewDonation, Outcome
from shared import metrics
from shared.db import unavailable
from shared.errors import Problem, as_problem

log = logging.getLogger(__name__)

GROUP_LIMIT = 200        # donations a transaction takes at most
ANSWER_TIMEOUT = 60.0    # seconds a request waits for its group


@dataclass
class _Waiting:
    donation: NewDonation
    request: dict[str, Any]
    retried: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    response: Response | None = None
    error: BaseException | None = None


class DonationPoster:
    def __init__(self, app: Flask, answer: Callable[[NewDonation, Outcome], Response]) -> None:
        self.app = app
        self.answer = answer
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()

    @property
    def engine(self) -> Engine:
        engine = self.app.extensions["database"].engine
        assert engine is not None
        return engine

    def post(self, donation: NewDonation, request: dict[str, Any]) -> Response:
        """Record `donation` with whatever else is waiting; its answer, once committed."""
        self._start()
        waiting = _Waiting(donation, request)
        self._queue.put(waiting)
        if not waiting.done.wait(ANSWER_TIMEOUT):
            raise Problem.of("donations")
        if waiting.error is not None:
            raise waiting.error
        assert waiting.response is not None
        return waiting.response

    def _start(self) -> None:
        # In the serving process (a forked worker), on first use.
        if self._thread is None or not self._thread.is_alive():
            with self._started:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="donation-poster", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < GROUP_LIMIT:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._post(group)
            except BaseException as error:  # the thread must outlive any one group
                log.exception("posting a group of %d donations failed", len(group))
                for waiting in group:
                    if not waiting.done.is_set():
                        waiting.error = as_problem(error)  # a database away: 503, not 500
                        waiting.done.set()

    def _post(self, group: list[_Waiting]) -> None:
        try:
            answers = self._transaction(group)
        except Exception as error:
            # A connection lost (the database going away) may have lost the answer to a commit that
            # happened: posting the donations again could record them twice. They are refused (503).
            if len(group) == 1 or unavailable(error):
                raise
            log.warning("a group of %d donations failed; posting each alone", len(group), exc_info=True)
            for waiting in group:
                self._post([waiting])
            return
        unsettled = []
        for waiting, (response, error) in zip(group, answers):
            if error is not None and error.code == "fund_status_changing" and not waiting.retried:
                unsettled.append(waiting)
                continue
            waiting.response, waiting.error = response, error
            if response is not None:  # recorded and committed
                metrics.donation_recorded(waiting.donation.fund.restricted, waiting.donation.amount_fen)
            waiting.done.set()
        if unsettled:
            # A change of a fund's status nobody confirmed: settle it (the group's locks are
            # released now), then try those donations once more.
            with self.app.app_context():
                for code in sorted({w.donation.fund.code for w in unsettled}):
                    try:
                        funds_status.settle(code)
                    except Problem:
                        log.warning("could not settle the status of fund %s", code)
            for waiting in unsettled:
                waiting.retried = True
            self._post(unsettled)

    def _transaction(self, group: list[_Waiting]) -> list[tuple[Response | None, Problem | None]]:
        with self.app.app_context(), self.engine.begin() as connection:
            outcomes = ledger.record_donations(connection, [w.donation for w in group], [w.request for w in group])
            answers: list[tuple[Response | None, Problem | None]] = []
            for waiting, outcome in zip(group, outcomes):
                try:
                    answers.append((self.answer(waiting.donation, outcome), None))
                except Problem as problem:
                    answers.append((None, problem))
            # Leaving the block commits: the answers are sent only after.
        return answers
