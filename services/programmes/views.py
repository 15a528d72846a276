"""The programmes service's public API for villages, needs and claims, /programmes/api/v1 (see API.md)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from services.programmes import needs
from services.programmes.models import Claim, Need, Village
from services.programmes.rules import CLAIM, CLAIM_LIST, CLAIM_NOTE, NEED, NEED_LIST, VILLAGE, VILLAGE_LIST
from services.programmes.schemas import (
    ClaimPageSchema, ClaimSchema, NeedPageSchema, NeedSchema, VillagePageSchema, VillageSchema,
)
from shared.api import Blueprint, add_me_endpoint
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("programmes_api", __name__, url_prefix="/api/v1",
                description="Weak villages, their needs list and organisations' claims (点单, 接单, 回单)")
add_me_endpoint(blp)


@blp.route("/villages")
class Villages(MethodView):
    @blp.operation("listVillages")
    @require_scope("programmes:read")
    @blp.arguments(VILLAGE_LIST.schema(), location="query")
    @blp.response(200, VillagePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Villages, filtered by township, weak or a text in the name"""
        query = needs.village_query(township=args.get("township"), weak=args.get("weak"), q=args.get("q"))
        return paginate(db_session(), query, args, Village)

    @blp.operation("createVillage", refuses=("village_taken",))
    @idempotent
    @require_scope("admin")
    @blp.arguments(VILLAGE.schema())
    @blp.response(201, VillageSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """List a village (admin: the bureau)"""
        return needs.create_village(db_session(), principal_from_request(), data)


@blp.route("/villages/<int:village_id>")
class VillageById(MethodView):
    @blp.operation("getVillage", refuses=("village_not_found",))
    @require_scope("programmes:read")
    @blp.response(200, VillageSchema)
    def get(self, village_id: int) -> Any:
        """One village"""
        return needs.get_village(db_session(), village_id)


@blp.route("/needs")
class Needs(MethodView):
    @blp.operation("listNeeds", refuses=("service_unavailable",))
    @require_scope("programmes:read")
    @blp.arguments(NEED_LIST.schema(), location="query")
    @blp.response(200, NeedPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Needs, filtered by village, status or category"""
        session = db_session()
        query = needs.need_query(village_id=args.get("village_id"), status=args.get("status"),
                                 category=args.get("category"))
        page = paginate(session, query, args, Need)
        return {**page, "items": needs.with_figures(session, page["items"])}

    @blp.operation("createNeed")
    @idempotent
    @require_scope("admin")
    @blp.arguments(NEED.schema())
    @blp.response(201, NeedSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Post a village's need (admin: the bureau)"""
        session = db_session()
        return needs.with_figures(session, [needs.create_need(session, principal_from_request(), data)])[0]


@blp.route("/needs/<int:need_id>")
class NeedById(MethodView):
    @blp.operation("getNeed", refuses=("need_not_found", "service_unavailable"))
    @require_scope("programmes:read")
    @blp.response(200, NeedSchema)
    def get(self, need_id: int) -> Any:
        """One need: asked, pledged, paid, open"""
        session = db_session()
        return needs.with_figures(session, [needs.get_need(session, need_id)])[0]


@blp.route("/needs/<int:need_id>/close")
class NeedClose(MethodView):
    @blp.operation("closeNeed", refuses=("need_not_found", "need_closed", "service_unavailable"))
    @require_scope("admin")
    @blp.response(200, NeedSchema)
    def post(self, need_id: int) -> Any:
        """Close a need: nothing more can be pledged (admin)"""
        session = db_session()
        return needs.with_figures(session, [needs.close_need(session, principal_from_request(), need_id)])[0]


@blp.route("/needs/<int:need_id>/claims")
class NeedClaims(MethodView):
    @blp.operation("claimNeed", refuses=("need_not_found", "need_closed", "claim_exceeds_open",
                                         "service_unavailable"))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(CLAIM.schema())
    @blp.response(201, ClaimSchema)
    def post(self, data: dict[str, Any], need_id: int) -> Any:
        """Pledge a share of a need (接单): never beyond what is open, whatever arrives at once"""
        return needs.claim_need(db_session(), principal_from_request(), need_id, data)


@blp.route("/claims")
class Claims(MethodView):
    @blp.operation("listClaims")
    @require_scope("programmes:read")
    @blp.arguments(CLAIM_LIST.schema(), location="query")
    @blp.response(200, ClaimPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The claims this key may see (its organisation's)"""
        query = needs.claim_query(principal_from_request(), need_id=args.get("need_id"), status=args.get("status"))
        return paginate(db_session(), query, args, Claim)


@blp.route("/claims/<int:claim_id>")
class ClaimById(MethodView):
    @blp.operation("getClaim", refuses=("claim_not_found",))
    @require_scope("programmes:read")
    @blp.response(200, ClaimSchema)
    def get(self, claim_id: int) -> Any:
        """One claim"""
        return needs.get_claim(db_session(), principal_from_request(), claim_id)


def _claim_step(action: str, operation_id: str, summary: str, operation: Any, scope: str, *refuses: str) -> None:
    class ClaimStep(MethodView):
        @blp.operation(operation_id, refuses=("claim_not_found", "service_unavailable", *refuses))
        @require_scope(scope)
        @blp.arguments(CLAIM_NOTE.schema())
        @blp.response(200, ClaimSchema)
        def post(self, data: dict[str, Any], claim_id: int) -> Any:
            return operation(db_session(), principal_from_request(), claim_id, data["note"])

    ClaimStep.post.__doc__ = summary
    ClaimStep.__name__ = f"Claim{action.title().replace('-', '')}"
    blp.route(f"/claims/<int:claim_id>/{action}", endpoint=f"claim_{action.replace('-', '_')}")(ClaimStep)


_claim_step("start", "startClaim", "Work on a pledged claim has started", needs.start_claim, "programmes:write",
            "claim_transition_invalid")
_claim_step("fulfil", "fulfilClaim", "The claim is fulfilled", needs.fulfil_claim, "programmes:write", "claim_transition_invalid")
_claim_step("withdraw", "withdrawClaim", "Withdraw a claim: its amount is open again (refused once money for it is approved or paid)",
            needs.withdraw_claim, "programmes:write", "claim_transition_invalid", "cap_below_committed")
_claim_step("sign-off", "signOffClaim", "The village confirms a fulfilled claim (回单; admin)", needs.sign_off_claim, "admin",
            "claim_not_signable")
