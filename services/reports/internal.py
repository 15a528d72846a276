"""The reports service's internal API (never part of the public API)."""

from __future__ import annotations

from flask import Blueprint, current_app

from shared.auth import require_internal
from shared.idempotency import add_prune_endpoint

bp = Blueprint("reports_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


add_prune_endpoint(bp)
