"""The organisations programmes act for, and their funds: the funds service's word on them.

Organisations and funds live in the funds service; this service keeps their ids
and codes only, and asks it (internal API, through shared.peers) whether one
exists, what it is called, and whose a fund is.
"""

from __future__ import annotations

from flask import current_app, g

from shared.auth import Principal
from shared.contracts.funds import FundInfo
from shared.errors import Problem
from shared.peers import peers


def _found(organization_id: int) -> dict[str, object] | None:
    """The funds service's answer about an organisation (asked once a request)."""
    seen: dict[int, dict[str, object] | None] = g.setdefault("programmes_organization_answers", {})
    if organization_id not in seen:
        seen[organization_id] = peers().answer("funds", "GET", f"/internal/v1/organizations/{organization_id}")
    return seen[organization_id]


def exists(organization_id: int) -> bool:
    return _found(organization_id) is not None


def name(organization_id: int) -> str:
    found = _found(organization_id) or {}
    return str(found.get("name") or f"#{organization_id}")


def acting(actor: Principal, requested: int | None, *, may_name_another: bool | None = None,
           refusal: str = "not_your_organization") -> int:
    """The organisation a write is for: the caller's own, unless it names another, which only
    admins may (or whoever `may_name_another` allows: a drive's organiser); the other must exist."""
    if requested is None or requested == actor.organization_id:
        return actor.organization_id
    if not (actor.is_admin if may_name_another is None else may_name_another):
        raise Problem.field("organization_id", refusal)
    if not exists(requested):
        raise Problem.field("organization_id", "no_such_organization", id=requested)
    return requested


def own_fund(fund_code: str, organization_id: int) -> FundInfo:
    """The organisation's fund of this code. Another organisation's fund is refused as if it did not
    exist, so that nobody learns of others' funds by naming them."""
    fund: FundInfo | None = current_app.extensions["funds"].fund(fund_code)
    if fund is None or fund.organization_id != organization_id:
        raise Problem.field("fund_code", "no_such_fund")
    return fund


def holding_funds() -> list[tuple[int, str]]:
    """The organisations that hold a fund, as (id, name) by name (what the pages offer to choose)."""
    if "programmes_fund_holders" not in g:
        answer = peers().answer("funds", "GET", "/internal/v1/funds") or {"funds": []}
        names = {fund["organization_id"]: fund["organization_name"] for fund in answer["funds"]}
        seen: dict[int, dict[str, object] | None] = g.setdefault("programmes_organization_answers", {})
        for organization_id, organization_name in names.items():
            seen.setdefault(organization_id, {"id": organization_id, "name": organization_name})
        g.programmes_fund_holders = sorted(names.items(), key=lambda item: item[1])
    return list(g.programmes_fund_holders)
