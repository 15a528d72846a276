"""Languages: Chinese first, English complete.

The catalogues are shared/translations/<language>/LC_MESSAGES/messages.po,
one per language for the whole project, read straight from the .po files
when an application starts (no compiled .mo to keep in step). The API
speaks English; a page speaks the reader's language: `?lang=` (remembered
in a cookie), else the browser's Accept-Language, else Chinese.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, Response, has_request_context, request
from flask_babel import Babel, Domain, get_locale

from shared.money import Money
from shared.refusals import KINDS, LABELS, MONEY_PARAMS, THIS_FIELD, Label, fill

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = ("zh", "en")  # the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
LANGUAGE_COOKIE = "lang"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


@cache
def catalogue(language: str) -> NullTranslations:
    """The language's messages, compiled in memory from its .po file."""
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        messages = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, messages)
    compiled.seek(0)
    return Translations(compiled)


class CatalogueDomain(Domain):  # type: ignore[misc]
    """Flask-Babel's domain, translating from `catalogue()`."""

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        return catalogue(locale.language if locale else DEFAULT_LANGUAGE)


def _chosen_language() -> str:
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        return wanted
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE


def language() -> str:
    """The reader's language on this request (the default outside one)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    locale = get_locale()
    return locale.language if locale else DEFAULT_LANGUAGE


def language_url(code: str) -> str:
    """This page in another language: its path and query, with `lang` set."""
    query = [(name, value) for name, value in request.args.items(multi=True) if name != "lang"]
    return f"{request.script_root}{request.path}?{urlencode([*query, ('lang', code)])}"


def init_i18n(app: Flask) -> None:
    babel = Babel(app, locale_selector=_chosen_language, default_locale=DEFAULT_LANGUAGE)
    babel.domain_instance = CatalogueDomain()
    # refusal_words: a refusal's message on a page (what a frozen fund means, say), in the reader's language.
    app.jinja_env.globals.update(language=language, language_url=language_url, label=label, label_alone=label_alone,
                                 refusal_words=render,
                                 LANGUAGES=LANGUAGES,
                                 LANGUAGE_NAMES=LANGUAGE_NAMES)

    @app.after_request
    def _remember_language(response: Response) -> Response:
        wanted = request.args.get("lang")
        if wanted in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != wanted:
            response.set_cookie(LANGUAGE_COOKIE, wanted, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
        return response


def translate(text: str, lang: str | None = None) -> str:
    return catalogue(lang or language()).gettext(text)


def render(code: str, params: Mapping[str, Any] | None = None, lang: str | None = None) -> str:
    """A refusal's message in `lang` (default: the reader's), its parameters filled in."""
    lang = lang or language()
    shown = {name: translate(LABELS[value], lang) if isinstance(value, Label) and value in LABELS
             else _grouped(value) if name in MONEY_PARAMS else value
             for name, value in (params or {}).items()}
    shown.setdefault("field", translate(THIS_FIELD, lang))
    return fill(translate(KINDS[code].message, lang), shown)


def _grouped(value: Any) -> Any:
    """A sum of money as a page shows it in a sentence: 3000.00 as 3,000.00 (the unit follows)."""
    try:
        money = Money.parse_signed(value)
    except ValueError:
        return value
    return money.display().replace("¥", "")


def title(code: str, lang: str | None = None) -> str:
    return translate(KINDS[code].title, lang)


def label(value: str, lang: str | None = None) -> str:
    """A status or an account (LABELS) in the reader's language."""
    return translate(LABELS[value], lang) if value in LABELS else value


def label_alone(value: str, lang: str | None = None) -> str:
    """A label standing alone (a cell, a heading, a timeline step), not inside a sentence: its first
    letter a capital, so English reads "Requested" and not what looks like a code."""
    shown = label(value, lang)
    return shown[:1].upper() + shown[1:]

