"""Losing a login loses nothing typed.

A form sent after its login ended (logged out in another tab, the user changed
by an admin) or without its session cookie (the browser was closed) is not
acted on: its fields are kept in the session, signed like the rest of it, the
user goes to the login page, and after logging in comes back to the form's
page with what they typed filled in, to check and send again. Nothing is
recorded until they do.

Kept: every field but passwords, the CSRF token and the submission id (a form
shown again is a new submission); never files. A form bigger than a cookie can
carry is not kept (the login page says only that the login ended). Only the
same user gets the fields back, and only on the page they were sent from.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared import i18n
from shared.refusals import LOGIN_ENDED, LOGIN_ENDED_KEPT, TYPED_AGAIN

SESSION_KEY = "kept_form"
# Fields never kept: secrets, and what makes a form a new submission.
LEFT_OUT = frozenset({"csrf_token", "submission_id"})
# What the session cookie may carry of a form (a cookie holds about 4 KB).
MAX_KEPT_BYTES = 2500
# How long a kept form waits for its user to log in again.
KEPT_SECONDS = 24 * 3600


def login_then_back() -> Response:
    """The answer to a form sent without a live login: keep what it carried, go to the login
    page, then back to the form's page (in the page's language)."""
    from shared.auth import login_url

    back = _page_to_return_to()
    fields = [(name, value) for name, value in request.form.items(multi=True)
              if name not in LEFT_OUT and "password" not in name.lower()]
    kept = False
    if fields and _same_origin() and len(json.dumps(fields, ensure_ascii=False).encode()) <= MAX_KEPT_BYTES:
        session[SESSION_KEY] = {"page": request.script_root + urlsplit(back).path, "fields": fields,
                                "user": _former_user(), "at": int(time.time())}
        kept = True
    flash(i18n.translate(LOGIN_ENDED_KEPT if kept else LOGIN_ENDED), "info")
    return redirect(login_url(back))


def kept_for_this_page() -> MultiDict[str, str] | None:
    """What was typed on this page before the login ended, once, for the user who typed it."""
    if request.method != "GET" or SESSION_KEY not in session or not current_user.is_authenticated:
        return None
    kept: dict[str, Any] = session[SESSION_KEY]
    if kept.get("page") != request.script_root + request.path:
        return None
    session.pop(SESSION_KEY)
    if kept.get("user") not in (None, str(current_user.id)) or time.time() - kept.get("at", 0) > KEPT_SECONDS:
        return None
    flash(i18n.translate(TYPED_AGAIN), "info")
    return MultiDict([tuple(pair) for pair in kept["fields"]])


def _page_to_return_to() -> str:
    """This address if it is a page (GET), else the page the form was on, else the service's
    first page: a path below this service's root."""
    adapter = current_app.create_url_adapter(request)
    try:
        assert adapter is not None
        adapter.match(request.path, method="GET")
    except HTTPException:
        referrer = urlsplit(request.referrer or "")
        root = request.script_root
        if referrer.netloc == request.host and referrer.path.startswith(root + "/"):
            return referrer.path[len(root):] + (f"?{referrer.query}" if referrer.query else "")
        return "/"
    return request.full_path.rstrip("?")


def _same_origin() -> bool:
    """A form from this site: another site's form must not fill in ours."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def _former_user() -> str | None:
    """The user whose login this session held, if it names one."""
    raw = session.get("_user_id")
    return raw.partition(":")[0] if isinstance(raw, str) and raw else None
