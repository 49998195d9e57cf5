"""Reading regions."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.regions.codes import within
from core.storage.records import REGIONS, RegionRecord


async def regions_by_code(conn: AsyncConnection, codes: Iterable[str]) -> dict[str, RegionRecord]:
    wanted = list(set(codes))
    if not wanted:
        return {}
    rows = await conn.execute(select(REGIONS).where(REGIONS.c.code.in_(wanted)))
    return {row[0]: RegionRecord(*row) for row in rows}


async def list_regions(
    conn: AsyncConnection, *, parent_code: str | None = None, level: int | None = None
) -> list[RegionRecord]:
    """Regions by code order: the direct children of ``parent_code``; with ``level``, every region
    at that level (below ``parent_code`` when given); with neither, the provinces."""
    query = select(REGIONS).order_by(REGIONS.c.code)
    if parent_code is not None and level is not None:
        query = query.where(within(REGIONS.c.code, parent_code), REGIONS.c.level == level)
    elif parent_code is not None:
        query = query.where(REGIONS.c.parent_code == parent_code)
    elif (level or 1) == 1:
        # Provinces are the regions without a parent: asked so, SQLite searches the parent index; asked by
        # level alone, ANALYZE's statistics (4 levels) lead it to scan the whole table in code order (50 ms).
        query = query.where(REGIONS.c.level == 1, REGIONS.c.parent_code.is_(None))
    else:
        query = query.where(REGIONS.c.level == level)
    return [RegionRecord(*row) for row in await conn.execute(query)]


async def children_by_parent(conn: AsyncConnection, parents: Iterable[str]) -> dict[str, list[RegionRecord]]:
    wanted = list(set(parents))
    result: dict[str, list[RegionRecord]] = {code: [] for code in wanted}
    if not wanted:
        return result
    rows = await conn.execute(select(REGIONS).where(REGIONS.c.parent_code.in_(wanted)).order_by(REGIONS.c.code))
    for row in rows:
        result[row.parent_code].append(RegionRecord(*row))
    return result


async def existing_codes(conn: AsyncConnection, codes: Iterable[str]) -> set[str]:
    wanted = list(set(codes))
    if not wanted:
        return set()
    return set((await conn.execute(select(REGIONS.c.code).where(REGIONS.c.code.in_(wanted)))).scalars())
