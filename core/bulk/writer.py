"""Writing many rows fast, inside the caller's transaction.

PostgreSQL gets ``COPY`` through asyncpg; SQLite gets the driver's ``executemany``. On SQLite,
values go through each column's dialect-level bind processor first (column by column, in C
where SQLAlchemy has it), so what lands is exactly what SQLAlchemy would have written: dates
and timestamps in SQLite's text form, booleans as 0/1. A broken constraint (a duplicate key,
a missing parent row) raises SQLAlchemy's ``IntegrityError``, as an ordinary insert would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Sequence[Any]
_DRIVER_INTEGRITY_ERRORS = (sqlite3.IntegrityError, IntegrityConstraintViolationError)


def _processors(dialect: Dialect, table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _converted(values: tuple[Any, ...], process: Callable[[Any], Any]) -> Iterable[Any]:
    """One column through its processor; a column with few distinct values (flags, one timestamp
    for the whole batch) converts each distinct value once."""
    try:
        distinct = set(values)
    except TypeError:  # unhashable values (arrays): convert every one
        return map(process, values)
    if len(distinct) > len(values) // 2:
        return map(process, values)
    return map({value: process(value) for value in distinct}.__getitem__, values)


def _processed(rows: Sequence[Row], processors: Sequence[Callable[[Any], Any] | None]) -> Sequence[Row]:
    """The rows with every processed column converted; bind processors accept None."""
    if not any(processors):
        return rows
    columns = [
        values if process is None else _converted(values, process)
        for values, process in zip(zip(*rows, strict=True), processors, strict=True)
    ]
    return list(zip(*columns, strict=True))


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
    try:
        if conn.dialect.name == "postgresql":
            await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))  # type: ignore[union-attr]
        else:
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"
            await driver.executemany(statement, _processed(rows, _processors(conn.dialect, table, columns)))  # type: ignore[union-attr]
    except _DRIVER_INTEGRITY_ERRORS as exc:  # as SQLAlchemy's own execute would raise it
        raise IntegrityError(f"bulk insert into {table.name}", None, exc) from exc
    return len(rows)
