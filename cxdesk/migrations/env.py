"""Alembic environment: run on a connection handed over by cxdesk.db, or by URL."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cxdesk.migrations import autogenerate_includes
from cxdesk.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _migrate(conn)


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=autogenerate_includes,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
