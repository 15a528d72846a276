"""The programmes service's public API for consumer-assistance drives (消费帮扶), /programmes/api/v1."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from services.programmes import drives
from services.programmes.models import Drive, Purchase
from services.programmes.rules import DRIVE, DRIVE_LIST, PLEDGE, PURCHASE, PURCHASE_LIST
from services.programmes.schemas import (
    DrivePageSchema, DrivePledgeSchema, DriveSchema, PurchasePageSchema, PurchaseSchema, VillageDrivesSchema,
)
from shared.api import Blueprint
from shared.auth import principal_from_request, require_scope
from shared.db import db_session
from shared.idempotency import idempotent
from shared.schemas import paginate

blp = Blueprint("programmes_drives_api", __name__, url_prefix="/api/v1",
                description="Consumer-assistance drives: organisations pledge and buy a village's produce; each "
                            "purchase is an exchange, charitable spending or a donation of the difference")


@blp.route("/drives")
class Drives(MethodView):
    @blp.operation("listDrives")
    @require_scope("programmes:read")
    @blp.arguments(DRIVE_LIST.schema(), location="query")
    @blp.response(200, DrivePageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The drives this key's organisation runs, pledged to or bought in, filtered by village or status"""
        session = db_session()
        query = drives.drive_query(principal_from_request(), village_id=args.get("village_id"),
                                   status=args.get("status"))
        page = paginate(session, query, args, Drive)
        return {**page, "items": drives.with_figures(session, page["items"])}

    @blp.operation("createDrive")
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(DRIVE.schema())
    @blp.response(201, DriveSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Start a drive for a village's produce, at its market price per unit, with a target quantity"""
        session = db_session()
        return drives.with_figures(session, [drives.create_drive(session, principal_from_request(), data)])[0]


@blp.route("/drives/<int:drive_id>")
class DriveById(MethodView):
    @blp.operation("getDrive", refuses=("drive_not_found",))
    @require_scope("programmes:read")
    @blp.response(200, DriveSchema)
    def get(self, drive_id: int) -> Any:
        """One drive: target, pledged and bought, paid to the village, and what that is in the books"""
        session = db_session()
        return drives.with_figures(session, [drives.get_drive(session, principal_from_request(), drive_id)])[0]


@blp.route("/drives/<int:drive_id>/pledges")
class DrivePledges(MethodView):
    @blp.operation("pledgeToDrive", refuses=("drive_not_found", "service_unavailable"))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(PLEDGE.schema())
    @blp.response(201, DrivePledgeSchema)
    def post(self, data: dict[str, Any], drive_id: int) -> Any:
        """An organisation pledges a quantity (a second pledge replaces its first)"""
        return drives.pledge(db_session(), principal_from_request(), drive_id, data)


@blp.route("/drives/<int:drive_id>/purchases")
class DrivePurchases(MethodView):
    @blp.operation("listDrivePurchases", refuses=("drive_not_found",))
    @require_scope("programmes:read")
    @blp.arguments(PURCHASE_LIST.schema(), location="query")
    @blp.response(200, PurchasePageSchema)
    def get(self, args: dict[str, Any], drive_id: int) -> Any:
        """The drive's purchases, newest first, filtered by kind"""
        session = db_session()
        drive = drives.get_drive(session, principal_from_request(), drive_id)
        page = paginate(session, drives.purchase_query(drive, kind=args.get("kind")), args, Purchase)
        return {**page, "items": [drives.PurchaseView(purchase) for purchase in page["items"]]}

    @blp.operation("recordDrivePurchase", refuses=("drive_not_found", "service_unavailable"))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(PURCHASE.schema())
    @blp.response(201, PurchaseSchema)
    def post(self, data: dict[str, Any], drive_id: int) -> Any:
        """Record a purchase: `market` (an exchange), `given_on` (charitable spending) or `premium` (a donation
        of the difference over market value)"""
        return drives.PurchaseView(drives.record_purchase(db_session(), principal_from_request(), drive_id, data))


@blp.route("/villages/<int:village_id>/drives")
class VillageDrives(MethodView):
    @blp.operation("getVillageDrives", refuses=("village_not_found",))
    @require_scope("programmes:read")
    @blp.response(200, VillageDrivesSchema)
    def get(self, village_id: int) -> Any:
        """What the drives this key may see paid the village, and what that is in the books"""
        return drives.village_totals(db_session(), principal_from_request(), village_id)
