"""The internal API the other services call (never exposed as public API).

Every call carries the internal token derived from the shared SECRET_KEY.

    GET  /internal/v1/funds?organization_id=       every fund, closed ones too, by code
    GET  /internal/v1/organizations/<id>           an organisation and its management-cost limit
    POST /internal/v1/idempotency/prune            forget expired Idempotency-Keys
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from services.funds import commands, rules
from shared.api import json_body, query_args
from shared.auth import authority, require_internal
from shared.db import MAX_ID, db_session
from shared.errors import Problem
from shared.idempotency import add_prune_endpoint
from shared.shapes import Integer, Shape, Text

bp = Blueprint("funds_internal", __name__, url_prefix="/internal/v1")

KEY = Shape("KeyLookup", {"key_hash": Text(max_length=64, min_length=64)})
SESSION = Shape("SessionLookup", {"user_id": Integer(minimum=1, maximum=MAX_ID),
                                  "session_token": Text(max_length=128)})
FUNDS = Shape("FundsListing", {"organization_id": rules.organization_id(required=False)})


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


add_prune_endpoint(bp)


@bp.post("/principals/key")
def principal_for_key() -> Any:
    principal = authority().principal_for_key_hash(json_body(KEY)["key_hash"])
    if principal is None:
        raise Problem("not_found")  # unknown or revoked: the caller answers 401
    return jsonify(principal.to_json())


@bp.post("/principals/session")
def principal_for_session() -> Any:
    body = json_body(SESSION)
    principal = authority().principal_for_session(body["user_id"], body["session_token"])
    if principal is None:
        raise Problem("not_found")
    return jsonify(principal.to_json())


@bp.get("/funds")
def funds() -> Any:
    """Every fund, closed ones too, ordered by code: what a report may cover."""
    rows = commands.every_fund(db_session(), query_args(FUNDS).get("organization_id"))
    return jsonify({"funds": [
        {"code": fund.code, "name": fund.name, "organization_id": fund.organization_id,
         "organization_name": organization_name, "restricted": fund.restricted, "status": fund.status}
        for fund, organization_name in rows]})


@bp.get("/organizations/<int:organization_id>")
def organization(organization_id: int) -> Any:
    found = commands.any_organization(db_session(), organization_id)
    return jsonify({"id": found.id, "name": found.name, "kind": found.kind, "charity_kind": found.charity_kind,
                    "management_cost_limit_percent": found.management_cost_limit_percent})


@bp.get("/funds/<code>")
def fund(code: str) -> Any:
    info = authority().fund(code)
    if info is None:
        raise Problem("fund_not_found", fund_code=code)
    return jsonify(info.to_json())


@bp.post("/funds/<code>/settled")
def settled_fund(code: str) -> Any:
    """The fund as committed, after a change of its status still in flight has committed or failed:
    the ledger's final word when it holds a change nobody confirmed."""
    found = commands.settled_fund(db_session(), code)
    if found is None:
        raise Problem("fund_not_found", fund_code=code)
    return jsonify(commands.fund_info(found).to_json())
