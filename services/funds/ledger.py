"""What the funds service asks of the donations ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from shared.errors import Conflict, ServiceUnavailable
from shared.money import Money
from shared.peers import peers

if TYPE_CHECKING:
    from services.funds.models import Fund


def fund_balance(code: str) -> Money:
    """The fund's balance by the ledger; a fund without entries holds zero."""
    response = peers().request("donations", "GET", f"/internal/v1/funds/{quote(code, safe='')}/balance")
    if response.status_code == 404:
        return Money.zero()
    if response.status_code != 200:
        raise ServiceUnavailable(f"The donations service answered {response.status_code} "
                                 f"when asked for the balance of {code}.")
    return Money.parse(response.json()["balance"])


def close_in_ledger(fund: Fund) -> None:
    """Ask the ledger to close the fund; it refuses while the fund holds anything.

    The ledger closes first, under its lock on the fund's balances, so no
    donation can slip in between the check and the close.
    """
    body = {"code": fund.code, "name": fund.name, "organization_id": fund.organization_id,
            "restricted": fund.restricted, "status": fund.status, "purpose": fund.purpose}
    response = peers().request("donations", "POST", f"/internal/v1/funds/{quote(fund.code, safe='')}/close",
                               json=body)
    if response.status_code == 409:
        raise Conflict(response.json().get("detail") or f"Fund {fund.code} does not have a zero balance.")
    if response.status_code != 200:
        raise ServiceUnavailable(f"The donations service answered {response.status_code} "
                                 f"when asked to close {fund.code}.")
