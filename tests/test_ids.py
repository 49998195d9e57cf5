"""Row ids: unique and time-ordered, also when a block is numbered in SQL."""

from __future__ import annotations

from sqlalchemy import Integer, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.ids import IdAllocator


async def test_a_reserved_block_numbered_in_sql_meets_no_other_id(db: AsyncEngine) -> None:
    allocator = IdAllocator(node=7)
    before = allocator.next_id()
    block = allocator.reserve(3000)
    after = allocator.next_id()
    counting = select(literal(0, Integer).label("n")).cte("numbers", recursive=True)
    numbers = counting.union_all(select(counting.c.n + 1).where(counting.c.n < 2999))
    ordinal = func.row_number().over(order_by=numbers.c.n) - 1
    async with db.connect() as conn:
        in_sql = [row[0] for row in await conn.execute(select(block.sql(ordinal)).order_by(numbers.c.n))]
    assert in_sql == [block.id_of(n) for n in range(3000)]
    assert len(set(in_sql)) == 3000 and before < min(in_sql) and max(in_sql) < after


def test_large_takes_are_unique_increasing_and_meet_no_other_id() -> None:
    allocator = IdAllocator(node=5)
    small = allocator.take(10)
    large = allocator.take(2500)
    after = allocator.next_id()
    taken = [*small, *large, after]
    assert len(large) == 2500 and taken == sorted(taken) and len(set(taken)) == len(taken)
    assert len({identifier >> 22 for identifier in large}) == 3  # 1,024 ids a millisecond
    assert {identifier >> 10 & 0xFFF for identifier in large} == {5}  # the allocator's node bits
