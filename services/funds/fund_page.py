"""What the other services know of a fund, for its page: asked over their internal APIs.

The donations service tells its balances, this month's and this year's
income and spending and its last donations and disbursements; the reports
service its reports. Each is asked on behalf of the page's reader
(shared/contracts/reader.py). A service that does not answer leaves its
part of the page empty with a note (`None` here), never the page failing.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from shared.auth import Principal
from shared.contracts.reader import reader_json
from shared.errors import Problem
from shared.money import Money
from shared.peers import Peers

log = logging.getLogger(__name__)

# The answers' money fields, read into Money for the page.
SUMMARY_MONEY = ("balance", "cash", "available_cash", "goods", "reserved")


def _fund_path(code: str, rest: str) -> str:
    return f"/internal/v1/funds/{quote(code, safe='')}/{rest}"


def _ask(peers: Peers, service: str, path: str, body: dict[str, Any]) -> Any:
    """The peer's answer, {} when it has nothing for the fund (404), None when it fails."""
    try:
        answer = peers.answer(service, "POST", path, json=body)
    except Problem as problem:
        log.warning("the %s service did not answer for a fund's page: %s", service, problem.code)
        return None
    return answer if answer is not None else {}


def ledger_summary(peers: Peers, reader: Principal, code: str) -> dict[str, Any] | None:
    """The fund's figures in the ledger ({} before its first entry), None if the ledger is away."""
    answer = _ask(peers, "donations", _fund_path(code, "summary"), {"reader": reader_json(reader)})
    if answer:
        for name in SUMMARY_MONEY:
            answer[name] = Money.parse(answer[name])
        for period in ("this_month", "this_year"):
            answer[period] = {name: Money.parse_signed(value) for name, value in answer[period].items()}
        for item in answer["donations"] + answer["disbursements"]:
            item["amount"] = Money.parse(item["amount"])
    return answer  # type: ignore[no-any-return]


def fund_reports(peers: Peers, reader: Principal, code: str, organization_id: int) -> list[dict[str, Any]] | None:
    """The fund's and its organisation's reports the reader may see, None if the reports service is away."""
    answer = _ask(peers, "reports", _fund_path(code, "reports"),
                  {"reader": reader_json(reader), "organization_id": organization_id})
    return None if answer is None else answer.get("reports", [])
