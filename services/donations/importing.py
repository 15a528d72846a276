"""Importing donations from the spreadsheet fund managers already keep (the pages' import).

Upload, preview, confirm, result:

1. **Upload.** An XLSX workbook (its first sheet) or a CSV file (UTF-8, with or
   without a BOM, or GB18030 as Excel in China saves it) is read at once. Its
   first row names the columns, by their codes (as the API's CSV batch) or as
   people name them (基金代码, 金额, 捐赠人, ...: `HEADER_ALIASES`, the one
   table of them); the values may be written as people write them too (个人,
   是, 现金, 2026/11/21, an Excel date, 50,000.00: `VALUE_ALIASES`, `read_date`,
   shared.page_input's amounts). Each row is then checked by the API's own
   shape (rules.DONATION) and for a fund the user may record to. A column
   that names none of them (备注, 联系电话, 经办人: the spreadsheet a township
   keeps has such) is not imported, and the preview names it (`ignored_columns`).
   A file that cannot be read (its type, no rows, more than `MAX_ROWS` rows,
   a required column missing or a column named twice) is refused as a whole
   and nothing is kept.
2. **Preview.** The file is kept server-side, in the service's own tables
   (`import_batch`, `import_row`, in models.py: who uploaded it, its columns, each row's
   original cells, the values read, its verdict), for `KEEP_FOR`, seen by its
   uploader only (another user, of any organisation, gets 404). Each row's
   verdict: `ready`, `error` (why, naming the column) or `warning`: a row
   without a reference whose fund, donor, amount and date equal a donation
   already recorded, or an earlier row of the same file. Nothing is recorded.
3. **Confirm** (a POST with its CSRF token): under the batch's row lock, a
   batch still `previewed` becomes `recording` and its rows to record become
   `pending` (warned rows too, or `skipped`, as the user chose). Confirming
   again, or from another tab, finds it no longer `previewed` and records
   nothing more.
4. **Recording in chunks.** Each request records at most `CHUNK_ROWS` pending
   rows, under the batch's row lock, by the API's batch recording
   (batch.record_rows: the same checks, duplicates and receipt numbering as
   every donation), and marks those rows `recorded` (with the donation and its
   receipt) or `failed` (with why) in the same transaction. The confirmation
   records the first chunk; the result page asks for the next ones
   (static/import_progress.js, POST .../continue, showing a progress bar; without
   scripts, a button does the same) until none is pending and the batch is
   `done`. A request that fails halfway rolls back its chunk whole: postings
   and row states together, so the next request takes the same rows again,
   and no row is ever recorded twice. Two requests at once wait for each other
   on the lock and the second finds the rows taken.
5. **Result.** Counts, links to the receipts, and the rows not recorded
   (refused at the preview, failed or skipped) as XLSX or CSV: the file's own
   columns (those not imported too) and an error column, to fix and upload again.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from services.donations import batch, documents
from services.donations.models import Donation, ImportBatch, ImportRow
from services.donations.rules import CHANNELS, DONATION, DONOR_KINDS
from shared import i18n
from shared.auth import Principal
from shared.db import MAX_BIG_ID, utcnow
from shared.errors import Problem
from shared.money import CURRENCY
from shared.page_input import normalise
from shared.refusals import Message
from shared.shapes import Invalid

# The limits, in one place.
MAX_ROWS = 10_000                  # data rows a file
MAX_BYTES = 20 * 1024 * 1024       # an uploaded file's size
CHUNK_ROWS = 500                   # rows recorded a request
KEEP_FOR = dt.timedelta(days=7)    # an import is kept this long, confirmed or not

# What a column may be called, by the field it holds (compared without spaces, case or a unit
# in brackets: 金额（元） is 金额). The codes are the API's CSV columns.
_NAMES: dict[str, tuple[str, ...]] = {
    "fund_code": ("基金代码", "基金编号", "基金编码", "基金"),
    "amount": ("金额", "捐赠金额", "捐款金额", "捐赠额"),
    "currency": ("币种", "货币"),
    "donor_name": ("捐赠人", "捐赠人名称", "捐赠人姓名", "捐赠方", "捐赠者", "捐赠单位"),
    "donor_kind": ("捐赠人类型", "捐赠人类别", "捐赠方类型", "类型"),
    "donor_anonymous": ("匿名", "是否匿名"),
    "received_on": ("收到日期", "捐赠日期", "到账日期", "收款日期", "日期"),
    "channel": ("渠道", "方式", "捐赠方式", "收款方式", "支付方式", "捐赠渠道"),
    "purpose": ("用途", "捐赠用途", "指定用途"),
    "reference": ("参考号", "流水号", "交易流水号", "银行流水号", "单号", "凭证号"),
    # a gift in kind's goods (optional)
    "goods_item": ("物品", "物品名称", "物资名称", "品名"),
    "goods_quantity": ("数量",),
    "goods_unit": ("单位", "计量单位"),
    "goods_unit_price": ("单价",),
}
FIELDS = tuple(DONATION.flat_fields)
HEADER_ALIASES = {field: _NAMES[field] for field in FIELDS}
# Columns a spreadsheet often has that say nothing of the donation: read past without a word
# (any other column that names no field is read past too, and the preview names it).
IGNORED_HEADERS = ("序号",)
# Columns that may be left out: those the API may go without, and the currency (always CNY).
OPTIONAL = frozenset({"currency", *batch.OPTIONAL_COLUMNS})

# Values as people write them, by field (compared in lower case, full-width as ASCII).
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "donor_kind": {"个人": "individual", "自然人": "individual", "企业": "enterprise", "公司": "enterprise",
                   "单位": "enterprise", "组织": "organization", "社会组织": "organization",
                   "社会团体": "organization", "团体": "organization", "机构": "organization",
                   **{kind: kind for kind in DONOR_KINDS}},
    "donor_anonymous": {"是": "true", "否": "false", "匿名": "true", "不匿名": "false", "实名": "false",
                        "true": "true", "false": "false", "yes": "true", "no": "false", "y": "true", "n": "false",
                        "1": "true", "0": "false", "√": "true", "✓": "true", "×": "false"},
    "channel": {"现金": "cash", "银行": "bank", "转账": "bank", "银行转账": "bank", "汇款": "bank",
                "微信": "wechat", "微信支付": "wechat", "支付宝": "alipay", "物资": "in_kind", "实物": "in_kind",
                "捐物": "in_kind", "物品": "in_kind", **{channel: channel for channel in CHANNELS}},
    "currency": {"人民币": CURRENCY, "元": CURRENCY, "rmb": CURRENCY, "cny": CURRENCY},
}
VALUE_WORDS = {field: "、".join(word for word in words if not word.isascii()) for field, words in VALUE_ALIASES.items()}
# What a value that is none of the above is refused with.
VALUE_REFUSALS = {"donor_kind": "import_donor_kind", "donor_anonymous": "import_anonymous",
                  "channel": "import_channel"}

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_UNIT = re.compile(r"\([^)]*\)$")


# -- reading a file -----------------------------------------------------------------------

@dataclass
class Sheet:
    """A file's header and its non-blank rows (line number, cells as text)."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def _file_refused(code: str, **params: Any) -> Problem:
    return Problem.field("file", code, **params)


def read_file(raw: bytes) -> Sheet:
    """The uploaded file as text cells: an XLSX workbook's first sheet, or a CSV file."""
    if not raw:
        raise _file_refused("file_required")
    if len(raw) > MAX_BYTES:
        raise _file_refused("import_too_large", max=MAX_BYTES // (1024 * 1024))
    if raw.startswith(b"PK\x03\x04"):
        sheet = _read_xlsx(raw)
    elif raw.startswith(b"\xd0\xcf\x11\xe0") or b"\x00" in raw[:4096]:
        raise _file_refused("import_file_type")  # an old .xls, or no text at all
    else:
        sheet = _read_csv(raw)
    if not any(sheet.header):
        raise _file_refused("import_no_header")
    if not sheet.rows:
        raise _file_refused("batch_empty")
    return sheet


def _read_csv(raw: bytes) -> Sheet:
    for encoding in ("utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8", "gb18030"):
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _file_refused("import_file_type")
    try:
        header, lines = batch.csv_lines(content)
        rows = []
        for line, values in lines:
            if any(value.strip() for value in values):
                rows.append((line, values))
            if len(rows) > MAX_ROWS:
                raise _file_refused("import_too_many_rows", max=MAX_ROWS)
    except Problem as problem:
        if problem.errors and "body" in problem.errors:  # the CSV reader's refusal: shown beside the file
            raise Problem.invalid({"file": problem.errors["body"]}) from None
        raise
    return Sheet([cell.strip() for cell in header], rows)


def _read_xlsx(raw: bytes) -> Sheet:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        raise _file_refused("import_unreadable") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise _file_refused("import_no_header")
        header: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(value) for value in values]
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                continue
            rows.append((line, cells))
            if len(rows) > MAX_ROWS:
                raise _file_refused("import_too_many_rows", max=MAX_ROWS)
    except Problem:
        raise
    except Exception:  # a damaged part of the workbook shows only as it is read
        raise _file_refused("import_unreadable") from None
    finally:
        book.close()
    if header is None:
        raise _file_refused("import_no_header")
    while header and not header[-1]:
        header.pop()
    return Sheet(header, rows)


def cell_text(value: Any) -> str:
    """An XLSX cell as text, never through a float's error: a number as Excel shows it (15
    significant digits: 1280.1 is 1280.1, 1280.0 is 1280), a date as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        shown = format(value, ".15g")
        if "e" in shown:  # so large or so small it is no amount, no date and no reference
            return repr(value)
        return shown
    return str(value)


# -- columns --------------------------------------------------------------------------------

def _plain(text: str) -> str:
    plain = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    return _UNIT.sub("", plain) or plain


_ALIASES = {_plain(alias): field for field, aliases in HEADER_ALIASES.items() for alias in (field, *aliases)}
_IGNORED = {_plain(text) for text in IGNORED_HEADERS}


def map_columns(header: Sequence[str]) -> list[str | None]:
    """The field each column holds (None: a column not imported, named or not); refused naming the
    columns missing or repeated."""
    fields = [_ALIASES.get(_plain(text)) for text in header]
    problems: dict[str, list[Message]] = {}
    repeated = sorted({f for f in fields if f and fields.count(f) > 1}, key=FIELDS.index)
    if repeated:
        shown = "、".join(text for text, field in zip(header, fields) if field in repeated)
        problems.setdefault("file", []).append(Message("import_columns_repeated", {"columns": shown}))
    missing = [field for field in FIELDS if field not in fields and field not in OPTIONAL]
    if missing:
        shown = "、".join(f"{HEADER_ALIASES[field][0]} ({field})" for field in missing)
        problems.setdefault("file", []).append(Message("import_columns_missing", {"columns": shown}))
    if problems:
        raise Problem.invalid(problems)
    return fields


def ignored_columns(record: ImportBatch, rows: Sequence[ImportRow], lang: str | None = None) -> list[str]:
    """The file's columns not imported, as the file names them (序号 aside), once each; a column
    without a name only when one of its cells holds something, named by its place."""
    names: dict[str, None] = {}
    for place, (text, field) in enumerate(record.columns):
        if field is not None or (text and _plain(text) in _IGNORED):
            continue
        if text and text.strip():
            names[text.strip()] = None
        elif any(place < len(row.cells) and row.cells[place].strip() for row in rows):
            names[i18n.translate("column %(place)s, without a name", lang) % {"place": place + 1}] = None
    return list(names)


# -- values ---------------------------------------------------------------------------------

def read_date(text: str) -> str | None:
    """A date as people and Excel write it, as YYYY-MM-DD; None if it is none."""
    plain = unicodedata.normalize("NFKC", text).strip()
    match = _DATE.fullmatch(plain) or _COMPACT_DATE.fullmatch(plain)
    try:
        if match:
            return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        if re.fullmatch(r"\d{1,5}(?:\.0+)?", plain):  # an Excel serial date (a date cell saved as a number)
            serial = int(float(plain))
            if 0 < serial < 100_000:
                return (_EXCEL_EPOCH + dt.timedelta(days=serial)).isoformat()
    except (ValueError, OverflowError):
        pass
    return None


def row_values(fields: Sequence[str | None], cells: Sequence[str]) -> tuple[dict[str, str], dict[str, list[Message]]]:
    """A row's cells as the API's CSV would hold them, by field, and what cannot be read at all."""
    values: dict[str, str] = {}
    refused: dict[str, list[Message]] = {}
    for field, cell in zip(fields, cells):
        if field is None:
            continue
        text = cell.strip()
        if field in VALUE_ALIASES and text:
            plain = unicodedata.normalize("NFKC", text).strip().lower()
            if plain in VALUE_ALIASES[field]:
                text = VALUE_ALIASES[field][plain]
            elif field in VALUE_REFUSALS:
                refused[field] = [Message(VALUE_REFUSALS[field])]
        elif field == "received_on" and text:
            day = read_date(text)
            if day is None:
                refused[field] = [Message("import_date")]
            else:
                text = day
        values[field] = text
    if not values.get("currency"):
        values["currency"] = CURRENCY
    return values, refused


def check_row(fields: Sequence[str | None], cells: Sequence[str]) -> tuple[dict[str, str] | None, dict[str, Any] | None,
                                                                          dict[str, list[Message]]]:
    """A row's values (as text, for batch.record_rows), as loaded by the API's shape, and its refusals."""
    if len(cells) > len(fields) and any(cell.strip() for cell in cells[len(fields):]):
        return None, None, {"_row": [Message("row_width", {"fields": len(cells), "expected": len(fields)})]}
    values, refused = row_values(fields, list(cells) + [""] * (len(fields) - len(cells)))
    values, unreadable = normalise(DONATION, values)
    refused.update(unreadable)
    try:
        loaded = DONATION.load_text(values)
    except Invalid as invalid:
        return values, None, {**invalid.errors, **refused}
    if refused:
        return values, None, refused
    return values, loaded, {}


# -- upload and preview ---------------------------------------------------------------------

def _messages_json(errors: dict[str, list[Message]]) -> dict[str, list[dict[str, Any]]]:
    return {field: [{"code": m.code, "params": dict(m.params)} for m in messages] for field, messages in errors.items()}


def upload(session: Session, actor: Principal, filename: str, raw: bytes) -> ImportBatch:
    """Read and check the file, keep it with each row's verdict; nothing is recorded."""
    sheet = read_file(raw)
    fields = map_columns(sheet.header)
    now = utcnow()
    session.execute(delete(ImportBatch).where(ImportBatch.expires_at < now, ImportBatch.status != "recording"))

    checked = [(line, cells, *check_row(fields, cells)) for line, cells in sheet.rows]
    funds = batch.writable_funds(actor, {loaded["fund_code"] for *_, loaded, _ in checked if loaded})
    rows: list[dict[str, Any]] = []
    for line, cells, values, loaded, errors in checked:
        if loaded is not None and loaded["fund_code"] not in funds:
            errors = {"fund_code": [Message("no_such_fund", {"fund_code": loaded["fund_code"]})]}
            loaded = None
        rows.append({"line": line, "cells": cells, "values": values, "loaded": loaded, "errors": errors})
    _look_for_repeats(session, rows, funds)

    record = ImportBatch(organization_id=actor.organization_id, created_by=actor.actor,
                         created_by_name=actor.name, filename=(filename or "import")[:255],
                         columns=[[text, field] for text, field in zip(sheet.header, fields)],
                         status="previewed", row_count=len(rows), created_at=now, expires_at=now + KEEP_FOR)
    session.add(record)
    session.flush()
    session.execute(insert(ImportRow), [{
        "batch_id": record.id, "line": row["line"], "cells": row["cells"], "values": row["values"],
        "amount_fen": row["loaded"]["amount"].fen if row["loaded"] else None,
        "verdict": "error" if row["errors"] else "warning" if row.get("similar") else "ready",
        "errors": _messages_json(row["errors"]) if row["errors"] else None, "similar": row.get("similar"),
        "state": "new"} for row in rows])
    return record


def _look_for_repeats(session: Session, rows: list[dict[str, Any]], funds: dict[str, Any]) -> None:
    """Rows that may be recorded already: a reference recorded or repeated (an error: the ledger
    would refuse it), or, without a reference, the same fund, donor, amount and date as a donation
    recorded or an earlier row (a warning)."""
    good = [row for row in rows if row["loaded"] is not None]
    seen_references: dict[tuple[int, str], int] = {}
    seen_gifts: dict[tuple[str, str, int, dt.date], int] = {}
    for row in good:
        loaded = row["loaded"]
        organization = funds[loaded["fund_code"]].organization_id
        if loaded.get("reference"):
            key = (organization, loaded["reference"])
            if key in seen_references:
                row["errors"] = {"reference": [Message("import_reference_repeated", {
                    "reference": loaded["reference"], "line": seen_references[key]})]}
            else:
                seen_references[key] = row["line"]
        else:
            gift = (loaded["fund_code"], loaded["donor"]["name"], loaded["amount"].fen, loaded["received_on"])
            if gift in seen_gifts:
                row["similar"] = {"line": seen_gifts[gift]}
            else:
                seen_gifts[gift] = row["line"]

    recorded_references = set()
    references = list(seen_references)
    for start in range(0, len(references), 1000):
        recorded_references |= set(session.execute(select(Donation.organization_id, Donation.reference).where(
            tuple_(Donation.organization_id, Donation.reference).in_(references[start:start + 1000]))).all())
    recorded_gifts: dict[tuple[str, str, int, dt.date], Donation] = {}
    gifts = list(seen_gifts)
    for start in range(0, len(gifts), 1000):
        for donation in session.scalars(select(Donation).where(
                Donation.status == "recorded",
                tuple_(Donation.fund_code, Donation.donor_name, Donation.amount_fen, Donation.received_on)
                .in_(gifts[start:start + 1000])).order_by(Donation.id)):
            recorded_gifts.setdefault((donation.fund_code, donation.donor_name, donation.amount_fen,
                                       donation.received_on), donation)
    for row in good:
        loaded = row["loaded"]
        if row["errors"]:
            row["loaded"] = None
            continue
        reference = loaded.get("reference")
        if reference and (funds[loaded["fund_code"]].organization_id, reference) in recorded_references:
            row["errors"] = {"reference": [Message("duplicate_reference", {"reference": reference})]}
            row["loaded"] = None
        elif not reference and "similar" not in row:
            recorded = recorded_gifts.get((loaded["fund_code"], loaded["donor"]["name"], loaded["amount"].fen,
                                           loaded["received_on"]))
            if recorded is not None:
                row["similar"] = {"donation_id": recorded.id, "receipt_no": recorded.receipt_no}


def get_batch(session: Session, actor: Principal, batch_id: int, *, lock: bool = False) -> ImportBatch:
    """The user's own import; anyone else's (or none) is 404."""
    query = select(ImportBatch).where(ImportBatch.id == batch_id)
    if lock:
        query = query.with_for_update()
    found = session.scalar(query) if 0 < batch_id <= MAX_BIG_ID else None
    if found is None or found.created_by != actor.actor or found.organization_id != actor.organization_id:
        raise Problem("import_not_found", id=batch_id)
    return found


def expired(record: ImportBatch) -> bool:
    """An import not confirmed within KEEP_FOR: it can no longer be confirmed."""
    return record.status == "previewed" and record.expires_at < utcnow()


def batch_rows(session: Session, record: ImportBatch) -> list[ImportRow]:
    return list(session.scalars(select(ImportRow).where(ImportRow.batch_id == record.id).order_by(ImportRow.line)))


# -- confirming and recording -------------------------------------------------------------

def confirm(session: Session, actor: Principal, batch_id: int, include_warned: bool) -> ImportBatch:
    """Confirm a previewed import and record its first chunk; a batch confirmed already is left as
    it is (confirming twice records nothing twice)."""
    record = get_batch(session, actor, batch_id, lock=True)
    if record.status != "previewed":
        return record
    if expired(record):
        raise Problem("import_expired")
    record.status, record.include_warned, record.confirmed_at = "recording", include_warned, utcnow()
    session.execute(update(ImportRow).where(ImportRow.batch_id == record.id, ImportRow.verdict == "ready")
                    .values(state="pending"))
    session.execute(update(ImportRow).where(ImportRow.batch_id == record.id, ImportRow.verdict == "warning")
                    .values(state="pending" if include_warned else "skipped"))
    session.execute(update(ImportRow).where(ImportRow.batch_id == record.id, ImportRow.verdict == "error")
                    .values(state="failed"))
    return record_chunk(session, actor, record)


def record_next(session: Session, actor: Principal, batch_id: int) -> ImportBatch:
    """Record the next chunk of a confirmed import (nothing if it is done, or not confirmed)."""
    record = get_batch(session, actor, batch_id, lock=True)
    return record_chunk(session, actor, record) if record.status == "recording" else record


def record_chunk(session: Session, actor: Principal, record: ImportBatch) -> ImportBatch:
    """At most CHUNK_ROWS pending rows recorded, by the API's batch recording; the caller holds the
    batch's row lock, and the rows' states commit with their donations."""
    pending = list(session.scalars(select(ImportRow).where(ImportRow.batch_id == record.id,
                                                           ImportRow.state == "pending")
                                   .order_by(ImportRow.line).limit(CHUNK_ROWS)))
    if pending:
        rows = [batch.Row(row.line, dict(row.values or {}), False) for row in pending]
        results = batch.record_rows(session, actor, rows)
        for row, result, checked in zip(pending, results, rows):
            if result["status"] == "recorded":
                row.state, row.donation_id = "recorded", result["donation"]["id"]
                row.receipt_no = result["donation"]["receipt_no"]
            else:
                row.state, row.errors = "failed", _messages_json(checked.errors or {})
        session.flush()
    left = session.scalar(select(ImportRow.line).where(ImportRow.batch_id == record.id,
                                                       ImportRow.state == "pending").limit(1))
    if left is None:
        record.status, record.finished_at = "done", utcnow()
    session.flush()
    return record


# What makes a row not recorded a duplicate (else it is invalid).
DUPLICATE_CODES = frozenset({"duplicate_reference", "import_reference_repeated"})


@dataclass(frozen=True)
class Progress:
    """How far a confirmed import has got: rows by what became of them, and the amount recorded."""

    status: str
    total: int
    to_record: int
    recorded: int
    failed: int
    skipped: int
    pending: int
    duplicates: int
    recorded_fen: int

    @property
    def invalid(self) -> int:
        return self.failed + self.skipped - self.duplicates

    @property
    def percent(self) -> int:
        return 100 if not self.to_record else (100 * (self.to_record - self.pending)) // self.to_record

    def json(self) -> dict[str, Any]:
        return {"status": self.status, "total": self.total, "to_record": self.to_record, "recorded": self.recorded,
                "failed": self.failed, "skipped": self.skipped, "pending": self.pending, "percent": self.percent}


def progress(record: ImportBatch, rows: Iterable[ImportRow]) -> Progress:
    counts = {"recorded": 0, "failed": 0, "skipped": 0, "pending": 0, "new": 0}
    to_record = recorded_fen = total = duplicates = 0
    for row in rows:
        total += 1
        counts[row.state] += 1
        if row.verdict == "ready" or (row.verdict == "warning" and record.include_warned):
            to_record += 1
        if row.state == "recorded":
            recorded_fen += row.amount_fen or 0
        elif row.state == "skipped" or (row.state == "failed" and any(
                message["code"] in DUPLICATE_CODES for messages in (row.errors or {}).values() for message in messages)):
            duplicates += 1
    return Progress(record.status, total, to_record, counts["recorded"], counts["failed"], counts["skipped"],
                    counts["pending"], duplicates, recorded_fen)


# -- what a row says, and the rows to fix -------------------------------------------------------

def row_messages(record: ImportBatch, row: ImportRow, labels: Mapping[str, Any] | None = None,
                 lang: str | None = None) -> list[str]:
    """Why a row is refused, failed or skipped (or what it resembles), each naming its column as the
    file does (a column named by its code, by `labels`), in the reader's language."""
    shown = []
    for field, messages in (row.errors or {}).items():
        column = record.header_of(field) if field != "_row" else None
        if column == field and labels and field in labels:
            column = str(labels[field])
        for message in messages:
            words = i18n.render(message["code"], {**message["params"], "field": column or ""}, lang)
            shown.append(f"{column}：{words}" if column else words)
    if row.state == "skipped":
        shown.append(i18n.render("import_skipped", {}, lang))
    if row.similar and row.state != "recorded":
        shown.append(warning_text(row, lang))
    return shown


def warning_text(row: ImportRow, lang: str | None = None) -> str:
    similar = row.similar or {}
    if "line" in similar:
        return i18n.render("import_looks_repeated", {"line": similar["line"]}, lang)
    return i18n.render("import_looks_recorded", {"receipt_no": similar.get("receipt_no", "")}, lang)


def rows_to_fix(record: ImportBatch, rows: Iterable[ImportRow]) -> list[ImportRow]:
    """The rows not recorded and not to be: refused at the preview, failed, or skipped."""
    return [row for row in rows if row.verdict == "error" or row.state in ("failed", "skipped")]


def export_rows(record: ImportBatch, rows: Sequence[ImportRow], error_column: str, kind: str,
                labels: Mapping[str, Any] | None = None) -> bytes:
    """The rows to fix, with the file's own columns and an error column, as XLSX or CSV (UTF-8 with a BOM,
    as Excel opens it)."""
    header = [text for text, _ in record.columns] + [error_column]
    lines = [[*row.cells[:len(record.columns)], *[""] * (len(record.columns) - len(row.cells)),
              "；".join(row_messages(record, row, labels))] for row in rows]
    if kind == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(lines)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    return xlsx(header, lines)


def xlsx(header: list[str], lines: Iterable[list[str]]) -> bytes:
    """A workbook of one sheet, every cell text (an amount, a date or a reference stays as written;
    a cell typed as `=...` stays text, never a formula: the pages' XLSX writer, documents.py)."""
    out = io.BytesIO()
    book = documents.workbook(out, "donations")
    sheet = book.add_worksheet("donations")
    for number, line in enumerate([header, *lines]):
        for column, text in enumerate(line):
            sheet.write_string(number, column, text)
    book.close()
    return out.getvalue()


_EXAMPLE = {"fund_code": "TL-HQ-001", "amount": "1280.00", "currency": "人民币", "donor_name": "铜陵某某有限公司",
            "donor_kind": "企业", "donor_anonymous": "否", "received_on": "2026/8/3", "channel": "转账",
            "purpose": "助学", "reference": "ERP-2026-0001"}
TEMPLATE_HEADER = [HEADER_ALIASES[field][0] for field in FIELDS]
TEMPLATE_EXAMPLE = [_EXAMPLE.get(field, "") for field in FIELDS]


def template_xlsx() -> bytes:
    """The XLSX template: the Chinese headers and an example row."""
    return xlsx(TEMPLATE_HEADER, [TEMPLATE_EXAMPLE])

