"""`Idempotency-Key` for POSTs that create records or move money.

The key is claimed with an INSERT into the service's `idempotency_key` table
inside the request's own transaction. A racing twin blocks on the unique
index until the first request commits, then finds the stored answer and
replays it. A failed request rolls back its claim with everything else, so a
retry after an error runs afresh. Keys are scoped to the caller.

An answer that holds a secret shown only once (an issued API key) is not
kept: a retry of it records nothing new and is told so with a 409.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, make_response, request
from flask_login import current_user
from sqlalchemy import JSON, String, Text, UniqueConstraint, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from shared.auth import principal_from_request
from shared.db import Database, db_session, utcnow
from shared.errors import Problem

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_FOR = dt.timedelta(hours=48)  # the contract promises at least 24 hours
KEPT_HEADERS = ("Location",)


class IdempotencyRecordMixin:
    """Columns of a service's `idempotency_key` table."""

    __tablename__ = "idempotency_key"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("owner", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class IdempotencyStore:
    def __init__(self, db: Database, model: type[IdempotencyRecordMixin]) -> None:
        self.db = db
        self.model = model

    def claim(self, owner: str, key: str, fingerprint: str) -> tuple[IdempotencyRecordMixin, bool]:
        """The record for (owner, key), and whether this request created it."""
        session = self.db.session
        statement = (
            insert(self.model)
            .values(owner=owner, key=key, fingerprint=fingerprint, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["owner", "key"])
            .returning(self.model.id)
        )
        new_id = session.execute(statement).scalar()
        record = session.scalars(
            select(self.model).where(self.model.owner == owner, self.model.key == key)
            .execution_options(populate_existing=True)
        ).one()
        return record, new_id is not None

    def complete(self, record: IdempotencyRecordMixin, response: Response, *, keep_body: bool = True) -> None:
        record.status_code = response.status_code
        record.response_body = response.get_data(as_text=True) if keep_body else None
        record.response_headers = {name: response.headers[name]
                                   for name in KEPT_HEADERS if name in response.headers}
        record.response_headers["Content-Type"] = response.content_type or "application/json"
        self.db.session.flush()

    def prune(self, session: Session, now: dt.datetime | None = None) -> int:
        """Forget keys older than KEPT_FOR, in `session` (whoever owns it commits); returns how many."""
        cutoff = (now or utcnow()) - KEPT_FOR
        result = session.execute(delete(self.model).where(self.model.created_at < cutoff))
        return result.rowcount or 0


def request_fingerprint() -> str:
    """Method, path and body; JSON bodies are compared by content, not spacing, multipart ones by
    their fields and files."""
    raw = request.get_data(cache=True)
    body = raw
    if request.is_json:
        try:
            body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):
            pass
    elif request.mimetype == "multipart/form-data":
        # A retry encodes its parts anew, under another boundary: compared by fields and files' contents.
        parts = sorted([name, value] for name, value in request.form.items(multi=True))
        for name, upload in request.files.items(multi=True):
            parts.append([name, upload.filename or "", hashlib.sha256(upload.stream.read()).hexdigest()])
            upload.stream.seek(0)
        body = json.dumps(parts, separators=(",", ":")).encode()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _replay(record: IdempotencyRecordMixin) -> Response:
    headers = dict(record.response_headers or {})
    content_type = headers.pop("Content-Type", "application/json")
    response = Response(record.response_body, status=record.status_code, content_type=content_type)
    for name, value in headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _once(owner: str, key: str, field: str, run: Callable[[], Any], keep_answer: bool) -> Response:
    """Run `run` once for (owner, key); a repeat gets the first answer again."""
    fingerprint = request_fingerprint()
    store: IdempotencyStore = current_app.extensions["idempotency"]
    record, created = store.claim(owner, key, fingerprint)
    # What the request writes must commit with its key's record, in this request's transaction.
    g.idempotency_claimed = True
    if not created:
        if record.fingerprint != fingerprint:
            raise Problem.field(field, "idempotency_key_reused")
        if record.status_code is None:
            raise Problem("idempotency_in_progress")
        if record.response_body is None:
            raise Problem("idempotency_secret_not_kept")
        return _replay(record)
    response = make_response(run())
    if response.status_code < 400:
        store.complete(record, response, keep_body=keep_answer)
    return response


def idempotent(view: Callable[..., Any] | None = None, *,
               keep_answer: bool = True) -> Any:
    """View decorator: honour an `Idempotency-Key` header.

    Put it outermost, above flask-smorest's decorators, so it sees the final
    response; it authenticates the caller itself (the key is per caller).
    `@idempotent(keep_answer=False)` is for answers holding a secret that must
    not be stored: a retry is a 409 instead of a replay.
    """
    if view is None:
        return functools.partial(idempotent, keep_answer=keep_answer)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        owner = principal_from_request().actor  # no key, no say: 401 comes first
        if not 1 <= len(key) <= 255:
            raise Problem.field(HEADER, "too_long" if key else "blank", max=255)
        if "\x00" in key:
            raise Problem.field(HEADER, "nul_character")
        return _once(owner, key, HEADER, lambda: view(*args, **kwargs), keep_answer)

    return wrapper


FORM_FIELD = "submission_id"


def submitted_once(view: Callable[..., Any]) -> Callable[..., Any]:
    """Web view decorator: a form posted twice (a double click, a reload) acts once.

    The form carries a random `submission_id` (shared.forms.OnceForm); the
    second post gets the first one's answer, typically the redirect to what
    it created.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.form.get(FORM_FIELD, "") if request.method == "POST" else ""
        if not current_user.is_authenticated or not 16 <= len(key) <= 64 or not key.isalnum():
            return view(*args, **kwargs)
        return _once(current_user.actor, f"form:{key}", FORM_FIELD, lambda: view(*args, **kwargs), True)

    return wrapper


def add_prune_endpoint(internal: Blueprint) -> None:
    """POST <internal>/idempotency/prune -> {"pruned": n}: the service forgets its expired keys.

    `internal` is a service's internal blueprint, whose before_request asks for the
    internal token; the service's IdempotencyStore is app.extensions["idempotency"].
    The request's one commit deletes them.
    """

    @internal.post("/idempotency/prune")
    def prune_idempotency_keys() -> Any:
        store: IdempotencyStore = current_app.extensions["idempotency"]
        return jsonify({"pruned": store.prune(db_session())})
