"""The internal API the other services call."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from shared.auth import require_internal
from shared.errors import NotFound

bp = Blueprint("donations_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


@bp.get("/funds/<code>/balance")
def fund_balance(code: str) -> Any:
    # The ledger holds no entries yet: every fund is unknown to it, i.e. zero.
    raise NotFound(f"The ledger has no entries for {code}.")
