"""Alembic environment: runs on the connection that ``core.storage.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import core.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def _core_only(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Autogenerate sees core's tables only: plugin tables belong to the plugins' own branches."""
    return not (type_ == "table" and reflected and compare_to is None)


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_core_only,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _configure_and_run(connection)
elif context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:  # plain `alembic` command line on a sync URL
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _configure_and_run(conn)
