"""The funds service's public API, /funds/api/v1 (see API.md)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from services.funds import commands
from services.funds.models import Fund, Organization
from services.funds.rules import API_KEY, FUND, FUND_CHANGE, FUND_LIST, LIST, ORGANIZATION, ORGANIZATION_CHANGE
from services.funds.schemas import (
    ApiKeyIssuedSchema, ApiKeyPageSchema, FundPageSchema, FundSchema, OrganizationPageSchema, OrganizationSchema,
)
from shared.api import Blueprint, add_me_endpoint, fund_code_parameter
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("funds_api", __name__, url_prefix="/api/v1",
                description="Organisations, named funds and API keys")
add_me_endpoint(blp)


@blp.route("/organizations")
class Organizations(MethodView):
    @blp.operation("listOrganizations")
    @require_scope("funds:read")
    @blp.arguments(LIST.schema(), location="query")
    @blp.response(200, OrganizationPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Organisations this key may see"""
        return paginate(db_session(), commands.visible_organizations(principal_from_request()), args, Organization)

    @blp.operation("createOrganization", refuses=("organization_name_taken",))
    @idempotent
    @require_scope("admin")
    @blp.arguments(ORGANIZATION.schema())
    @blp.response(201, OrganizationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create an organisation (admin)"""
        return commands.create_organization(db_session(), principal_from_request(), **data)


@blp.route("/organizations/<int:organization_id>")
class OrganizationById(MethodView):
    @blp.operation("getOrganization", refuses=("organization_not_found",))
    @require_scope("funds:read")
    @blp.response(200, OrganizationSchema)
    def get(self, organization_id: int) -> Any:
        """One organisation"""
        return commands.get_organization(db_session(), principal_from_request(), organization_id)

    @blp.operation("updateOrganization", refuses=("organization_not_found",))
    @require_scope("admin")
    @blp.arguments(ORGANIZATION_CHANGE.schema())
    @blp.response(200, OrganizationSchema)
    def patch(self, data: dict[str, Any], organization_id: int) -> Any:
        """Change an organisation's kind under the Charity Law or its approval rule (admin)"""
        return commands.update_organization(db_session(), principal_from_request(), organization_id, **data)


@blp.route("/organizations/<int:organization_id>/api-keys")
class ApiKeys(MethodView):
    @blp.operation("listApiKeys", refuses=("organization_not_found",))
    @require_scope("admin")
    @blp.response(200, ApiKeyPageSchema)
    def get(self, organization_id: int) -> Any:
        """The organisation's keys, without their secrets (admin)"""
        session = db_session()
        commands.get_organization(session, principal_from_request(), organization_id)
        return {"items": commands.organization_keys(session, organization_id), "next_cursor": None}

    @blp.operation("createApiKey", refuses=("organization_not_found",))
    @idempotent(keep_answer=False)  # the answer holds the secret, which is never stored
    @require_scope("admin")
    @blp.arguments(API_KEY.schema())
    @blp.response(201, ApiKeyIssuedSchema)
    def post(self, data: dict[str, Any], organization_id: int) -> Any:
        """Issue a key; its secret is in this answer only (admin)"""
        issued = commands.issue_api_key(db_session(), principal_from_request(), organization_id,
                                        data["name"], data["scopes"])
        key = issued.key
        return {"id": key.id, "key": issued.secret, "scopes": key.scopes, "name": key.name,
                "organization_id": key.organization_id, "prefix": key.prefix,
                "created_at": key.created_at, "revoked_at": None}


@blp.route("/organizations/<int:organization_id>/api-keys/<int:key_id>")
class ApiKeyById(MethodView):
    @blp.operation("revokeApiKey", refuses=("api_key_not_found", "last_admin_key"))
    @require_scope("admin")
    @blp.response(204)
    def delete(self, organization_id: int, key_id: int) -> None:
        """Revoke a key: refused by every service within 5 seconds (admin)"""
        commands.revoke_api_key(db_session(), principal_from_request(), organization_id, key_id)


@blp.route("/funds")
class Funds(MethodView):
    @blp.operation("listFunds")
    @require_scope("funds:read")
    @blp.arguments(FUND_LIST.schema(), location="query")
    @blp.response(200, FundPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Funds, filtered by organisation, kind, status or a text in name or code"""
        query = commands.fund_query(principal_from_request(), organization_id=args.get("organization_id"),
                                    kind=args.get("kind"), status=args.get("status"), q=args.get("q"))
        return paginate(db_session(), query, args, Fund)

    @blp.operation("createFund", refuses=("fund_code_taken", "no_such_organization"))
    @idempotent
    @require_scope("funds:write")
    @blp.arguments(FUND.schema())
    @blp.response(201, FundSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a fund"""
        return commands.create_fund(db_session(), principal_from_request(), **data)


@blp.route("/funds/<code>", parameters=[fund_code_parameter()])
class FundByCode(MethodView):
    @blp.operation("getFund", refuses=("fund_not_found",))
    @require_scope("funds:read")
    @blp.response(200, FundSchema)
    def get(self, code: str) -> Any:
        """One fund"""
        return commands.get_fund(db_session(), principal_from_request(), code)

    @blp.operation("updateFund", refuses=("fund_not_found", "fund_closed_unchangeable"))
    @require_scope("funds:write")
    @blp.arguments(FUND_CHANGE.schema())
    @blp.response(200, FundSchema)
    def patch(self, data: dict[str, Any], code: str) -> Any:
        """Change a fund's name or purpose"""
        return commands.update_fund(db_session(), principal_from_request(), code, **data)


def _status_view(action: str, summary: str, *refuses: str) -> None:
    class StatusChange(MethodView):
        @blp.operation(f"{action}Fund", refuses=("fund_not_found", "fund_transition_invalid", "fund_status_changing",
                                                 "service_unavailable", *refuses))
        @idempotent
        @require_scope("funds:write")
        @blp.response(200, FundSchema)
        def post(self, code: str) -> Any:
            return commands.change_fund_status(db_session(), principal_from_request(), code, action,
                                               current_app.extensions["ledger"])

    StatusChange.post.__doc__ = summary
    StatusChange.__name__ = f"Fund{action.title()}"
    blp.route(f"/funds/<code>/{action}", endpoint=f"fund_{action}", parameters=[fund_code_parameter()])(StatusChange)


_status_view("freeze", "Freeze a fund: it takes donations but pays nothing out")
_status_view("unfreeze", "Make a frozen fund active again")
_status_view("close", "Close a fund with a zero balance (409 otherwise); closed takes nothing", "fund_not_empty")
