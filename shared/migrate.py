"""Alembic migrations, one history per service, each in its own schema.

    python -m shared.migrate              # upgrade every service to head
    python -m shared.migrate funds        # one service
    python -m shared.migrate revision funds -m "what changed"   # autogenerate

Migrations run on DATABASE_URL; without it, on the embedded server under
var/pg (database `charity`).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from shared.config import REPO_ROOT, SERVICES, load_settings
from shared.postgres import embedded_database


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


def upgrade(database_url: str, services: tuple[str, ...] = SERVICES, revision: str = "head") -> None:
    for service in services:
        if (migrations_folder(service) / "env.py").exists():
            command.upgrade(alembic_config(service, database_url), revision)


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
    if settings.database_url:
        run(args, settings.database_url, services, settings)
    else:
        with embedded_database(settings.var_dir / "pg") as url:
            print(f"on the embedded PostgreSQL under {settings.var_dir / 'pg'}")
            run(args, url, services, settings)


def run(args: argparse.Namespace, database_url: str, services: tuple[str, ...], settings: Any) -> None:
    if args.action == "upgrade":
        upgrade(database_url, services)
        print(f"database at head: {', '.join(services)}")
    else:
        for service in services:
            (migrations_folder(service) / "versions").mkdir(parents=True, exist_ok=True)
            command.revision(alembic_config(service, database_url), message=args.message,
                             autogenerate=True)


if __name__ == "__main__":
    main()
