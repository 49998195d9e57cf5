"""The migrations build exactly the tables the models declare, on the test database (SQLite or PostgreSQL).

A model changed without a migration (or a migration that differs from its model) would otherwise
show only on a fresh production database, as a missing column or index.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import core.models  # noqa: F401  (registers every core table)


def _core_differences(sync_conn: Any) -> list[Any]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    core_tables = set(SQLModel.metadata.tables)

    def concerns_core(difference: Any) -> bool:
        # Plugins' tables (their own migrations, their own metadata) are not in core's metadata:
        # autogenerate would offer to drop them.
        change = difference[0] if isinstance(difference, list) else difference
        table = next((part for part in change if hasattr(part, "name") and hasattr(part, "columns")), None)
        if table is None:
            index_or_column = next((part for part in change if hasattr(part, "table")), None)
            table = None if index_or_column is None else index_or_column.table
        return table is None or table.name in core_tables

    return [d for d in compare_metadata(context, SQLModel.metadata) if concerns_core(d)]


# SQLite cannot reflect expression indexes (migration 0019's region indexes): Alembic skips comparing them there,
# PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        differences = await conn.run_sync(_core_differences)
    assert differences == []
