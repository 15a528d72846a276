"""The disclosure calendar through the programmes API, /programmes/api/v1/disclosures.

    GET  /disclosures?organization_id=&from=&to=&status=&kind=   the calendar's items
    POST /disclosures {kind, subject, due_on, note?}             an item was published: it is done
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from services.programmes import calendar
from services.programmes.rules import DISCLOSURE, DISCLOSURE_LIST
from services.programmes.schemas import CalendarItemSchema, CalendarSchema
from shared.api import Blueprint
from shared.auth import principal_from_request, require_scope
from shared.dates import today
from shared.db import db_session
from shared.idempotency import idempotent

blp = Blueprint("programmes_calendar_api", __name__, url_prefix="/api/v1",
                description="The disclosure calendar (信息公开): what each organisation must publish by when "
                            "(projects' quarterly and full disclosures, leftover money, annual reports, "
                            "related-party purchases) and its claims' dates")


@blp.route("/disclosures")
class Disclosures(MethodView):
    @blp.operation("listDisclosures")
    @require_scope("programmes:read")
    @blp.arguments(DISCLOSURE_LIST.schema(), location="query")
    @blp.response(200, CalendarSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The calendar's items by date: the key's organisation's (admins and auditors: one or every one)"""
        on = today()
        items = calendar.visible(db_session(), principal_from_request(), on,
                                 organization_id=args.get("organization_id"), date_from=args.get("from"),
                                 date_to=args.get("to"), status=args.get("status"), kind=args.get("kind"))
        return {"as_of": on, "items": items}

    @blp.operation("recordDisclosure", refuses=("disclosure_already_recorded",))
    @idempotent
    @require_scope("programmes:write")
    @blp.arguments(DISCLOSURE.schema())
    @blp.response(201, CalendarItemSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Record that an item of the organisation's calendar was published (422 for one not on it)"""
        return calendar.record_published(db_session(), principal_from_request(), data, today())
