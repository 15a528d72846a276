"""What every service's web forms share: commands' refusals shown on the form.

Views validate a form, call a command and render. A command's `Problem`
(422 validation, 409 conflict, ...) is shown beside the field it names, else
above the form, and the page answers with its status, so nothing is written
(a response of 400 or more rolls the request's work back).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.meta import DefaultMeta

from shared.errors import Conflict, Problem, ValidationProblem

T = TypeVar("T")


class ChineseMeta(DefaultMeta):
    """WTForms' own messages ("不是有效的选择。") in Chinese, without Babel."""

    locales = ("zh",)

    def get_translations(self, form):  # type: ignore[no-untyped-def]
        return DefaultMeta.get_translations(self, form)


class WebForm(FlaskForm):
    """A posted form: CSRF-protected, WTForms' messages in Chinese."""

    class Meta(ChineseMeta):
        pass


class OnceForm(WebForm):
    """A form whose double submission acts once (see idempotency.submitted_once)."""

    submission_id = HiddenField(default=lambda: uuid.uuid4().hex)


def problem_onto_form(form: FlaskForm, problem: Problem) -> int:
    """A command's refusal shown on the form: beside its field, else above the form."""
    for name, messages in (problem.errors or {}).items():
        field = form._fields.get(name)
        if field is not None and name != "csrf_token":
            field.errors = [*field.errors, *messages]
        else:
            form.form_errors.extend(messages)
    if not problem.errors:
        form.form_errors.append(problem.detail)
    return problem.status


def submit(form: FlaskForm, action: Callable[[], T],
           problems: tuple[type[Problem], ...] = (ValidationProblem, Conflict)) -> tuple[T | None, int]:
    """Validate `form`, then run the command: (its result, 200), else (None, the error status).

    A GET (nothing submitted) is (None, 200); the `problems` the command raises
    are shown on the form, any other error propagates (and is its own page).
    """
    if not form.validate_on_submit():
        return None, 422 if form.errors else 200
    try:
        return action(), 200
    except problems as problem:
        return None, problem_onto_form(form, problem)


def safe_next(target: str | None) -> str | None:
    """Only a local path: never send someone off-site after logging in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
