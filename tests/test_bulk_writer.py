"""``insert_rows``: fast inserts that join the caller's transaction and write what SQLAlchemy writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import String

from core.bulk.importer import HOUSEHOLD_INSERT, MEMBER_INSERT
from core.bulk.writer import insert_rows
from core.foundation.ids import ids
from core.households.data import household_values, member_values
from core.models import Household, Member
from tests import factories
from tests.bulk_files import counts

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
NOW = datetime(2026, 11, 27, 8, 30, 15, 123456, tzinfo=UTC)


def _plain(value: object) -> object:
    return getattr(value, "value", value)


def table_rows(count: int) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Households and members as insert_rows takes them, in HOUSEHOLD_INSERT / MEMBER_INSERT order."""
    households, members = [], []
    for _ in range(count):
        data = factories.household()
        household_id = ids.next_id()
        households.append((household_id, *map(_plain, household_values(data).values()), "active", 1, NOW, NOW))
        for member in data.members:
            values = map(_plain, member_values(member).values())
            members.append((ids.next_id(), household_id, *values, "active", 1, NOW, NOW))
    return households, members


async def test_rows_land_in_the_callers_transaction(db: AsyncEngine) -> None:
    households, members = table_rows(3)
    async with db.begin() as conn:
        assert await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, households) == 3
        assert await insert_rows(conn, MEMBERS, MEMBER_INSERT, members) == 9
    assert await counts(db) == (3, 9)


async def test_a_rollback_leaves_nothing(db: AsyncEngine) -> None:
    households, members = table_rows(3)
    async with db.connect() as conn:
        transaction = await conn.begin()
        await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, households)
        await insert_rows(conn, MEMBERS, MEMBER_INSERT, members)
        await transaction.rollback()
    assert await counts(db) == (0, 0)


async def test_an_error_later_in_the_transaction_undoes_the_rows(db: AsyncEngine) -> None:
    households, members = table_rows(2)
    with pytest.raises(RuntimeError):
        async with db.begin() as conn:
            await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, households)
            await insert_rows(conn, MEMBERS, MEMBER_INSERT, members)
            raise RuntimeError("the batch failed after its inserts")
    assert await counts(db) == (0, 0)


async def test_values_are_stored_exactly_as_sqlalchemy_stores_them(db: AsyncEngine) -> None:
    households, members = table_rows(1)
    fast = members[0]
    twin = {**dict(zip(MEMBER_INSERT, fast, strict=True)), "id": ids.next_id(), "status": "moved"}
    async with db.begin() as conn:
        await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, households)
        await insert_rows(conn, MEMBERS, MEMBER_INSERT, [fast])
        await conn.execute(MEMBERS.insert(), [twin])  # SQLAlchemy's own insert of the same values
    compared = ("birth_date", "in_school", "pregnant", "created_at", "updated_at")
    async with db.connect() as conn:
        as_text = select(MEMBERS.c.id, *(cast(MEMBERS.c[name], String) for name in compared))
        stored = {row[0]: tuple(row[1:]) for row in await conn.execute(as_text)}
        typed = (
            await conn.execute(
                select(MEMBERS.c.birth_date, MEMBERS.c.in_school, MEMBERS.c.created_at).where(MEMBERS.c.id == fast[0])
            )
        ).one()
    assert stored[fast[0]] == stored[twin["id"]]
    assert typed.birth_date == fast[MEMBER_INSERT.index("birth_date")]
    assert typed.in_school is fast[MEMBER_INSERT.index("in_school")]
    assert typed.created_at.replace(tzinfo=UTC) == NOW


async def test_no_rows_is_a_no_op(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        assert await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, []) == 0
    assert await counts(db) == (0, 0)


async def test_a_broken_constraint_raises_integrity_error_and_keeps_nothing(db: AsyncEngine) -> None:
    households, members = table_rows(1)
    twin = (ids.next_id(), *members[0][1:])  # a second active member with the same NIK
    with pytest.raises(IntegrityError):
        async with db.begin() as conn:
            await insert_rows(conn, HOUSEHOLDS, HOUSEHOLD_INSERT, households)
            await insert_rows(conn, MEMBERS, MEMBER_INSERT, [*members, twin])
    assert await counts(db) == (0, 0)
