"""The pages' donation import: upload, preview, confirm, result (see importing.py for the flow).

Registered on the donations service's `web` blueprint (web.py). Views are
thin and never commit: the request commits, so a refused upload (422) keeps
nothing, and each chunk recorded commits with its rows' states.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from services.donations import batch, importing
from services.donations.forms import (
    IMPORT_COLUMN_LABELS, IMPORT_ERROR_COLUMN, IMPORT_STATE_LABELS, IMPORT_VERDICT_LABELS, ImportConfirmForm,
    ImportContinueForm, ImportForm,
)
from services.donations.web import bp
from shared import i18n
from shared.auth import login_required_for
from shared.db import db_session
from shared.errors import Problem

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Chinese words in a sentence of another language: the names of columns and values people type.
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff][\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff08\uff09\uff0c\uff1a]*")


@bp.app_template_filter("chinese_marked")
def chinese_marked(text: str) -> Markup:
    """The text with its Chinese words marked as Chinese (lang="zh-CN"), for readers and screen readers
    of an English page (a Chinese page is Chinese throughout)."""
    if i18n.language() == "zh":
        return Markup(escape(text))
    return Markup(HAN.sub(lambda m: f'<span lang="zh-CN">{m.group(0)}</span>', str(escape(text))))


@bp.route("/import", methods=["GET", "POST"])
@login_required_for("donations:write")
def donation_import() -> Any:
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            if not upload:
                raise Problem.field("file", "file_required")
            record = importing.upload(db_session(), current_user, upload.filename or "",
                                      upload.read(importing.MAX_BYTES + 1))
        except Problem as problem:
            if not problem.errors:
                raise
            form.file.errors = [*form.file.errors, *_file_errors(problem)]
        else:
            return redirect(url_for("web.import_batch", batch_id=record.id), 303)
    return _upload_page(form), 422 if form.errors else 200


def _upload_page(form: ImportForm) -> str:
    return render_template("donations/import.html", form=form, aliases=importing.HEADER_ALIASES,
                           optional=importing.OPTIONAL, value_words=importing.VALUE_WORDS,
                           max_rows=importing.MAX_ROWS, max_megabytes=importing.MAX_BYTES // (1024 * 1024),
                           template_header=importing.TEMPLATE_HEADER, template_example=importing.TEMPLATE_EXAMPLE,
                           csv_columns=batch.CSV_COLUMNS, csv_optional=batch.OPTIONAL_COLUMNS,
                           column_labels=IMPORT_COLUMN_LABELS)


def _file_errors(problem: Problem) -> list[str]:
    """Why the whole file was refused, in the reader's language."""
    messages = []
    for name, found in (problem.errors or {}).items():
        shown = [i18n.render(m.code, m.params) for m in found]
        messages.append(" ".join(shown) if name in ("body", "file") else f"{name}：{'、'.join(shown)}")
    return messages or [problem.in_language()[0]]


@bp.get("/import/template.csv")
@login_required_for("donations:read")
def import_template() -> Response:
    """The API's header row; with a BOM so that Excel opens it as UTF-8 (the import accepts one)."""
    body = "\ufeff" + ",".join(batch.CSV_COLUMNS) + "\r\n"
    return Response(body.encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="donations-template.csv"'})


@bp.get("/import/template.xlsx")
@login_required_for("donations:read")
def import_template_xlsx() -> Response:
    """The Chinese headers and an example row."""
    return Response(importing.template_xlsx(), mimetype=XLSX_TYPE,
                    headers={"Content-Disposition": 'attachment; filename="donations-template.xlsx"'})


@bp.get("/import/<int:batch_id>")
@login_required_for("donations:write")
def import_batch(batch_id: int) -> Any:
    """The preview of an import not yet confirmed, else its result (with its progress while it records)."""
    session = db_session()
    record = importing.get_batch(session, current_user, batch_id)
    rows = importing.batch_rows(session, record)
    progress = importing.progress(record, rows)
    template = "donations/import_preview.html" if record.status == "previewed" else "donations/import_result.html"
    verdicts = {verdict: sum(1 for row in rows if row.verdict == verdict) for verdict in IMPORT_VERDICT_LABELS}
    return render_template(
        template, batch=record, rows=rows, progress=progress, verdicts=verdicts,
        ignored=importing.ignored_columns(record, rows),
        messages={row.line: importing.row_messages(record, row, IMPORT_COLUMN_LABELS) for row in rows},
        ready_fen=sum(row.amount_fen or 0 for row in rows if row.verdict == "ready"),
        warned_fen=sum(row.amount_fen or 0 for row in rows if row.verdict == "warning"),
        to_fix=len(importing.rows_to_fix(record, rows)), verdict_labels=IMPORT_VERDICT_LABELS,
        state_labels=IMPORT_STATE_LABELS, confirm_form=ImportConfirmForm(formdata=None),
        expired=i18n.render("import_expired") if importing.expired(record) else None,
        continue_form=ImportContinueForm(formdata=None))


@bp.post("/import/<int:batch_id>/confirm")
@login_required_for("donations:write")
def import_confirm(batch_id: int) -> Any:
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        raise Problem("csrf_failed")
    importing.confirm(db_session(), current_user, batch_id, bool(form.include_warned.data))
    return redirect(url_for("web.import_batch", batch_id=batch_id), 303)


@bp.post("/import/<int:batch_id>/continue")
@login_required_for("donations:write")
def import_continue(batch_id: int) -> Any:
    """The next rows of a confirmed import recorded: its progress as JSON (the page's script), or the page."""
    form = ImportContinueForm()
    if not form.validate_on_submit():
        raise Problem("csrf_failed")
    session = db_session()
    record = importing.record_next(session, current_user, batch_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(importing.progress(record, importing.batch_rows(session, record)).json())
    return redirect(url_for("web.import_batch", batch_id=batch_id), 303)


@bp.get("/import/<int:batch_id>/progress")
@login_required_for("donations:write")
def import_progress(batch_id: int) -> Any:
    session = db_session()
    record = importing.get_batch(session, current_user, batch_id)
    return jsonify(importing.progress(record, importing.batch_rows(session, record)).json())


@bp.get("/import/<int:batch_id>/rows-to-fix.<any(xlsx, csv):kind>")
@login_required_for("donations:write")
def import_rows_to_fix(batch_id: int, kind: str) -> Response:
    """The rows not recorded, with the file's own columns and why, to fix and upload again."""
    session = db_session()
    record = importing.get_batch(session, current_user, batch_id)
    rows = importing.rows_to_fix(record, importing.batch_rows(session, record))
    body = importing.export_rows(record, rows, str(IMPORT_ERROR_COLUMN), kind, IMPORT_COLUMN_LABELS)
    return Response(body, mimetype=XLSX_TYPE if kind == "xlsx" else "text/csv",
                    headers={"Content-Disposition": f'attachment; filename="import-{record.id}-to-fix.{kind}"'})
