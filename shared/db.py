"""Database plumbing shared by the services.

Each service declares its tables in its own PostgreSQL schema (`funds`,
`donations`, `reports`) and connects as its own role (`<prefix>_<service>`,
see shared/postgres.py), which may use that schema only.

One session per request, one commit per request: views and commands only
flush; `Database` commits after a successful response and rolls back on any
error status or exception.
"""

from __future__ import annotations

import datetime as dt
import logging
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from shared.config import SERVICES

log = logging.getLogger(__name__)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware timestamps, always in UTC; a naive datetime is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.astimezone(dt.UTC)


# The largest id of a PostgreSQL `integer` primary key: a larger id names no row,
# and must be answered as such rather than sent to the database (an error there).
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1  # a bigint column's


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def declarative_base(schema: str) -> type[DeclarativeBase]:
    """A declarative base whose tables live in `schema`."""

    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
        type_annotation_map = {dt.datetime: UTCDateTime()}

    return Base


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` (PostgreSQL).

    No ping before every checkout (a round trip per request), but a look at
    the connection's socket, which costs no round trip: a server that ended
    the session (a restart, a shutdown, an idle timeout) has said so and
    closed it, so an idle connection with something to read is dead, and the
    pool replaces it before the request uses it. A connection that dies while
    in use fails its request (503, see `unavailable`); SQLAlchemy then renews
    the whole pool.
    """
    kwargs.setdefault("pool_recycle", 3600)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkout", _refuse_dead_connection)
    return engine


def _refuse_dead_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if _closed_by_server(dbapi_connection):
        raise DisconnectionError("the server closed this connection while it sat in the pool")


def _closed_by_server(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection was closed by its server (or its socket is gone)."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return False
    if dbapi_connection.closed:
        return True
    try:
        fd = pgconn.socket
    except psycopg.Error:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    # Idle, nothing is owed to it: anything to read is the server's goodbye (or EOF).
    return bool(poller.poll(0))


# What a server says when it is going away or not there yet: admin or crash shutdown, starting
# up or shutting down, too many connections; and SQLSTATE class 08, connection exceptions.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached or used right now (down, restarting,
    the connection lost, no connection free): worth a retry shortly, not a fault of the request."""
    if isinstance(error, SATimeoutError):  # no connection free in the pool
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig  # type: ignore[assignment]
    if isinstance(error, psycopg.InterfaceError):  # "the connection is closed"
        return True
    if isinstance(error, psycopg.OperationalError):
        sqlstate = error.sqlstate
        # No SQLSTATE: the client's own failure to connect or to talk to the server.
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES
    return False


class Database:
    """The Flask extension: an engine, and a session per request."""

    def __init__(self, app: Flask | None = None) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self.read_session_factory: sessionmaker[Session] | None = None
        self.read_engine: Engine | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Connect as the service's own role (never as the database's owner)."""
        service = app.config["SERVICE_NAME"]
        assert service in SERVICES, f"{service} is not a service with a database"
        settings = app.config["SETTINGS"]
        url = settings.service_database_url(service)
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # A request that only reads (GET, HEAD) reads through connections whose every
        # transaction is read-only: a write added to one later fails at once instead of
        # committing unseen. A statement is its own transaction (one round trip); a read
        # that must see one moment across statements asks for a snapshot (below).
        self.read_engine = make_engine(url, pool_size=5, max_overflow=10,
                                       isolation_level="AUTOCOMMIT",
                                       connect_args={"options": "-c default_transaction_read_only=on"})
        self.read_session_factory = sessionmaker(self.read_engine, expire_on_commit=False)
        app.extensions["database"] = self
        app.after_request(self._commit_or_roll_back)
        app.teardown_appcontext(self._close)

    @property
    def session(self) -> Session:
        """The session of the current request (or app context)."""
        session: Session | None = g.get("_db_session")
        if session is None:
            assert self.session_factory is not None, "Database.init_app was not called"
            reading = has_request_context() and request.method in ("GET", "HEAD")
            session = (self.read_session_factory if reading else self.session_factory)()
            g._db_session = session
        return session

    def _commit_or_roll_back(self, response: Response) -> Response:
        session: Session | None = g.get("_db_session")
        callbacks = g.pop("_after_commit", [])
        if session is not None:
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
                callbacks = []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the request's work is committed; what follows it must not undo that
                log.exception("a side effect after the commit failed")
        return response

    def _close(self, _exc: BaseException | None) -> None:
        session: Session | None = g.pop("_db_session", None)
        if session is not None:
            session.rollback()  # anything left uncommitted, e.g. after an exception
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success, for work outside a request."""
        assert self.session_factory is not None
        with self.session_factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        for engine in (self.engine, self.read_engine):
            if engine is not None:
                engine.dispose()


def snapshot(session: Session) -> None:
    """Make the session's next statements read one moment of the database (a
    REPEATABLE READ transaction): a statement's opening balance and its entries,
    a chain's head and its entries. Call it before the session's first query."""
    if not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def after_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once the current request's work has committed (never if it rolls back):
    side effects (a call to another service, an email) come after the commit."""
    g.setdefault("_after_commit", []).append(callback)


def db_session() -> Session:
    """The current request's session."""
    from flask import current_app

    database: Database = current_app.extensions["database"]
    return database.session


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character '\\') matching `text` anywhere, literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
