"""Writing many rows fast, inside the caller's transaction.

PostgreSQL gets ``COPY`` through asyncpg; SQLite gets the driver's ``executemany``. Values go
through each column type's own bind processor first, so what lands is exactly what SQLAlchemy
would have written (dates and timestamps in SQLite's text form, for example).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Sequence[Any]


def _processors(conn: AsyncConnection, table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    dialect = conn.dialect
    return [table.c[name].type.bind_processor(dialect) for name in columns]


async def insert_rows(conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns the count."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        # SQLAlchemy opens the driver's transaction lazily, on the first statement it runs;
        # run one so that COPY joins the caller's transaction instead of committing alone.
        await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if conn.dialect.name == "postgresql":
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))  # type: ignore[union-attr]
        return len(rows)
    processors = _processors(conn, table, columns)
    if any(processors):
        pairs = [(i, p) for i, p in enumerate(processors) if p is not None]
        converted = []
        for row in rows:
            values = list(row)
            for index, process in pairs:
                value = values[index]
                if value is not None:
                    values[index] = process(value)
            converted.append(values)
        rows = converted
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    await driver.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # type: ignore[union-attr]
    return len(rows)
