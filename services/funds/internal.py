"""The internal API the other services call (never exposed as public API).

Every call carries the internal token derived from the shared SECRET_KEY.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from services.funds import commands
from shared.auth import Authority, require_internal
from shared.db import db_session
from shared.errors import Problem
from shared.shapes import Integer, Invalid, Shape, Text

bp = Blueprint("funds_internal", __name__, url_prefix="/internal/v1")

KEY = Shape("KeyLookup", {"key_hash": Text(max_length=64, min_length=64)})
SESSION = Shape("SessionLookup", {"user_id": Integer(minimum=1, maximum=2**31 - 1),
                                  "session_token": Text(max_length=64)})


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


def _authority() -> Any:
    authority: Authority = current_app.extensions["authority"]
    return authority


def _body(shape: Shape) -> dict[str, Any]:
    try:
        return shape.load(request.get_json(silent=True))
    except Invalid as invalid:
        raise Problem.invalid(invalid.errors) from None


@bp.post("/principals/key")
def principal_for_key() -> Any:
    principal = _authority().principal_for_key_hash(_body(KEY)["key_hash"])
    if principal is None:
        raise Problem("not_found")  # unknown or revoked: the caller answers 401
    return jsonify(principal.to_json())


@bp.post("/principals/session")
def principal_for_session() -> Any:
    body = _body(SESSION)
    principal = _authority().principal_for_session(body["user_id"], body["session_token"])
    if principal is None:
        raise Problem("not_found")
    return jsonify(principal.to_json())


@bp.get("/funds/<code>")
def fund(code: str) -> Any:
    info = _authority().fund(code)
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
