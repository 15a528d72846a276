"""The internal API the other services call (never part of the public API).

Expired Idempotency-Keys are pruned here; claims past their date are expired
here (POST /internal/v1/claims/expire, called daily by the reports service's
beat), and caps the ledger may have missed are sent again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from services.programmes import caps, needs
from shared.auth import require_internal
from shared.dates import today
from shared.db import db_session
from shared.idempotency import add_prune_endpoint

bp = Blueprint("programmes_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


add_prune_endpoint(bp)


@bp.post("/claims/expire")
def expire_claims() -> Any:
    session = db_session()
    expired = needs.expire_claims(session, today())
    resent = caps.resend_unsynced(session)
    return jsonify({"expired": expired, "caps_resent": resent})
