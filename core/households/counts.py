"""How many households a region holds, from the per-region counters: a country costs what a village does.

``region_household_counts`` has one row per village, district and regency and per status, kept exact by
triggers on ``households`` (migration 0019) in the same transaction as every insert, move, status change
and delete, whichever code path or bulk load (COPY included) writes. A province or the country is the sum
of its regencies' rows (at most ~520 small rows), so no write touches a row shared by a whole province or
the whole country (docs/scale.md, "Counts and pages").

``rebuild`` recomputes every row from the households; ``check`` compares them with a full count and names
the regions that differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, func, literal, literal_column, select, text, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import RecordStatus
from core.models import RegionHouseholdCount
from core.regions.codes import level_number
from core.storage.records import HOUSEHOLDS

COUNTS = RegionHouseholdCount.__table__

#: The levels that have rows (regency 2, district 3, village 4) and the width of their codes.
COUNTED_LEVELS: dict[int, int] = {2: 5, 3: 8, 4: 13}
#: The level whose rows a province or the country is summed from.
SUMMED_LEVEL = 2


def _status_is(column: ColumnElement[str], status: RecordStatus) -> ColumnElement[bool]:
    """``column = 'active'`` with the value inlined: a partial index on that status is then usable on SQLite."""
    return column == literal(status.value, literal_execute=True)


async def counted_households(conn: AsyncConnection, region_code: str, status: RecordStatus | None) -> int:
    """Households of ``status`` (any, when None) in ``region_code`` and below it; ``''`` is the country."""
    c = COUNTS.c
    level = level_number(region_code) if region_code else 0
    if level in COUNTED_LEVELS:
        where = [c.level == level, c.region_code == region_code]
    else:  # a province, or the country: the sum of its regencies
        where = [c.level == SUMMED_LEVEL]
        if region_code:
            where += [c.region_code > region_code + ".", c.region_code < region_code + "/"]
    if status is not None:
        where.append(_status_is(c.status, status))
    total = (await conn.execute(select(func.sum(c.households)).where(*where))).scalar_one()
    return int(total or 0)


def _full_count() -> object:
    """(level, region_code, status, households) of every counted region, counted from the households."""
    widths = union_all(
        *(
            select(
                literal_column(str(level), Integer).label("level"), literal_column(str(width), Integer).label("width")
            )
            for level, width in COUNTED_LEVELS.items()
        )
    ).subquery("levels")
    code = func.substr(HOUSEHOLDS.c.village_code, 1, widths.c.width)
    return (
        select(widths.c.level, code.label("region_code"), HOUSEHOLDS.c.status, func.count().label("households"))
        .select_from(HOUSEHOLDS.join(widths, true()))
        .group_by(widths.c.level, code, HOUSEHOLDS.c.status)
    )


@dataclass(frozen=True, slots=True)
class CountMismatch:
    """A region whose counter differs from a full count of its households."""

    region_code: str
    status: str
    counted: int  # what the counter says
    actual: int  # what a full count finds

    def line(self) -> str:
        return f"{self.region_code} {self.status}: counter {self.counted}, households {self.actual}"


async def check(conn: AsyncConnection) -> list[CountMismatch]:
    """Every region (village, district, regency) and status whose counter is not a full count, by code."""
    actual = {
        (row.region_code, row.status): int(row.households)
        for row in await conn.execute(_full_count())  # type: ignore[call-overload]
    }
    stored = {
        (row.region_code, row.status): int(row.households)
        for row in await conn.execute(select(COUNTS.c.region_code, COUNTS.c.status, COUNTS.c.households))
    }
    keys = sorted(set(actual) | set(stored))
    return [
        CountMismatch(code, status, stored.get((code, status), 0), actual.get((code, status), 0))
        for code, status in keys
        if stored.get((code, status), 0) != actual.get((code, status), 0)
    ]


async def rebuild(conn: AsyncConnection) -> int:
    """Recompute every counter from the households, in the caller's write transaction; returns the rows written.

    On PostgreSQL the households are locked against writes (SHARE) until the transaction ends, so no write
    lands between the count and the new rows; reads go on.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(text("LOCK TABLE households IN SHARE MODE"))
    await conn.execute(COUNTS.delete())
    inserted = await conn.execute(
        COUNTS.insert().from_select(["level", "region_code", "status", "households"], _full_count())  # type: ignore[arg-type]
    )
    return int(inserted.rowcount or 0)
