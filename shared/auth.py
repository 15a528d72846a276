"""Who is asking, and what they may do, the same way in every service.

Users and API keys live in the funds service. Each service resolves the
caller through an `Authority`: the funds service asks its own database, the
others ask the funds service over its internal API and trust the answer for
at most `auth_cache_seconds` (2 s by default), so a revoked key, a disabled
user or a frozen fund takes effect everywhere within that time.

The API authenticates with `Authorization: Bearer <key>` only (no cookies,
hence no CSRF there); the web forms use the Flask-Login session cookie, which
is signed with the shared SECRET_KEY and sent to all three services.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from flask import Flask, current_app, g, redirect, request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError

from shared.errors import Problem, http_exception_response
from shared.resume import login_then_back
from shared.throttle import BAD_KEYS_PER_ADDRESS, client_address, throttle

if TYPE_CHECKING:
    from shared.contracts.funds import FundInfo

SCOPES = (
    "funds:read",
    "funds:write",
    "donations:read",
    "donations:write",
    "disbursements:approve",
    "reports:read",
    "programmes:read",
    "programmes:write",
    "admin",
)

ROLES = ("admin", "fund_manager", "approver", "auditor")
# A role as the pages name it, in the reader's language (shared/translations).
ROLE_LABELS = {"admin": _l("Administrator"), "fund_manager": _l("Fund manager"), "approver": _l("Approver"),
               "auditor": _l("Auditor")}

# What each web role may do, in the API's own vocabulary.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin"}),
    "fund_manager": frozenset({"funds:read", "funds:write", "donations:read", "donations:write",
                               "reports:read", "programmes:read", "programmes:write"}),
    "approver": frozenset({"funds:read", "donations:read", "disbursements:approve", "reports:read",
                           "programmes:read"}),
    "auditor": frozenset({"funds:read", "donations:read", "reports:read", "programmes:read"}),
}

KEY_PREFIX = "cfk_"
# The protection space a 401's `WWW-Authenticate: Bearer realm=...` names (RFC 6750).
REALM = "charity-ledger"


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(secret: str) -> str:
    """Keys are long random secrets, so one SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def internal_token(secret_key: str) -> str:
    """The token services present to each other's internal API."""
    return hmac.new(secret_key.encode(), b"charity-ledger internal api v1", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Principal:
    """A user or an API key, with its organisation and scopes."""

    kind: str  # "user" or "api_key"
    id: int
    name: str
    organization_id: int
    scopes: frozenset[str]
    role: str | None = None
    session_token: str | None = field(default=None, compare=False, repr=False)

    # Flask-Login's user protocol.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def actor(self) -> str:
        """How the audit log and four-eyes checks name this caller."""
        return f"{'user' if self.kind == 'user' else 'key'}:{self.id}"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def has(self, scope: str) -> bool:
        return self.is_admin or scope in self.scopes

    @property
    def sees_all_organizations(self) -> bool:
        """The federation's admins and the auditors read every organisation."""
        return self.is_admin or self.role == "auditor"

    def may_read(self, organization_id: int) -> bool:
        return self.sees_all_organizations or organization_id == self.organization_id

    def may_write(self, organization_id: int) -> bool:
        return self.is_admin or organization_id == self.organization_id

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name,
                "organization_id": self.organization_id, "scopes": sorted(self.scopes),
                "role": self.role, "session_token": self.session_token}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Principal:
        return cls(kind=data["kind"], id=data["id"], name=data["name"],
                   organization_id=data["organization_id"], scopes=frozenset(data["scopes"]),
                   role=data.get("role"), session_token=data.get("session_token"))


class Authority(Protocol):
    """Who a key or a login is, and what a fund is: the funds service's word."""

    def principal_for_key(self, secret: str) -> Principal | None: ...
    def principal_for_session(self, user_id: int, session_token: str) -> Principal | None: ...
    def fund(self, code: str) -> FundInfo | None: ...


T = TypeVar("T")


class TTLCache:
    """A small thread-safe cache whose entries expire after `ttl` seconds."""

    _MISSING = object()

    def __init__(self, ttl: float, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(self, key: Any, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def authority() -> Authority:
    return current_app.extensions["authority"]  # type: ignore[no-any-return]


def principal_from_request() -> Principal:
    """The API caller, from its bearer key; 401 without a valid one."""
    cached: Principal | None = g.get("principal")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Problem("api_key_missing", headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    principal = authority().principal_for_key(secret.strip())
    if principal is None:
        # Only a refused key is counted: a valid one never waits on the throttle's store, which
        # would add a round trip to every API call. (A key is 32 random bytes: what the throttle
        # stops is a flood of guesses, not a guess that succeeds.)
        guesses = throttle()
        guesses.check(BAD_KEYS_PER_ADDRESS, "api-key", client_address())
        guesses.failed(BAD_KEYS_PER_ADDRESS, "api-key", client_address())
        raise Problem("api_key_invalid", headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token", '
                                                                      'error_description="unknown or revoked key"'})
    g.principal = principal
    return principal


def require_scope(scope: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """API view decorator: a valid key carrying `scope` (or admin)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    def decorator(view: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            principal = principal_from_request()
            if not principal.has(scope):
                raise Problem("scope_missing", scope=scope)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def login_required_for(scope: str | None = None) -> Callable[[Callable[..., T]], Callable[..., Any]]:
    """Web view decorator: logged in (else to the login page) and holding `scope`."""

    def decorator(view: Callable[..., T]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if request.method == "POST":
                    return login_then_back()  # nothing typed is lost, nothing is done
                return redirect(login_url(request.full_path.rstrip("?")))
            if scope is not None and not current_user.has(scope):
                raise Problem("role_forbidden")
            return view(*args, **kwargs)

        wrapper.needs_login = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


def login_url(next_path: str | None = None) -> str:
    """The funds service's login page, wherever this request is served, in this page's language."""
    from urllib.parse import urlencode

    from shared import i18n

    base = current_app.config.get("LOGIN_URL") or _sibling_url("funds", "/login")
    query = {"next": request.script_root + next_path} if next_path else {}
    if i18n.language() != i18n.DEFAULT_LANGUAGE:
        query["lang"] = i18n.language()
    return f"{base}?{urlencode(query, safe='/')}" if query else base


def _sibling_url(service: str, path: str) -> str:
    """A path of another service mounted beside this one behind the gateway."""
    root = request.script_root
    here = current_app.config["SERVICE_NAME"]
    if root.endswith("/" + here):
        return root[: -len(here)] + service + path
    if here == service:
        return root + path
    return f"/{service}{path}"


def init_auth(app: Flask, authority_impl: Authority) -> LoginManager:
    app.extensions["authority"] = authority_impl
    manager = LoginManager()
    manager.session_protection = "basic"

    @manager.user_loader
    def _load_user(user_id: str) -> Principal | None:
        raw_id, _, token = user_id.partition(":")
        if not raw_id.isdigit() or not token:
            return None
        return authority().principal_for_session(int(raw_id), token)

    @manager.unauthorized_handler
    def _unauthorized() -> Any:
        if request.method == "POST":
            return login_then_back()
        return redirect(login_url(request.full_path.rstrip("?")))

    manager.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error: CSRFError) -> Any:
        """A page's form sent without its session (the browser lost the cookie): log in, then
        back to the form with what was typed. Any other CSRF failure is refused as ever."""
        view = app.view_functions.get(request.endpoint or "")
        if getattr(view, "needs_login", False) and not current_user.is_authenticated:
            return login_then_back()
        return http_exception_response(error)

    @app.context_processor
    def _auth_context() -> dict[str, Any]:
        return {"role_labels": ROLE_LABELS, "sibling_url": _sibling_url}

    return manager


def require_internal(secret_key: str) -> None:
    """Refuse an internal API call without the shared internal token."""
    presented = request.headers.get("X-Internal-Token", "")
    if not hmac.compare_digest(presented, internal_token(secret_key)):
        raise Problem("internal_token_invalid")
