"""Alembic migrations, one history per service, each in its own schema.

    python -m shared.migrate              # upgrade every service to head
    python -m shared.migrate funds        # one service
    python -m shared.migrate revision funds -m "what changed"   # autogenerate

Migrations run as the database's owner (the user in DATABASE_URL; without
DATABASE_URL, the embedded server under var/pg). After bringing a service's
schema to head, `upgrade` (re)creates the service's own role and gives it
exactly the privileges in `services/<service>/migrations/privileges.sql`.
"""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url

from shared.config import REPO_ROOT, SERVICES, load_settings
from shared.postgres import (
    database_or_embedded, drop_database, drop_roles, ensure_role, libpq_dsn, role_password, role_prefix, service_role,
)


def migrations_folder(service: str) -> Path:
    return REPO_ROOT / "services" / service / "migrations"


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_folder(service)))
    config.set_main_option("version_locations", str(migrations_folder(service) / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    config.attributes["service"] = service
    return config


def upgrade(database_url: str, services: tuple[str, ...] = SERVICES, revision: str = "head", *,
            secret_key: str, database_role_prefix: str | None = None) -> None:
    """Migrate each service as the owner, then (at head) set up its role.

    `secret_key` and `database_role_prefix` must be those the services run
    with: they name the roles and derive their passwords.
    """
    for service in services:
        if (migrations_folder(service) / "env.py").exists():
            command.upgrade(alembic_config(service, database_url), revision)
        if revision == "head" and (migrations_folder(service) / "privileges.sql").exists():
            grant_service_role(database_url, service, secret_key, database_role_prefix)


# psql's `:"name"` (a variable as a quoted identifier): the only substitution
# privileges.sql may use.
VARIABLE = re.compile(r':"([A-Za-z_]+)"')


def privileges_sql(service: str, identifiers: dict[str, str], connection: psycopg.Connection[Any]) -> str:
    """The service's privileges.sql with `:"role"` and `:"schema"` replaced by quoted identifiers."""
    text = (migrations_folder(service) / "privileges.sql").read_text()

    def identifier(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in identifiers:
            raise ValueError(f"privileges.sql of {service}: unknown variable :\"{name}\"")
        return sql.Identifier(identifiers[name]).as_string(connection)

    return VARIABLE.sub(identifier, text)


def grant_service_role(database_url: str, service: str, secret_key: str,
                       database_role_prefix: str | None = None) -> str:
    """Make the service's role (if missing), set its password and its privileges.

    Everything the role or PUBLIC held in the service's schema is revoked
    first, so the role ends with what privileges.sql grants and nothing else
    (also when a later version of the file grants less). Returns the role.
    """
    role = service_role(role_prefix(database_url, database_role_prefix), service)
    database = make_url(database_url).database
    schema = service
    with psycopg.connect(libpq_dsn(database_url)) as connection, connection.transaction():
        ensure_role(connection, role, role_password(secret_key, role))
        names = {"role": sql.Identifier(role), "schema": sql.Identifier(schema)}
        # A service without migrations yet (reports) still has its schema.
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**names))
        for statement in (
            # PUBLIC (every role) may connect, and nothing more in this schema.
            "REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
            "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM PUBLIC",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM PUBLIC",
            "REVOKE ALL ON ALL ROUTINES IN SCHEMA {schema} FROM PUBLIC",
            # The role starts from nothing.
            "REVOKE ALL ON SCHEMA {schema} FROM {role}",
            "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
            "REVOKE ALL ON ALL ROUTINES IN SCHEMA {schema} FROM {role}",
        ):
            connection.execute(sql.SQL(statement).format(**names))
        if database:
            connection.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)))
        connection.execute(privileges_sql(service, {"role": role, "schema": schema}, connection).encode())
        # Whatever the file says, never the migrations' own bookkeeping.
        if connection.execute("SELECT to_regclass(%s)", (f"{schema}.alembic_version",)).fetchone() != (None,):
            connection.execute(sql.SQL("REVOKE ALL ON TABLE {}.alembic_version FROM {}").format(
                sql.Identifier(schema), sql.Identifier(role)))
    return role


def drop_database_and_roles(database_url: str, database_role_prefix: str | None = None) -> None:
    """Undo `upgrade`: drop the database and the services' roles it made (roles belong
    to the whole server, so they outlive the database unless dropped too)."""
    drop_database(database_url)
    prefix = role_prefix(database_url, database_role_prefix)
    drop_roles(database_url, [service_role(prefix, service) for service in SERVICES])


def service_metadata(service: str) -> MetaData:
    module = importlib.import_module(f"services.{service}.models")
    return module.Base.metadata  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", default="upgrade", choices=["upgrade", "revision"])
    parser.add_argument("services", nargs="*", help="services (default: all)")
    parser.add_argument("-m", "--message", default="changes")
    args = parser.parse_args(argv)
    settings = load_settings()
    services = tuple(args.services) or SERVICES
    if not settings.database_url:
        print(f"on the embedded PostgreSQL under {settings.var_dir / 'pg'}")
    with database_or_embedded(settings.database_url, settings.var_dir / "pg") as url:
        run(args, url, services, settings)


def run(args: argparse.Namespace, database_url: str, services: tuple[str, ...], settings: Any) -> None:
    if args.action == "upgrade":
        upgrade(database_url, services, secret_key=settings.secret_key,
                database_role_prefix=settings.database_role_prefix)
        print(f"database at head: {', '.join(services)}")
    else:
        for service in services:
            (migrations_folder(service) / "versions").mkdir(parents=True, exist_ok=True)
            command.revision(alembic_config(service, database_url), message=args.message,
                             autogenerate=True)


if __name__ == "__main__":
    main()
