"""The body of every service's alembic env.py."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from shared.db import make_engine
from shared.migrate import service_metadata


def run() -> None:
    config = context.config
    service = config.attributes["service"]
    metadata = service_metadata(service)
    # As the database's owner: the owner owns every schema and table.
    engine = make_engine(config.attributes["database_url"])
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{service}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=service,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == service,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
