"""The ledger's facts for audit reports: the internal API the reports service reads.

    POST /internal/v1/report/heads      every fund's head, in one snapshot
    POST /internal/v1/report/figures    a period's figures up to given heads
    POST /internal/v1/report/checks     the checks' inputs over the snapshot
    POST /internal/v1/report/entries    a page of a period's entries, with postings
    POST /internal/v1/report/openings   each fund's account balances before a day

All POST, so that a list of heads fits in the body. Every answer reads one
moment of the ledger (report_facts.read_snapshot); money is text ("1280.00",
"-1280.00"), as everywhere. Anonymous donors are 匿名 in every answer: their
names never leave the service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, jsonify

from services.donations import report_facts
from services.donations.report_facts import Head, Thresholds
from shared.api import json_body
from shared.auth import require_internal
from shared.contracts.funds import fund_code
from shared.db import MAX_ID, db_session
from shared.errors import Problem
from shared.money import Money
from shared.shapes import Amount, Day, Field, Integer, Invalid, Many, Nested, Refusal, Shape, Text, refuse_field

bp = Blueprint("donations_report", __name__, url_prefix="/internal/v1/report")

MAX_HEADS = 10_000
HASH = Text(max_length=64, min_length=64, trim=False)


class Records(Field):
    """A JSON list of objects of one shape; a refused item is named by its place ("heads.3.seq")."""

    def __init__(self, name: str, shape: Shape, *, max_items: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.shape = shape
        self.max_items = max_items

    def check(self, value: Any) -> list[dict[str, Any]]:
        if type(value) is not list:
            raise Refusal("not_a_list")
        if len(value) > self.max_items:
            raise Refusal("out_of_range", min=0, max=self.max_items)
        items, errors = [], {}
        for index, item in enumerate(value):
            try:
                items.append(self.shape.load(item))
            except Invalid as invalid:
                errors.update({f"{self.name}.{index}.{field}": messages for field, messages in invalid.errors.items()})
        if errors:
            raise Invalid(errors)
        return items


def _head_shape(name: str, *, hash_required: bool) -> Shape:
    return Shape(name, {
        "fund_code": fund_code(),
        "seq": Integer(minimum=0, maximum=MAX_ID),
        "hash": HASH if hash_required else Text(max_length=64, min_length=64, trim=False, required=False,
                                                default=None, nullable=True),
    })


HEAD = _head_shape("ReportHead", hash_required=False)
CHAINED_HEAD = _head_shape("ReportChainedHead", hash_required=True)


def _heads(shape: Shape = HEAD, name: str = "heads", **kwargs: Any) -> Records:
    return Records(name, shape, max_items=MAX_HEADS, **kwargs)


def _ordered(values: dict[str, Any]) -> None:
    if values["from"] > values["to"]:
        raise refuse_field("from", "date_after_to")


THRESHOLDS = Shape("ReportThresholds", {
    "large_donation": Amount(),
    "payee_share_percent": Integer(minimum=1, maximum=100),
    "structuring_min_count": Integer(minimum=2, maximum=1000, default=report_facts.STRUCTURING_MIN_COUNT),
    "structuring_days": Integer(minimum=1, maximum=366, default=report_facts.STRUCTURING_DAYS),
    "structuring_band_percent": Integer(minimum=1, maximum=100, default=report_facts.STRUCTURING_BAND_PERCENT),
    "dormant_months": Integer(minimum=1, maximum=120, default=report_facts.DORMANT_MONTHS),
})
HEADS_REQUEST = Shape("ReportHeadsRequest", {})
FIGURES = Shape("ReportFiguresRequest", {
    "heads": _heads(),
    "from": Day(),
    "to": Day(),
    "previous_heads": _heads(name="previous_heads", required=False, default=None, nullable=True),
    "thresholds": Nested(THRESHOLDS),
}, after=_ordered)
CHECKS = Shape("ReportChecksRequest", {
    "heads": _heads(CHAINED_HEAD),
    "previous_heads": _heads(CHAINED_HEAD, "previous_heads", required=False, default=None, nullable=True),
})
CURSOR = Shape("ReportEntriesCursor", {"fund_code": fund_code(), "seq": Integer(minimum=0, maximum=MAX_ID)})
ENTRIES = Shape("ReportEntriesRequest", {
    "heads": _heads(),
    "fund_codes": Many(fund_code(), required=False, default=None, nullable=True),
    "from": Day(),
    "to": Day(),
    "after": Nested(CURSOR, required=False, default=None, nullable=True),
    "limit": Integer(minimum=1, maximum=5000, default=1000),
}, after=_ordered)
OPENINGS = Shape("ReportOpeningsRequest", {
    "heads": _heads(),
    "fund_codes": Many(fund_code(), required=False, default=None, nullable=True),
    "day": Day(),
})


@bp.before_request
def _only_services() -> None:
    require_internal(current_app.config["SECRET_KEY"])


def _as_heads(items: list[dict[str, Any]] | None) -> list[Head] | None:
    """Heads in the order given, one per fund (a repeated fund keeps its first head)."""
    if items is None:
        return None
    heads: dict[str, Head] = {}
    for item in items:
        heads.setdefault(item["fund_code"], Head(item["fund_code"], item["seq"], item.get("hash")))
    return list(heads.values())


def _chosen(heads: list[Head], codes: list[str] | None) -> list[Head]:
    """The heads of `codes` (all heads without codes); a code needs its head."""
    if codes is None:
        return heads
    by_code = {h.fund_code: h for h in heads}
    missing = [code for code in codes if code not in by_code]
    if missing:
        raise Problem.field("fund_codes", "no_such_fund")
    return [by_code[code] for code in codes]


def _session(heads: list[Head] | None = None) -> Any:
    session = db_session()
    report_facts.read_snapshot(session)
    if heads is not None:
        try:
            report_facts.require_known(session, heads)
        except report_facts.UnknownFunds:
            raise Problem.field("heads", "no_such_fund") from None
    return session


def as_json(value: Any) -> Any:
    """Facts as JSON: `<name>_fen` becomes `<name>`, its money as text; dates ISO 8601."""
    if isinstance(value, Mapping):
        answer = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("_fen"):
                key = key.removesuffix("_fen")
                if isinstance(item, Mapping):
                    item = {k: None if v is None else str(Money(int(v))) for k, v in item.items()}
                elif item is not None:
                    item = str(Money(int(item)))
                answer[key] = item
            else:
                answer[key] = as_json(item)
        return answer
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@bp.post("/heads")
def heads() -> Any:
    json_body(HEADS_REQUEST)
    return jsonify(as_json(report_facts.heads(_session())))


@bp.post("/figures")
def figures() -> Any:
    body = json_body(FIGURES)
    heads = _as_heads(body["heads"]) or []
    limits = body["thresholds"]
    thresholds = Thresholds(
        large_donation_fen=limits["large_donation"].fen, payee_share_percent=limits["payee_share_percent"],
        structuring_min_count=limits["structuring_min_count"], structuring_days=limits["structuring_days"],
        structuring_band_percent=limits["structuring_band_percent"], dormant_months=limits["dormant_months"])
    facts = report_facts.figures(_session(heads), heads, body["from"], body["to"],
                                 _as_heads(body["previous_heads"]), thresholds)
    return jsonify(as_json({"from": body["from"], "to": body["to"], **facts}))


@bp.post("/checks")
def checks() -> Any:
    body = json_body(CHECKS)
    heads = _as_heads(body["heads"]) or []
    # Unknown funds are not refused here: a head the ledger no longer has fails the chain check.
    facts = report_facts.checks(_session(), heads, _as_heads(body["previous_heads"]))
    return jsonify(as_json(facts))


@bp.post("/entries")
def entries() -> Any:
    body = json_body(ENTRIES)
    heads = _chosen(_as_heads(body["heads"]) or [], body["fund_codes"])
    after = (body["after"]["fund_code"], body["after"]["seq"]) if body["after"] else None
    page = report_facts.entries(_session(heads), heads, body["from"], body["to"], after, body["limit"])
    return jsonify(as_json(page))


@bp.post("/openings")
def openings() -> Any:
    body = json_body(OPENINGS)
    heads = _chosen(_as_heads(body["heads"]) or [], body["fund_codes"])
    balances = report_facts.openings(_session(heads), heads, body["day"])
    return jsonify(as_json({"day": body["day"], "balances": balances}))
