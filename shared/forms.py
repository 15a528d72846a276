"""What every service's web forms share.

A form renders its fields (WTForms) and is checked by its shape, the same
rules the API applies to the same input (shared.shapes): `form.values` are
then exactly what the API would pass to the command. A command's refusal
(`Problem`) is shown beside the field it names, else above the form, in the
reader's language; the page answers with the refusal's status, so nothing is
written (a response of 400 or more rolls the request's work back).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from flask import request
from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import Form, HiddenField, SelectChoice
from wtforms.meta import DefaultMeta

from shared import i18n, page_input, resume
from shared.db import db_session
from shared.errors import Problem
from shared.refusals import Message
from shared.shapes import Invalid, Many, Shape, Text

T = TypeVar("T")


class LocalMeta(DefaultMeta):
    """WTForms' own few messages (a CSRF failure) in the reader's language."""

    def get_translations(self, form):  # type: ignore[no-untyped-def]
        self.locales = (i18n.language(),)
        return DefaultMeta.get_translations(self, form)

    def bind_field(self, form, unbound_field, options):  # type: ignore[no-untyped-def]
        """A field's label and description (lazy, shared by every request) worded for this reader."""
        field = DefaultMeta.bind_field(self, form, unbound_field, options)
        field.label.text = str(field.label.text)
        if field.description:
            field.description = str(field.description)
        return field


def choices(labels: Mapping[str, str]) -> list[SelectChoice]:
    """A select's choices: value -> what the page shows."""
    return [SelectChoice(value, label) for value, label in labels.items()]


# The choice of a filter that filters nothing.
ALL = SelectChoice("", lazy_gettext("All"))


def _render(messages: list[Message], label: str | None = None) -> list[str]:
    return [i18n.render(m.code, {**m.params, "field": label} if label else m.params) for m in messages]


class Shaped:
    """Checks a form by its shape: the fields' names are the shape's flat names."""

    shape: ClassVar[Shape | None] = None
    # Whether a text field says its length limit beside it (a search box or a login need not).
    length_hints: ClassVar[bool] = True
    values: dict[str, Any]

    def _named(self, name: str) -> Any:
        """The field submitted as `name` (an attribute may be named otherwise: date_from is `from`)."""
        for field in self:  # type: ignore[attr-defined]
            if field.name == name:
                return field
        return None

    def _shape_hints(self) -> None:
        """What the browser can tell before sending: required fields, length limits. A text's
        limit is also said beside it (the field's description), before anyone reaches it."""
        assert self.shape is not None
        for name, (_, rule) in self.shape.flat_fields.items():
            field = self._named(name)
            if field is None:
                continue
            hints = dict(field.render_kw or {})
            if isinstance(rule, Text) and field.type in ("StringField", "TextAreaField", "PasswordField"):
                hints.setdefault("maxlength", rule.max_length)
                if self.length_hints:
                    limit = page_input.length_hint(rule.max_length)
                    field.description = f"{field.description} {limit}" if field.description else limit
            if rule.required and field.type not in ("BooleanField", "SelectField"):
                hints.setdefault("required", True)
            field.render_kw = hints

    def check_shape(self, data: Mapping[str, Any]) -> bool:
        """The shape's verdict on `data`, read first as people type (shared.page_input);
        refusals go beside their fields."""
        assert self.shape is not None
        data, unreadable = page_input.normalise(self.shape, data)
        try:
            self.values = self.shape.load_text(data, ignore_unknown=True)
            if unreadable:
                raise Invalid({})
        except Invalid as invalid:
            self.values = {}
            for name, messages in {**invalid.errors, **unreadable}.items():
                field = self._named(name)
                shown = _render(messages, field.label.text if field is not None else None)
                if field is not None:
                    field.errors = [*field.errors, *shown]
                else:
                    self.form_errors.extend(shown)  # type: ignore[attr-defined]
            return False
        return True

    def raw(self) -> dict[str, Any]:
        """What was typed, by field name (a list for a field of many values)."""
        assert self.shape is not None
        raw: dict[str, Any] = {}
        for name, (_, rule) in self.shape.flat_fields.items():
            field = self._named(name)
            if field is None:
                continue
            data = field.raw_data or []
            raw[name] = [str(item) for item in data] if isinstance(rule, Many) else (str(data[0]) if data else "")
        return raw


class WebForm(Shaped, FlaskForm):
    """A posted form: CSRF-protected, checked by its shape."""

    class Meta(LocalMeta):
        pass

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "formdata" not in kwargs:
            # What was typed when the login ended, shown again on this page after logging in back.
            kept = resume.kept_for_this_page()
            if kept is not None:
                kwargs["formdata"] = kept
        super().__init__(*args, **kwargs)
        if self.shape is not None:
            self._shape_hints()

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.shape is None:
            self.values = {name: field.data for name, field in self._fields.items()}
            return valid
        return self.check_shape(self.raw()) and valid


class OnceForm(WebForm):
    """A form whose double submission acts once (see idempotency.submitted_once)."""

    submission_id = HiddenField(default=lambda: uuid.uuid4().hex)


class QueryForm(Shaped, Form):
    """A form sent by GET (a search, a period): no CSRF; checked when anything was asked."""

    length_hints = False

    class Meta(LocalMeta):
        pass

    def __init__(self, formdata: Any = None, **kwargs: Any) -> None:
        super().__init__(formdata=request.args if formdata is None else formdata, **kwargs)
        self.values = {}
        if self.shape is not None:
            self._shape_hints()

    def validate(self, extra_validators: Any = None) -> bool:
        super().validate(extra_validators)
        return self.check_shape(self.raw())


def problem_onto_form(form: Any, problem: Problem) -> int:
    """A command's refusal shown on the form: beside its field, else above the form."""
    for name, messages in (problem.errors or {}).items():
        field = form._named(name) if isinstance(form, Shaped) else form._fields.get(name)
        if field is not None and name != "csrf_token":
            field.errors = [*field.errors, *_render(messages, field.label.text)]
        else:
            form.form_errors.extend(_render(messages))
    if not problem.errors:
        form.form_errors.append(problem.in_language()[0])
    return problem.status


def submit(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, int]:
    """Validate `form`, then run the command: (its result, 200), else (None, the error status).

    A GET (nothing submitted) is (None, 200); a refusal the command raises is
    shown on the form, any other error propagates (and is its own page).
    """
    if not form.validate_on_submit():
        return None, 422 if form.errors else 200
    try:
        return action(), 200
    except Problem as problem:
        return None, problem_onto_form(form, shown_refusal(problem))


def shown_refusal(problem: Problem) -> Problem:
    """A command's refusal, which its page is about to show; raised again if it is no refusal
    of the user's (5xx, 401: those are pages of their own).

    The command's work is rolled back at once: the answer is an error, so it
    would be anyway, but on PostgreSQL a refused statement leaves the
    transaction unusable, and the page still reads the database.
    """
    if problem.status >= 500 or problem.status == 401:
        raise problem
    db_session().rollback()
    return problem


def safe_next(target: str | None) -> str | None:
    """Only a local path: never send someone off-site after logging in."""
    if not target:
        return None
    # A line break would split the Location header; a backslash reads as "/" to browsers ("/\\evil").
    if any(ord(ch) < 32 or ch in "\\\x7f" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
