"""Alembic migrations, one history per service, each in its own schema.

    python -m shared.migrate              # upgrade every service to head
    python -m shared.migrate funds        # one service
    python -m shared.migrate revision funds -m "what changed"   # autogenerate
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData

from shared.config import REPO_ROOT, SERVICES, load_settings


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "services" / service / "migrations"))
    config.set_main_option("version_locations", str(REPO_ROOT / "services" / service / "migrations" / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    config.attributes["service"] = service
    return config


def upgrade(database_url: str, services: tuple[str, ...] = SERVICES, revision: str = "head") -> None:
    for service in services:
        if (REPO_ROOT / "services" / service / "migrations").is_dir():
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
    if args.action == "upgrade":
        upgrade(settings.database_url, services)
        print(f"database at head: {', '.join(services)}")
    else:
        for service in services:
            Path(REPO_ROOT / "services" / service / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
            command.revision(alembic_config(service, settings.database_url), message=args.message,
                             autogenerate=True)


if __name__ == "__main__":
    main()
