"""Id blocks numbered in SQL give exactly the ids the block reserved."""

from __future__ import annotations

from sqlalchemy import Integer, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import IdAllocator


async def test_ids_numbered_in_sql_are_the_reserved_ones(engine: AsyncEngine) -> None:
    allocator = IdAllocator(node=5)
    block = allocator.reserve(2100)
    counter = select(literal(0, Integer).label("n")).cte("counter", recursive=True)
    rows = counter.union_all(select(counter.c.n + 1).where(counter.c.n < 2099))
    ordinal = func.row_number().over(order_by=rows.c.n) - 1  # a compound ordinal, as determination uses

    async with engine.connect() as conn:
        numbered = list((await conn.execute(select(block.sql(ordinal)).select_from(rows))).scalars())

    assert sorted(numbered) == [block.id_of(i) for i in range(2100)]
    assert allocator.next_id() > max(numbered)
