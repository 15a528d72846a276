"""The funds service's operations: each checks who asks, then acts.

Inputs arrive checked by their shapes (rules.py), from the API and the
pages alike; what is checked here is what only the database knows
(uniqueness, what exists, who may see it). Views (API and web) call these and
never touch the session's transaction: they flush here and the request
commits once at its end.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from services.funds.models import STATUS_VERSION, ApiKey, AuditLog, Fund, LoginSession, Organization, User
from services.funds.rules import DEFAULT_CHARITY_KIND
from shared.contracts.funds import DEFAULT_APPROVAL_RULE
from shared import audit
from shared.auth import ROLE_SCOPES, Principal, generate_api_key, hash_api_key
from shared.contracts.funds import FundInfo, is_fund_code
from shared.contracts.ledger import RESTRICTING, LedgerClient
from shared.dates import today
from shared.db import MAX_ID, after_commit, contains_pattern, utcnow
from shared.errors import Problem
from shared.refusals import Message

T = TypeVar("T")
BOOTSTRAP_ORGANIZATION = "慈善总会"


def _require(actor: Principal, scope: str) -> None:
    if not actor.has(scope):
        raise Problem("scope_missing", scope=scope)


# -- organisations -----------------------------------------------------------

def create_organization(session: Session, actor: Principal, name: str, kind: str,
                        charity_kind: str = DEFAULT_CHARITY_KIND,
                        approval_rule: str = DEFAULT_APPROVAL_RULE) -> Organization:
    _require(actor, "admin")
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise _taken("organization_name_taken", "name", name=name)
    organization = Organization(name=name, kind=kind, charity_kind=charity_kind, approval_rule=approval_rule,
                                created_at=utcnow())
    session.add(organization)
    _flush_unique(session, _taken("organization_name_taken", "name", name=name))
    audit.record(session, AuditLog, actor, "organization.create", f"organization:{organization.id}",
                 {"name": name, "kind": kind, "charity_kind": charity_kind, "approval_rule": approval_rule})
    return organization


def update_organization(session: Session, actor: Principal, organization_id: int, *,
                        charity_kind: str | None = None, approval_rule: str | None = None) -> Organization:
    """An admin's change of what is sent; each change is in the audit log, from and to."""
    _require(actor, "admin")
    organization = _by_id(session, Organization, organization_id, with_for_update=True)
    if organization is None or not actor.may_read(organization.id):
        raise Problem("organization_not_found", id=organization_id)
    changes: dict[str, Any] = {}
    for attribute, value in (("charity_kind", charity_kind), ("approval_rule", approval_rule)):
        if value is not None and value != getattr(organization, attribute):
            changes[attribute] = {"from": getattr(organization, attribute), "to": value}
            setattr(organization, attribute, value)
    if changes:
        session.flush()
        audit.record(session, AuditLog, actor, "organization.update", f"organization:{organization.id}", changes)
    return organization


def visible_organizations(actor: Principal) -> Select[tuple[Organization]]:
    query = select(Organization).order_by(Organization.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Organization.id == actor.organization_id)
    return query


def _by_id(session: Session, model: type[T], row_id: int, **kwargs: Any) -> T | None:
    """The row with this id, or None; an id no id column can hold names no row."""
    return session.get(model, row_id, **kwargs) if 0 < row_id <= MAX_ID else None


def get_organization(session: Session, actor: Principal, organization_id: int) -> Organization:
    organization = _by_id(session, Organization, organization_id)
    if organization is None or not actor.may_read(organization.id):
        raise Problem("organization_not_found", id=organization_id)
    return organization


def any_organization(session: Session, organization_id: int) -> Organization:
    """The organisation, whoever's it is (the internal API: another service asks)."""
    organization = _by_id(session, Organization, organization_id)
    if organization is None:
        raise Problem("organization_not_found", id=organization_id)
    return organization


# -- API keys ----------------------------------------------------------------

def public_key_id() -> str:
    """How people tell keys apart: random, so it says nothing of the secret (the secret's own first
    characters would hand an attacker part of it)."""
    return "key_" + secrets.token_hex(6)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def issue_api_key(session: Session, actor: Principal, organization_id: int, name: str,
                  scopes: Sequence[str]) -> IssuedKey:
    _require(actor, "admin")
    organization = get_organization(session, actor, organization_id)
    secret = generate_api_key()
    key = ApiKey(organization_id=organization.id, name=name, key_hash=hash_api_key(secret),
                 prefix=public_key_id(), scopes=sorted(set(scopes)), created_at=utcnow(),
                 created_by=actor.actor)
    session.add(key)
    session.flush()
    audit.record(session, AuditLog, actor, "api_key.issue", f"api_key:{key.id}",
                 {"organization_id": organization.id, "name": name, "scopes": key.scopes})
    return IssuedKey(key=key, secret=secret)


def revoke_api_key(session: Session, actor: Principal, organization_id: int, key_id: int) -> ApiKey:
    _require(actor, "admin")
    key = _by_id(session, ApiKey, key_id, with_for_update=True)
    if key is None or key.organization_id != organization_id:
        raise Problem("api_key_not_found", id=key_id, organization_id=organization_id)
    if key.revoked_at is None:
        if "admin" in key.scopes:
            _keep_an_admin_key(session, key)
        key.revoked_at = utcnow()
        session.flush()
        audit.record(session, AuditLog, actor, "api_key.revoke", f"api_key:{key.id}",
                     {"organization_id": organization_id})
    return key


def _keep_an_admin_key(session: Session, revoking: ApiKey) -> None:
    """Revoking the last live admin key would lock the federation out until a restart with a
    bootstrap key: refused. The live admin keys are locked, so two revocations at once cannot
    each leave the other as the last."""
    live_admin_keys = session.scalars(select(ApiKey).where(ApiKey.revoked_at.is_(None))
                                      .order_by(ApiKey.id).with_for_update()).all()
    if not any("admin" in other.scopes for other in live_admin_keys if other.id != revoking.id):
        raise Problem("last_admin_key", id=revoking.id)


def organization_keys(session: Session, organization_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.organization_id == organization_id)
                                .order_by(ApiKey.id.desc())))


# -- users -------------------------------------------------------------------

def _organization_exists(session: Session, organization_id: int) -> None:
    if _by_id(session, Organization, organization_id) is None:
        raise Problem.field("organization_id", "no_such_organization")


def create_user(session: Session, actor: Principal | None, username: str, display_name: str,
                password: str, role: str, organization_id: int) -> User:
    if actor is not None:
        _require(actor, "admin")
    _organization_exists(session, organization_id)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise _taken("username_taken", "username", username=username)
    user = User(username=username, display_name=display_name or username,
                password_hash=generate_password_hash(password), role=role,
                organization_id=organization_id, active=True,
                session_token=secrets.token_hex(16), created_at=utcnow())
    session.add(user)
    _flush_unique(session, _taken("username_taken", "username", username=username))
    audit.record(session, AuditLog, actor, "user.create", f"user:{user.id}",
                 {"username": username, "role": role, "organization_id": organization_id})
    return user


def update_user(session: Session, actor: Principal, user: User, *, display_name: str, role: str,
                organization_id: int, active: bool, password: str | None) -> User:
    _require(actor, "admin")
    _organization_exists(session, organization_id)
    if actor.kind == "user" and actor.id == user.id and (not active or role != "admin"):
        raise Problem.field("active", "self_demotion")
    changes: dict[str, Any] = {}
    ends_sessions = False
    for attribute, value in (("display_name", display_name or user.username), ("role", role),
                             ("organization_id", organization_id), ("active", active)):
        if getattr(user, attribute) != value:
            changes[attribute] = value
            setattr(user, attribute, value)
            ends_sessions |= attribute != "display_name"
    if password:
        user.password_hash = generate_password_hash(password)
        changes["password"] = "changed"
        ends_sessions = True
    if ends_sessions:
        user.session_token = secrets.token_hex(16)
    session.flush()
    if changes:
        audit.record(session, AuditLog, actor, "user.update", f"user:{user.id}", changes)
    return user


def get_user(session: Session, user_id: int) -> User:
    user = _by_id(session, User, user_id)
    if user is None:
        raise Problem("user_not_found", id=user_id)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        # Same work either way, so timing does not tell which usernames exist.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


_DUMMY_HASH = generate_password_hash("not a real password")


def user_principal(user: User, login_secret: str) -> Principal:
    """The user as their login session's cookie names them: the user's token (which changes when
    the user does) and this login's own secret (which logging out ends)."""
    return Principal(kind="user", id=user.id, name=user.display_name,
                     organization_id=user.organization_id, scopes=ROLE_SCOPES[user.role],
                     role=user.role, session_token=f"{user.session_token}.{login_secret}")


def start_login_session(session: Session, user: User) -> Principal:
    secret = secrets.token_hex(16)
    session.add(LoginSession(user_id=user.id, token_hash=hash_api_key(secret), created_at=utcnow()))
    session.flush()
    return user_principal(user, secret)


def live_login_session(session: Session, user_id: int, session_token: str) -> User | None:
    """The user whose live login `session_token` names, if the user is active and unchanged since."""
    user_token, _, login_secret = session_token.partition(".")
    user = session.get(User, user_id)
    if user is None or not user.active or user.session_token != user_token or not login_secret:
        return None
    login = session.scalar(select(LoginSession).where(LoginSession.token_hash == hash_api_key(login_secret),
                                                      LoginSession.user_id == user_id,
                                                      LoginSession.ended_at.is_(None)))
    return user if login is not None else None


def end_login_session(session: Session, principal: Principal) -> None:
    """Logging out: this login's cookie is refused from now on, wherever a copy of it is."""
    _, _, login_secret = (principal.session_token or "").partition(".")
    if login_secret:
        session.execute(update(LoginSession).where(LoginSession.token_hash == hash_api_key(login_secret),
                                                   LoginSession.ended_at.is_(None)).values(ended_at=utcnow()))


def key_principal(key: ApiKey) -> Principal:
    return Principal(kind="api_key", id=key.id, name=key.name,
                     organization_id=key.organization_id, scopes=frozenset(key.scopes))


# -- funds -------------------------------------------------------------------

def fund_info(fund: Fund) -> FundInfo:
    return FundInfo(code=fund.code, name=fund.name, organization_id=fund.organization_id,
                    restricted=fund.restricted, status=fund.status, purpose=fund.purpose,
                    status_version=fund.status_version, approval_rule=fund.approval_rule)


def create_fund(session: Session, actor: Principal, *, code: str, name: str, kind: str,
                organization_id: int, purpose: str, restricted: bool,
                opened_on: dt.date | None = None) -> Fund:
    _require(actor, "funds:write")
    organization = _by_id(session, Organization, organization_id)
    if organization is None or not actor.may_write(organization.id):
        # Another organisation is invisible, as if it did not exist.
        raise Problem.field("organization_id", "no_such_organization")
    if session.scalar(select(Fund.id).where(Fund.code == code)) is not None:
        raise _taken("fund_code_taken", "code", fund_code=code)
    now = utcnow()
    fund = Fund(code=code, name=name, kind=kind, organization_id=organization.id, purpose=purpose,
                restricted=restricted, status="active", status_version=0,
                opened_on=opened_on or today(), created_at=now, updated_at=now)
    session.add(fund)
    _flush_unique(session, _taken("fund_code_taken", "code", fund_code=code))
    audit.record(session, AuditLog, actor, "fund.create", f"fund:{code}",
                 {"name": name, "kind": kind, "organization_id": organization.id,
                  "restricted": restricted, "purpose": fund.purpose})
    return fund


def get_fund(session: Session, actor: Principal, code: str, *, for_update: bool = False) -> Fund:
    if not is_fund_code(code):
        raise Problem("fund_not_found", fund_code=code)
    query = select(Fund).where(Fund.code == code)
    if for_update:
        query = query.with_for_update()
    fund = session.scalar(query)
    if fund is None or not actor.may_read(fund.organization_id):
        raise Problem("fund_not_found", fund_code=code)
    return fund


def _fund_for_change(session: Session, actor: Principal, code: str) -> Fund:
    _require(actor, "funds:write")
    fund = get_fund(session, actor, code, for_update=True)
    if not actor.may_write(fund.organization_id):
        raise Problem("fund_not_found", fund_code=code)
    return fund


def update_fund(session: Session, actor: Principal, code: str, *, name: str | None = None,
                purpose: str | None = None) -> Fund:
    fund = _fund_for_change(session, actor, code)
    if fund.status == "closed":
        raise Problem("fund_closed_unchangeable", fund_code=code)
    changes: dict[str, Any] = {}
    if name is not None and name != fund.name:
        changes["name"] = {"from": fund.name, "to": name}
        fund.name = name
    if purpose is not None and purpose != fund.purpose:
        changes["purpose"] = {"from": fund.purpose, "to": purpose}
        fund.purpose = purpose
    if changes:
        fund.updated_at = utcnow()
        session.flush()
        audit.record(session, AuditLog, actor, "fund.update", f"fund:{code}", changes)
    return fund


# Which status each change leads to, and from which statuses it may start.
TRANSITIONS = {
    "freeze": ("frozen", ("active",)),
    "unfreeze": ("active", ("frozen",)),
    "close": ("closed", ("active", "frozen")),
}


def change_fund_status(session: Session, actor: Principal, code: str, action: str, ledger: LedgerClient) -> Fund:
    """Freeze, unfreeze or close, in step with the ledger, which moves the money.

    A change that stops money is prepared in the ledger first (it applies
    there at once; a close is refused unless the fund holds nothing), then
    committed here; the ledger hears the commit afterwards. A change that
    frees money reaches the ledger only after it commits here. So the ledger
    is never freer than what this service has committed, whatever fails in
    between (see services/donations/funds_status.py for the repair).
    """
    target, allowed_from = TRANSITIONS[action]
    fund = _fund_for_change(session, actor, code)
    if fund.status not in allowed_from:
        raise Problem("fund_transition_invalid", fund_code=code, status=fund.status, target=target)
    version = int(session.scalar(select(STATUS_VERSION.next_value())))
    if target in RESTRICTING:
        ledger.prepare_status(fund_info(fund), target, version)
    now = utcnow()
    previous = fund.status
    fund.status = target
    fund.status_version = version
    fund.updated_at = now
    if target == "closed":
        fund.closed_at = now
    session.flush()
    audit.record(session, AuditLog, actor, f"fund.{action}", f"fund:{code}",
                 {"from": previous, "to": target, "version": version})
    after_commit(lambda: ledger.settle_status(code, target, version))
    return fund


def settled_fund(session: Session, code: str) -> Fund | None:
    """The fund as committed, once any change of its status in flight has committed or failed."""
    if not is_fund_code(code):
        return None
    return session.scalar(select(Fund).where(Fund.code == code).with_for_update(read=True))


def every_fund(session: Session, organization_id: int | None = None) -> list[tuple[Fund, str]]:
    """Every fund, closed ones too, by code, with its organisation's name (the internal API);
    only one organisation's if asked."""
    query = select(Fund, Organization.name).join(Organization, Organization.id == Fund.organization_id) \
        .order_by(Fund.code)
    if organization_id is not None:
        query = query.where(Fund.organization_id == organization_id)
    return [(fund, name) for fund, name in session.execute(query)]


def fund_query(actor: Principal, *, organization_id: int | None = None, kind: str | None = None,
               status: str | None = None, q: str | None = None) -> Select[tuple[Fund]]:
    query = select(Fund).order_by(Fund.id.desc())
    if not actor.sees_all_organizations:
        query = query.where(Fund.organization_id == actor.organization_id)
    if organization_id is not None:
        query = query.where(Fund.organization_id == organization_id)
    if kind:
        query = query.where(Fund.kind == kind)
    if status:
        query = query.where(Fund.status == status)
    if q:
        pattern = contains_pattern(q)
        query = query.where(or_(Fund.name.ilike(pattern, escape="\\"),
                                Fund.code.ilike(pattern, escape="\\")))
    return query


# -- bootstrap ---------------------------------------------------------------

def bootstrap(session: Session, admin_api_key: str | None, admin_password: str | None) -> None:
    """Make the configured admin key and admin user exist (idempotent)."""
    if not admin_api_key and not admin_password:
        return
    organization = session.scalar(select(Organization).where(Organization.kind == "federation")
                                  .order_by(Organization.id))
    if organization is None:
        organization = Organization(name=BOOTSTRAP_ORGANIZATION, kind="federation", created_at=utcnow())
        session.add(organization)
        session.flush()
    if admin_api_key:
        key_hash = hash_api_key(admin_api_key)
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
        if key is None:
            session.add(ApiKey(organization_id=organization.id, name="bootstrap admin",
                               key_hash=key_hash, prefix=public_key_id(), scopes=["admin"],
                               created_at=utcnow(), created_by="system"))
        elif key.revoked_at is not None or "admin" not in key.scopes:
            key.revoked_at = None
            key.scopes = ["admin"]
    if admin_password:
        user = session.scalar(select(User).where(User.username == "admin"))
        if user is None:
            session.add(User(username="admin", display_name="系统管理员",
                             password_hash=generate_password_hash(admin_password), role="admin",
                             organization_id=organization.id, active=True,
                             session_token=secrets.token_hex(16), created_at=utcnow()))
        elif not check_password_hash(user.password_hash, admin_password) or not user.active \
                or user.role != "admin":
            user.password_hash = generate_password_hash(admin_password)
            user.active = True
            user.role = "admin"
            user.session_token = secrets.token_hex(16)
    session.flush()


def _taken(code: str, field: str, **params: Any) -> Problem:
    """`field`'s value is someone else's already (409, naming the field)."""
    return Problem(code, errors={field: [Message(code, params)]}, **params)


def _flush_unique(session: Session, problem: Problem) -> None:
    """Flush; a unique violation from a racing twin is `problem`."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise problem from None
