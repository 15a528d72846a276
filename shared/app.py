"""What every service's application factory does first."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.config import SERVICES, Settings, load_settings
from shared.dates import beijing_time
from shared.db import Database
from shared.errors import register_error_handlers
from shared.i18n import init_i18n
from shared.money import Money
from shared.observability import init_logging, init_observability, observe_requests
from shared.peers import Peers
from shared.security import init_security_headers
from shared.throttle import init_throttle

SHARED_TEMPLATES = Path(__file__).parent / "templates"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def create_service_app(service: str, import_name: str,
                       config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app with settings, database, errors, CSRF and peers set up.

    `config` holds overrides by environment-variable name (DATABASE_URL, ...)
    and plain Flask settings (TESTING, ...).
    """
    overrides = dict(config or {})
    settings: Settings = overrides.pop("SETTINGS", None) or load_settings(overrides)

    app = Flask(import_name)
    app.config.update(
        SERVICE_NAME=service,
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=settings.database_url,
        # One login for all three services behind the gateway.
        SESSION_COOKIE_NAME="charity_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session; the session itself expires
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
    )
    app.config.update({k: v for k, v in overrides.items() if k.isupper()})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.jinja_loader = ChoiceLoader([FileSystemLoader(Path(app.root_path) / "templates"),
                                     FileSystemLoader(SHARED_TEMPLATES)])
    app.jinja_env.filters["money"] = lambda value: "" if value is None else str(value)
    app.jinja_env.globals["Money"] = Money
    app.jinja_env.filters["beijing"] = beijing_time
    app.jinja_env.filters["file_size"] = file_size

    init_logging(app)
    observe_requests(app)  # first hooks: the request's line and metrics come after its commit
    if service in SERVICES:  # the gateway's root has no data of its own
        Database(app)
    register_error_handlers(app)
    init_i18n(app)
    csrf = CSRFProtect(app)
    app.extensions["csrf_protect"] = csrf
    app.extensions["peers"] = Peers(settings)
    _request_ids(app)
    init_security_headers(app, https_only=settings.https_only)
    init_throttle(app, settings.rate_limit_storage_url)
    if service in SERVICES:
        init_observability(app)  # /healthz, /readyz, /metrics
    if settings.trusted_proxies:
        # The client's address (and scheme) as the gateway saw them, not the gateway's own.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies)
    return app


def _request_ids(app: Flask) -> None:
    """Every request has an id: the caller's X-Request-Id if sane, else new."""

    @app.before_request
    def _assign() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response


def mount_blueprints(app: Flask, authority: Any, *, title: str, description: str,
                     api: tuple[Any, ...] = (), internal: tuple[Any, ...] = (),
                     web: tuple[Any, ...] = ()) -> None:
    """Auth, the OpenAPI-documented API, the internal API and the web pages.

    The API and the internal API take no cookies, so they need no CSRF token.
    """
    from shared.api import api_config, init_api
    from shared.auth import init_auth

    app.config.update(api_config(title, description))
    init_auth(app, authority)
    smorest = init_api(app)
    csrf: CSRFProtect = app.extensions["csrf_protect"]
    for blueprint in api:
        smorest.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    for blueprint in internal:
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)
    for blueprint in web:
        app.register_blueprint(blueprint)


def file_size(size_bytes: int) -> str:
    """A file's size as people read it: 812 B, 194.5 KB, 10.0 MB (1 KB = 1,024 bytes, as the
    limits are said)."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:,.1f} KB"
    return f"{size_bytes / (1024 * 1024):,.1f} MB"

