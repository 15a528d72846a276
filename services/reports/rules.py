"""What the reports service accepts: its vocabularies and its inputs' shapes.

The API, the pages and the tables' CHECK constraints (models.py) take their
rules from here.
"""

from __future__ import annotations

from typing import Any

from shared.contracts.funds import fund_code
from shared.dates import today
from shared.db import MAX_BIG_ID, MAX_ID
from shared.periods import FREQUENCIES, PERIOD_PATTERN, Period
from shared.shapes import Choice, Flag, Integer, Shape, Text, list_fields, refuse_field

RUN_STATES = ("queued", "running", "done", "failed")
TRIGGERS = ("schedule", "request")
DELIVERY_STATUSES = ("pending", "sent", "failed")
FILE_FORMATS = ("pdf", "xlsx", "csv")
EXPORT_FORMATS = ("csv", "xlsx", "journal")
# A plain address: something@domain.tld, no spaces or angle brackets (it goes in a header).
EMAIL_PATTERN = r"[^@\s<>,;\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"


def period(**kwargs: Any) -> Text:
    """A period in Asia/Shanghai: `2026-08`, `2026-Q3` or `2026`; not one that starts in the future."""
    return Text(max_length=7, min_length=4, pattern=PERIOD_PATTERN, pattern_code="period_format",
                example="2026-Q3", **kwargs)


def _period_begun(values: dict[str, Any]) -> None:
    if values.get("period") is None:
        return
    try:
        parsed = Period.parse(values["period"])
    except ValueError:
        raise refuse_field("period", "period_format") from None
    if parsed.first > today():
        raise refuse_field("period", "period_in_future")


def _one_scope(values: dict[str, Any]) -> None:
    if values.get("fund_code") is not None and values.get("organization_id") is not None:
        raise refuse_field("organization_id", "scope_ambiguous")


def _checks(*rules: Any) -> Any:
    def after(values: dict[str, Any]) -> None:
        for rule in rules:
            rule(values)
    return after


def _scope_fields(**kwargs: Any) -> dict[str, Any]:
    return {
        "fund_code": fund_code(required=False, nullable=True, default=None, **kwargs),
        "organization_id": Integer(minimum=1, maximum=MAX_ID, required=False, nullable=True, default=None,
                                   description="An organisation's funds; neither this nor fund_code: every fund."),
    }


REPORT_REQUEST = Shape("ReportCreate", {
    "period": period(),
    **_scope_fields(),
    "notify": Flag(default=False, description="Email the finished report to the scope's subscribers."),
}, after=_checks(_period_begun, _one_scope), description="An ad-hoc report of a scope and period.")

REPORT_LIST = Shape("ReportListArgs", {
    **list_fields(max_id=MAX_BIG_ID),
    "period": period(required=False),
    **_scope_fields(),
    "status": Choice(RUN_STATES, required=False),
}, after=_one_scope)

SUBSCRIPTION = Shape("SubscriptionCreate", {
    "email": Text(max_length=254, min_length=3, pattern=EMAIL_PATTERN, pattern_code="email_format",
                  example="auditor@mca.tongling.gov.cn"),
    "frequency": Choice(FREQUENCIES),
    **_scope_fields(),
}, after=_one_scope, description="Scheduled reports of a scope, emailed to an address.")

SUBSCRIPTION_LIST = Shape("SubscriptionListArgs", list_fields(max_id=MAX_ID))

EXPORT = Shape("ExportArgs", {
    "period": period(),
    "format": Choice(EXPORT_FORMATS),
    **_scope_fields(),
}, after=_checks(_period_begun, _one_scope))
