"""What the funds service asks of the donations ledger."""

from __future__ import annotations

from urllib.parse import quote

from shared.errors import ServiceUnavailable
from shared.money import Money
from shared.peers import peers


def fund_balance(code: str) -> Money:
    """The fund's balance by the ledger; a fund without entries holds zero."""
    response = peers().request("donations", "GET", f"/internal/v1/funds/{quote(code, safe='')}/balance")
    if response.status_code == 404:
        return Money.zero()
    if response.status_code != 200:
        raise ServiceUnavailable(f"The donations service answered {response.status_code} "
                                 f"when asked for the balance of {code}.")
    return Money.parse(response.json()["balance"])
