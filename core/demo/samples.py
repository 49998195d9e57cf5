"""A few real households of the registry to try the API with, printed after the demo seeds it.

Ids are handed out anew in every database and NIKs carry birth dates counted from the demo's
reference year, so the README cannot name them; ``siks demo`` and the first ``siks serve`` print
these instead. The choice is stable: the head of the household with the lowest KK number in each
of the first villages (by code) that have households.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus, RecordStatus, Relationship
from core.foundation.ids import encode_global
from core.storage.records import HOUSEHOLDS, MEMBERS, REGIONS

SAMPLE_VILLAGES = 3


@dataclass(frozen=True, slots=True)
class HouseholdSample:
    """One active household and its head."""

    household_id: int
    kk_number: str
    village_code: str
    village_name: str
    head_nik: str
    head_name: str

    @property
    def global_id(self) -> str:
        """The household's id as the API answers and takes it."""
        return encode_global("Household", self.household_id)

    def line(self) -> str:
        return (
            f"household id {self.global_id} (KK {self.kk_number}) in {self.village_name} {self.village_code}: "
            f"head {self.head_name}, NIK {self.head_nik}"
        )


async def household_samples(conn: AsyncConnection, villages: int = SAMPLE_VILLAGES) -> list[HouseholdSample]:
    """One household of each of the first ``villages`` villages that have active households."""
    active = HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value
    first_villages = (
        select(HOUSEHOLDS.c.village_code)
        .where(active)
        .group_by(HOUSEHOLDS.c.village_code)
        .order_by(HOUSEHOLDS.c.village_code)
        .limit(villages)
    )
    codes = list((await conn.execute(first_villages)).scalars())
    if not codes:
        return []
    rows = await conn.execute(
        select(
            HOUSEHOLDS.c.id,
            HOUSEHOLDS.c.kk_number,
            HOUSEHOLDS.c.village_code,
            REGIONS.c.name,
            MEMBERS.c.nik,
            MEMBERS.c.name,
        )
        .join(MEMBERS, MEMBERS.c.household_id == HOUSEHOLDS.c.id)
        .join(REGIONS, REGIONS.c.code == HOUSEHOLDS.c.village_code)
        .where(
            active,
            HOUSEHOLDS.c.village_code.in_(codes),
            MEMBERS.c.relationship == Relationship.HEAD.value,
            MEMBERS.c.status == MemberStatus.ACTIVE.value,
        )
        .order_by(HOUSEHOLDS.c.village_code, HOUSEHOLDS.c.kk_number, HOUSEHOLDS.c.id)
    )
    first_of_village: dict[str, HouseholdSample] = {}
    for row in rows:
        if row[2] not in first_of_village:
            first_of_village[row[2]] = HouseholdSample(int(row[0]), *row[1:])
    return list(first_of_village.values())


def sample_lines(samples: list[HouseholdSample]) -> list[str]:
    """What the commands print: a heading and one line a household."""
    if not samples:
        return []
    return [
        "try the API with these (this database's own; ids differ in every database):",
        *(f"  {sample.line()}" for sample in samples),
    ]
