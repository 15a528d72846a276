"""The internal API the other services call (never part of the public API).

Expired Idempotency-Keys are pruned here; claims past their date are expired
here (POST /internal/v1/claims/expire, called daily by the reports service's
beat), and caps the ledger may have missed are sent again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from services.programmes import caps, needs, projects
from services.programmes.models import Claim, Project
from services.programmes.rules import LIVE_CLAIM_STATUSES
from shared.auth import require_internal
from shared.dates import today
from shared.db import MAX_ID, db_session
from shared.errors import Problem
from shared.idempotency import add_prune_endpoint
from shared.money import Money

# Projects whose lines may be paid (approved until closed).
PAYABLE_PROJECT_STATUSES = ("approved", "in_progress", "closing")

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


@bp.get("/payable")
def payable() -> Any:
    """What an organisation's disbursements may name (the ledger's request form offers them): its
    approved projects' budget lines and its live claims' needs, each with what is left to pay."""
    organization_id = request.args.get("organization_id", type=int)
    if organization_id is None or not 0 < organization_id <= MAX_ID:
        raise Problem.field("organization_id", "required")
    session = db_session()
    chosen = list(session.scalars(select(Project).where(
        Project.organization_id == organization_id, Project.status.in_(PAYABLE_PROJECT_STATUSES))
        .order_by(Project.code)))
    shown = projects.with_figures(session, chosen, detail=False)
    claims = list(session.scalars(select(Claim).where(
        Claim.organization_id == organization_id, Claim.status.in_(LIVE_CLAIM_STATUSES)).order_by(Claim.need_id)))
    found = needs.claim_figures(session, claims)
    by_need: dict[int, dict[str, Any]] = {}
    for claim in claims:
        cap = found.get(claim.id)
        by_need[claim.need_id] = {
            "id": claim.need_id, "title": claim.need.title, "village": claim.need.village.name,
            "remaining": str(cap.remaining if cap is not None else Money(0))}
    return jsonify({
        "organization_id": organization_id,
        "projects": [{"code": p.code, "name": p.name, "fund_code": p.fund_code,
                      "lines": [{"name": line.name, "remaining": str(Money(line.remaining_fen))} for line in p.lines]}
                     for p in shown],
        "needs": list(by_need.values()),
    })
