"""The internal API the other services call (never exposed as public API).

Every call carries the internal token derived from the shared SECRET_KEY.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from shared.auth import Authority, require_internal
from shared.errors import NotFound, ValidationProblem

bp = Blueprint("funds_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


def _authority() -> Any:
    authority: Authority = current_app.extensions["authority"]
    return authority


def _json_field(name: str, kind: type) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get(name), kind):
        raise ValidationProblem.field(name, "Missing or of the wrong type.")
    return body[name]


@bp.post("/principals/key")
def principal_for_key() -> Any:
    principal = _authority().principal_for_key_hash(_json_field("key_hash", str))
    if principal is None:
        raise NotFound("No such key, or revoked.")
    return jsonify(principal.to_json())


@bp.post("/principals/session")
def principal_for_session() -> Any:
    principal = _authority().principal_for_session(_json_field("user_id", int),
                                                   _json_field("session_token", str))
    if principal is None:
        raise NotFound("No such session.")
    return jsonify(principal.to_json())


@bp.get("/funds/<code>")
def fund(code: str) -> Any:
    info = _authority().fund(code)
    if info is None:
        raise NotFound(f"No fund {code}.")
    return jsonify(info.to_json())
