"""POST /donations/batch: many donations from a JSON list or a CSV file.

Every row gets a result: `recorded` (with the donation), `duplicate` (its
reference is already recorded for the fund's organisation, or earlier in this
batch) or `invalid` (with errors by field and the row's line number). Bad rows
never block good ones. The good rows are posted together (ledger.py), with
COPY on PostgreSQL: a chamber's upload of thousands of rows takes a moment.

Rows are checked here by hand rather than through marshmallow, which would
cost more than the posting itself at this volume; the rules are those of
DonationCreateSchema and the tests hold the two to the same answers.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from typing import Any

from flask import Request, Response
from sqlalchemy import ARRAY, String, any_, cast, select, text
from sqlalchemy.orm import Session

from services.donations import commands
from services.donations.dates import today
from services.donations.ledger import Ledger, NewDonation
from services.donations.models import CHANNELS, DONOR_KINDS, Donation
from services.donations.schemas import ANONYMOUS_NAME, EARLIEST_DATE, ISO_DATE
from shared.auth import FundInfo, Principal
from shared.db import utcnow
from shared.errors import NotFound, Problem, ValidationProblem
from shared.money import AMOUNT_PATTERN, MAX_AMOUNT_FEN, MIN_AMOUNT_FEN, Money

CSV_COLUMNS = ("fund_code", "amount", "currency", "donor_name", "donor_kind", "donor_anonymous",
               "received_on", "channel", "purpose", "reference")
OPTIONAL_COLUMNS = {"purpose", "reference"}
CSV_EXAMPLE = ("fund_code,amount,currency,donor_name,donor_kind,donor_anonymous,received_on,channel,purpose,reference\n"
               "TL-HQ-001,1280.00,CNY,铜陵某某有限公司,enterprise,false,2026-08-03,bank,助学,ERP-2026-0001\n")
MAX_ROWS = 50_000
FUND_CODE = re.compile(r"[A-Z0-9-]{3,32}")
JSON_NAMES = {"donor_name": "donor.name", "donor_kind": "donor.kind", "donor_anonymous": "donor.anonymous"}
CSV_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "": False}


class Row:
    """One input row: where it was, and its fields under the CSV column names."""

    __slots__ = ("number", "fields", "errors")

    def __init__(self, number: int, fields: dict[str, Any], errors: dict[str, list[str]] | None = None) -> None:
        self.number = number
        self.fields = fields
        self.errors = errors or {}


# -- reading -------------------------------------------------------------------

def read_rows(request: Request) -> tuple[list[Row], bool]:
    """The request's rows, and whether they came as JSON (for error field names)."""
    mimetype = request.mimetype
    if mimetype in ("text/csv", "application/csv"):
        return read_csv(request.get_data(cache=False)), False
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return read_json(request.get_data(cache=True)), True
    raise Problem("Send a JSON list (application/json) or a CSV file (text/csv).", status=415,
                  title="Unsupported media type", slug="unsupported-media-type",
                  errors={"Content-Type": [f"{mimetype or 'none'} is neither application/json nor text/csv."]})


def read_json(raw: bytes) -> list[Row]:
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        raise Problem("The body is not valid JSON.", errors={"body": ["Invalid JSON."]}, slug="malformed") from None
    if not isinstance(items, list):
        raise ValidationProblem.field("body", "Must be a JSON list of donations.")
    _check_size(len(items))
    rows = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            rows.append(Row(number, {}, {"_row": ["Must be an object."]}))
            continue
        fields = {k: v for k, v in item.items() if k != "donor"}
        errors: dict[str, list[str]] = {name: ["Unknown field."] for name in fields
                                        if name not in CSV_COLUMNS or name.startswith("donor_")}
        donor = item.get("donor")
        if isinstance(donor, dict):
            for key, value in donor.items():
                if key in ("name", "kind", "anonymous"):
                    fields[f"donor_{key}"] = value
                else:
                    errors[f"donor.{key}"] = ["Unknown field."]
        else:
            errors["donor"] = ["Missing data for required field." if donor is None
                               else "Must be an object with name, kind and anonymous."]
        rows.append(Row(number, fields, errors))
    return rows


def read_csv(raw: bytes) -> list[Row]:
    """CSV in UTF-8 (a BOM is allowed); rows are numbered by their line in the file."""
    try:
        content = raw.decode("utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8")
    except UnicodeDecodeError as error:
        raise ValidationProblem.field("body", f"The CSV file is not UTF-8 (byte {error.start}).") from None
    if "\x00" in content:
        raise ValidationProblem.field("body", "The CSV file contains NUL characters.")
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationProblem.field("body", "The CSV file is empty: it needs a header row.") from None
    header = [name.strip() for name in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    missing = [name for name in CSV_COLUMNS if name not in header and name not in OPTIONAL_COLUMNS]
    if unknown or missing or len(set(header)) != len(header):
        errors = {name: ["Unknown column."] for name in unknown}
        errors.update({name: ["Missing column."] for name in missing})
        if len(set(header)) != len(header):
            errors["header"] = ["A column appears twice."]
        raise ValidationProblem(f"The header row must be: {','.join(CSV_COLUMNS)} (the last two optional).",
                                errors=errors)
    rows = []
    width = len(header)
    last_line = reader.line_num
    try:
        for values in reader:
            # A row starts on the line after the last one read (a quoted field may span lines).
            number, last_line = last_line + 1, reader.line_num
            if not values:
                continue  # a blank line
            if len(values) != width:
                rows.append(Row(number, {}, {"_row": [f"Has {len(values)} fields; the header has {width}."]}))
                continue
            rows.append(Row(number, dict(zip(header, values))))
            if len(rows) > MAX_ROWS:
                _check_size(len(rows))
    except csv.Error as error:
        raise ValidationProblem.field("body", f"Line {reader.line_num}: {error}.") from None
    _check_size(len(rows))
    return rows


def _check_size(count: int) -> None:
    if count == 0:
        raise ValidationProblem.field("body", "There are no rows.")
    if count > MAX_ROWS:
        raise ValidationProblem.field("body", f"At most {MAX_ROWS} rows a request; send the rest in another.")


# -- checking ------------------------------------------------------------------

def _text(fields: dict[str, Any], name: str, errors: dict[str, list[str]], *, required: bool,
          max_length: int, strip: bool = True, allow_blank: bool = False, nullable: bool = False) -> str | None:
    """A text field as DonationCreateSchema reads it: trimmed, no NUL, no lone surrogate.

    Absent gives None, and so does null if `nullable`; blank is an error unless `allow_blank`.
    """
    value = fields.get(name)
    if value is None:
        if name in fields and not nullable:
            errors[name] = ["Field may not be null."]
        elif required:
            errors[name] = ["Missing data for required field."]
        return None
    if not isinstance(value, str):
        errors[name] = ["Not a valid string."]
        return None
    value = value.strip() if strip else value
    if "\x00" in value:
        errors[name] = ["Must not contain NUL characters."]
    elif not _encodable(value):
        errors[name] = ["Must be valid Unicode text (no lone surrogates)."]
    elif not value and not allow_blank:
        errors[name] = ["Must not be empty."]
    elif len(value) > max_length:
        errors[name] = [f"Longer than maximum length {max_length}."]
    else:
        return value
    return None


def _encodable(value: str) -> bool:
    """No lone surrogate: JSON may spell one (\\ud800), which no database stores."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_row(row: Row, is_json: bool, latest: dt.date) -> dict[str, Any] | None:
    """The row's values, or None with `row.errors` filled in."""
    fields, errors = row.fields, row.errors
    code = _text(fields, "fund_code", errors, required=True, max_length=32, strip=False)
    if code is not None and not FUND_CODE.fullmatch(code):
        errors["fund_code"] = ["3-32 characters of A-Z, 0-9 and '-'."]
    amount = fields.get("amount")
    fen = None
    if amount is None or amount == "":
        errors["amount"] = ["Missing data for required field."]
    elif not isinstance(amount, str):
        errors["amount"] = ['Must be a string with two decimals, such as "1280.00", not a number.']
    elif not AMOUNT_PATTERN.fullmatch(amount):
        errors["amount"] = ['Must be an amount with exactly two decimals, such as "1280.00".']
    else:
        fen = Money.parse(amount).fen
        if not MIN_AMOUNT_FEN <= fen <= MAX_AMOUNT_FEN:
            errors["amount"] = ["Must be between 0.01 and 1000000000.00."]
    currency = fields.get("currency")
    if currency is None or currency == "":
        errors["currency"] = ["Missing data for required field."]
    elif currency != "CNY":
        errors["currency"] = ["Must be one of: CNY."]
    name = _text(fields, "donor_name", errors, required=True, max_length=200)
    kind = fields.get("donor_kind")
    if kind is None or kind == "":
        errors["donor_kind"] = ["Missing data for required field."]
    elif kind not in DONOR_KINDS:
        errors["donor_kind"] = [f"Must be one of: {', '.join(DONOR_KINDS)}."]
    anonymous = fields.get("donor_anonymous", False)
    if is_json:
        if not isinstance(anonymous, bool):
            errors["donor_anonymous"] = ["Not a valid boolean."]
    elif isinstance(anonymous, str) and anonymous.strip().lower() in CSV_BOOLEANS:
        anonymous = CSV_BOOLEANS[anonymous.strip().lower()]
    else:
        errors["donor_anonymous"] = ["Must be true or false."]
    received = fields.get("received_on")
    received_on = None
    if received is None or received == "":
        errors["received_on"] = ["Missing data for required field."]
    else:
        try:
            if not isinstance(received, str) or not ISO_DATE.fullmatch(received):
                raise ValueError
            received_on = dt.date.fromisoformat(received)
        except ValueError:
            errors["received_on"] = ["Not a valid date."]
        else:
            if received_on < EARLIEST_DATE:
                errors["received_on"] = ["Must not be before 2000-01-01."]
            elif received_on > latest:
                errors["received_on"] = ["Must not be in the future."]
    channel = fields.get("channel")
    if channel is None or channel == "":
        errors["channel"] = ["Missing data for required field."]
    elif channel not in CHANNELS:
        errors["channel"] = [f"Must be one of: {', '.join(CHANNELS)}."]
    purpose = _text(fields, "purpose", errors, required=False, max_length=2000, allow_blank=True) or ""
    # A blank CSV cell is no reference; in JSON that is null or leaving it out, as for a single donation.
    reference = _text(fields, "reference", errors, required=False, max_length=100, nullable=True,
                      allow_blank=not is_json) or None
    if errors:
        if is_json:
            row.errors = {JSON_NAMES.get(k, k): v for k, v in errors.items()}
        return None
    return {"fund_code": code, "amount_fen": fen, "donor_name": name, "donor_kind": kind,
            "donor_anonymous": anonymous, "received_on": received_on, "channel": channel,
            "purpose": purpose, "reference": reference}


# -- recording -------------------------------------------------------------------

def record_batch(session: Session, actor: Principal, request: Request) -> Response:
    rows, is_json = read_rows(request)
    results = record_rows(session, actor, rows, is_json)
    body = json.dumps({"results": results}, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=200, mimetype="application/json")


def record_rows(session: Session, actor: Principal, rows: list[Row], is_json: bool) -> list[dict[str, Any]]:
    """Check and record `rows` (from read_csv or read_json): one result per row, in order.

    The API's batch and the web page's CSV import both answer with these.
    """
    latest = today()
    results: list[dict[str, Any] | None] = [None] * len(rows)
    checked: list[tuple[int, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        values = check_row(row, is_json, latest) if not row.errors else None
        if values is None:
            results[index] = _invalid(row)
        else:
            checked.append((index, values))

    funds = _funds(actor, {values["fund_code"] for _, values in checked})
    ledger = Ledger(session)
    _lock_organizations(session, {info.organization_id for info in funds.values()})
    # The ledger's own flag says whether a fund is closed (the funds service's word above may
    # be seconds old); its rows stay locked until commit, so none closes before the posting.
    ledger.ensure_funds(funds.values())
    closed = {code for code, fund in ledger.lock_funds(funds).items() if fund.closed}
    accepted: list[tuple[int, NewDonation]] = []
    for index, values in checked:
        info = funds.get(values["fund_code"])
        problem = ("No such fund." if info is None else
                   "The fund is closed and takes no donations." if info.status == "closed" or info.code in closed
                   else None)
        if problem:
            rows[index].errors = {"fund_code": [problem]}
            results[index] = _invalid(rows[index])
        else:
            assert info is not None
            accepted.append((index, NewDonation(fund=info, **{k: v for k, v in values.items() if k != "fund_code"})))

    duplicates = _already_recorded(session, accepted)
    to_record: list[tuple[int, NewDonation]] = []
    seen: set[tuple[int, str]] = set()
    for index, donation in accepted:
        key = (donation.fund.organization_id, donation.reference or "")
        if donation.reference is not None and (key in duplicates or key in seen):
            results[index] = {"row": rows[index].number, "status": "duplicate",
                              "errors": {"reference": ["Already recorded for this organisation."]}}
            continue
        if donation.reference is not None:
            seen.add(key)
        to_record.append((index, donation))

    recorded = ledger.record_donations([d for _, d in to_record], actor=actor.actor, actor_name=actor.name,
                                       organization_id=actor.organization_id,
                                       request_id=commands._request_id(), now=utcnow())
    for (index, _), donation in zip(to_record, recorded):
        results[index] = {"row": rows[index].number, "status": "recorded", "donation": donation_json(donation)}
    return results  # type: ignore[return-value]  # every row has its result by now


def _invalid(row: Row) -> dict[str, Any]:
    return {"row": row.number, "status": "invalid", "errors": row.errors}


def _funds(actor: Principal, codes: Iterable[str]) -> dict[str, FundInfo]:
    funds = {}
    for code in codes:
        try:
            funds[code] = commands.writable_fund(actor, code)
        except (NotFound, ValidationProblem):
            continue
    return funds


def _lock_organizations(session: Session, organization_ids: Iterable[int]) -> None:
    """Serialise batches of one organisation, so that two cannot both record a reference."""
    if session.get_bind().dialect.name == "postgresql":
        for organization_id in sorted(organization_ids):
            session.execute(text("SELECT pg_advisory_xact_lock(7301, :id)"), {"id": organization_id})


def _already_recorded(session: Session, accepted: list[tuple[int, NewDonation]]) -> set[tuple[int, str]]:
    by_organization: dict[int, set[str]] = {}
    for _, donation in accepted:
        if donation.reference is not None:
            by_organization.setdefault(donation.fund.organization_id, set()).add(donation.reference)
    found: set[tuple[int, str]] = set()
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    for organization_id, references in by_organization.items():
        listed = list(references)
        # PostgreSQL takes the whole list as one array parameter; SQLite has
        # no arrays, and at most 32766 parameters a statement.
        step = len(listed) if on_postgresql else 5000
        for start in range(0, len(listed), step):
            part = listed[start:start + step]
            matches = (Donation.reference == any_(cast(part, ARRAY(String))) if on_postgresql
                       else Donation.reference.in_(part))
            found.update((organization_id, reference) for reference in session.scalars(
                select(Donation.reference).where(Donation.organization_id == organization_id, matches)))
    return found


def donation_json(row: dict[str, Any]) -> dict[str, Any]:
    """A new donation as the API shows it: DonationSchema's shape, built fast."""
    amount = Money(row["amount_fen"])
    anonymous = row["donor_anonymous"]
    return {
        "id": row["id"], "fund_code": row["fund_code"], "amount": str(amount),
        "amount_in_words": amount.in_chinese_capitals(), "currency": row["currency"],
        "donor": {"name": ANONYMOUS_NAME if anonymous else row["donor_name"], "kind": row["donor_kind"],
                  "anonymous": anonymous},
        "received_on": row["received_on"].isoformat(), "channel": row["channel"], "purpose": row["purpose"],
        "reference": row["reference"], "receipt_no": f"{row['receipt_year']}-{row['receipt_seq']:06d}",
        "status": row["status"], "created_at": row["created_at"].isoformat(), "reversed_at": None,
        "reversal_reason": None, "reversal_entry_id": None,
    }
