"""POST /donations/batch: many donations from a JSON list or a CSV file.

Every row gets a result: `recorded` (with the donation), `duplicate` (its
reference is already recorded for the fund's organisation, or earlier in this
batch) or `invalid` (with its refusals by field and the row's line number).
Bad rows never block good ones. A row is checked by the same shape as a
single donation (rules.DONATION: JSON by JSON types, a CSV line as text), and
the good rows are recorded together by the ledger's one function.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from flask import Request, Response
from sqlalchemy.orm import Session

from services.donations import commands, ledger
from services.donations.ledger import NewDonation
from services.donations.rules import DONATION
from services.donations.schemas import donation_json
from shared.api import is_json
from shared.auth import Principal
from shared.contracts.funds import FundInfo
from shared.errors import Problem, errors_json
from shared.refusals import Message
from shared.shapes import Invalid

CSV_COLUMNS = tuple(DONATION.flat_fields)
# A column may be left out when its field is optional, or the whole it belongs to is (a gift's goods).
OPTIONAL_COLUMNS = frozenset(name for name, (path, field) in DONATION.flat_fields.items()
                             if not field.required or not DONATION.fields[path[0]].required)
# The same in the header's order, as the header refusal (csv_header) and the import page name them.
OPTIONAL_IN_ORDER = tuple(name for name in CSV_COLUMNS if name in OPTIONAL_COLUMNS)
_EXAMPLE = {"fund_code": "TL-HQ-001", "amount": "1280.00", "currency": "CNY", "donor_name": "铜陵某某有限公司",
            "donor_kind": "enterprise", "donor_anonymous": "false", "received_on": "2026-08-03", "channel": "bank",
            "purpose": "助学", "reference": "ERP-2026-0001"}
CSV_EXAMPLE = ",".join(CSV_COLUMNS) + "\n" + ",".join(_EXAMPLE.get(name, "") for name in CSV_COLUMNS) + "\n"
MAX_ROWS = 50_000


class Row:
    """One input row: where it was, its values (JSON, or text by column), or why it was refused."""

    __slots__ = ("number", "values", "errors", "is_json")

    def __init__(self, number: int, values: Any, is_json: bool,
                 errors: dict[str, list[Message]] | None = None) -> None:
        self.number = number
        self.values = values
        self.is_json = is_json
        self.errors = errors


def _refused(code: str, **params: Any) -> Problem:
    return Problem.field("body", code, **params)


# -- reading -------------------------------------------------------------------

def read_rows(request: Request) -> list[Row]:
    mimetype = request.mimetype
    if mimetype in ("text/csv", "application/csv"):
        return read_csv(request.get_data(cache=False))
    if is_json(mimetype):
        return read_json(request.get_data(cache=True))
    raise Problem("unsupported_media_type", expected="application/json or text/csv",
                  received=mimetype or "none",
                  errors={"Content-Type": [Message("unsupported_media_type",
                                                   {"expected": "application/json or text/csv",
                                                    "received": mimetype or "none"})]})


def read_json(raw: bytes) -> list[Row]:
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        raise Problem("malformed_json", errors={"body": [Message("malformed_json")]}) from None
    if not isinstance(items, list):
        raise _refused("batch_not_a_list")
    _check_size(len(items))
    return [Row(number, item, True) for number, item in enumerate(items, start=1)]


def read_csv(raw: bytes) -> list[Row]:
    """CSV in UTF-8 (a BOM is allowed); rows are numbered by their line in the file."""
    try:
        content = raw.decode("utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8")
    except UnicodeDecodeError as error:
        raise _refused("csv_not_utf8", byte=error.start) from None
    header, lines = csv_lines(content)
    header = [name.strip() for name in header]
    errors: dict[str, list[Message]] = {name: [Message("csv_column_unknown")]
                                        for name in header if name not in CSV_COLUMNS}
    errors.update({name: [Message("csv_column_missing")]
                   for name in CSV_COLUMNS if name not in header and name not in OPTIONAL_COLUMNS})
    if len(set(header)) != len(header):
        errors["header"] = [Message("csv_column_repeated")]
    if errors:
        raise Problem("validation", errors={
            "body": [Message("csv_header", {"columns": ",".join(CSV_COLUMNS),
                                            "optional": ",".join(OPTIONAL_IN_ORDER)})], **errors})
    rows = []
    width = len(header)
    for number, values in lines:
        if len(values) != width:
            rows.append(Row(number, None, False,
                            {"_row": [Message("row_width", {"fields": len(values), "expected": width})]}))
        else:
            rows.append(Row(number, dict(zip(header, values)), False))
        if len(rows) > MAX_ROWS:
            _check_size(len(rows))
    _check_size(len(rows))
    return rows


def csv_lines(content: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """A CSV text's header and its lines that are not blank, each with its line number (a quoted
    field may span lines: a row is numbered by the line it starts on); refused when it holds a NUL,
    has no header, or cannot be read as CSV (as the lines are read)."""
    if "\x00" in content:
        raise _refused("csv_nul")
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise _refused("csv_empty") from None
    except csv.Error:
        raise _refused("csv_syntax", line=1) from None

    def lines() -> Iterator[tuple[int, list[str]]]:
        last_line = reader.line_num
        try:
            for values in reader:
                # A row starts on the line after the last one read.
                number, last_line = last_line + 1, reader.line_num
                if values:
                    yield number, values
        except csv.Error:
            raise _refused("csv_syntax", line=reader.line_num) from None

    return header, lines()


def _check_size(count: int) -> None:
    if count == 0:
        raise _refused("batch_empty")
    if count > MAX_ROWS:
        raise _refused("batch_too_long", max=MAX_ROWS)


# -- recording -------------------------------------------------------------------

def record_batch(session: Session, actor: Principal, request: Request) -> Response:
    results = record_rows(session, actor, read_rows(request))
    return Response(orjson.dumps({"results": results}), status=200, mimetype="application/json")


def record_rows(session: Session, actor: Principal, rows: list[Row]) -> list[dict[str, Any]]:
    """Check and record `rows` (from read_csv or read_json): one result per row, in order.

    The API's batch answers with these; the pages' import (importing.py) records its chunks by them.
    """
    results: list[dict[str, Any] | None] = [None] * len(rows)
    checked: list[tuple[int, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        if row.errors is None:
            if row.is_json and not isinstance(row.values, dict):
                row.errors = {"_row": [Message("row_not_an_object")]}
            else:
                try:
                    values = DONATION.load(row.values) if row.is_json else DONATION.load_text(row.values)
                except Invalid as invalid:
                    row.errors = invalid.errors
                else:
                    checked.append((index, values))
        if row.errors is not None:
            results[index] = invalid_result(row)

    funds = writable_funds(actor, {values["fund_code"] for _, values in checked})
    accepted: list[tuple[int, NewDonation]] = []
    for index, values in checked:
        fund = funds.get(values["fund_code"])
        if fund is None:
            rows[index].errors = {"fund_code": [Message("no_such_fund", {"fund_code": values["fund_code"]})]}
            results[index] = invalid_result(rows[index])
        else:
            accepted.append((index, commands.new_donation(fund, values)))

    outcomes = ledger.record_donations(session, [donation for _, donation in accepted], [ledger.actor_json(actor)])
    commands.count_recorded([donation for _, donation in accepted], outcomes)
    for (index, donation), outcome in zip(accepted, outcomes):
        row = rows[index]
        if outcome.outcome == "recorded":
            results[index] = {"row": row.number, "status": "recorded",
                              "donation": donation_json(commands.RecordedDonation(donation, outcome))}
        elif outcome.outcome == "duplicate":
            row.errors = {"reference": [Message("duplicate_reference", {"reference": donation.reference})]}
            results[index] = invalid_result(row, "duplicate")
        else:  # the ledger has the fund closed, or closing
            row.errors = {"fund_code": [Message(outcome.outcome, {"fund_code": donation.fund.code})]}
            results[index] = invalid_result(row)
    return results  # type: ignore[return-value]  # every row has its result by now


def invalid_result(row: Row, status: str = "invalid") -> dict[str, Any]:
    """A refused row's result: invalid, or a duplicate of a recorded reference."""
    return {"row": row.number, "status": status, **errors_json(row.errors or {})}


def writable_funds(actor: Principal, codes: Iterable[str]) -> dict[str, FundInfo]:
    """The funds among `codes` the caller may post to (a funds service that fails is a 503 still)."""
    funds = {}
    for code in codes:
        try:
            funds[code] = commands.visible_fund(actor, code, write=True)
        except Problem as problem:
            if problem.code != "fund_not_found":
                raise
    return funds
