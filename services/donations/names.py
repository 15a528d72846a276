"""What the funds service calls a fund or an organisation, for pages and documents to name them.

The ledger keeps codes and ids; names belong to the funds service and are asked of it. A page
still answers when it does not: these give None, and the page shows the code.
"""

from __future__ import annotations

from shared.auth import authority
from shared.errors import Problem
from shared.peers import peers


def fund_name(code: str) -> str | None:
    """The fund's name from the funds service, if it answers."""
    try:
        info = authority().fund(code)
    except Problem:
        return None
    return info.name if info else None


def organization_name(organization_id: int) -> str | None:
    """The organisation's name from the funds service, if it answers."""
    try:
        found = peers().answer("funds", "GET", f"/internal/v1/organizations/{organization_id}")
    except Problem:
        return None
    return found.get("name") if found else None
