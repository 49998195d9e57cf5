"""Duplicates inside the demo registry, with the truth: what ``siks dedup run`` should find.

Three kinds, as they arise in the field, each written straight into the tables (as a legacy
migration or a double registration by two operators would have left them):

- ``other_household``: a member registered again in another active household of the same district,
  under a mistyped NIK (one digit wrong, or two neighbouring digits swapped), sometimes with the
  name written differently (``core.demo.name_variants``);
- ``same_household``: a member registered twice in their own household under a mistyped NIK;
- ``family``: a whole household registered again in its village under another KK number, every
  member under a mistyped NIK, some names written differently.

Every choice is a hash of the seed and the record's NIK or KK (``core.demo.reference``'s draws), so
the same population and seed inject the same duplicates on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.writer import insert_rows
from core.demo.name_variants import apply_variant
from core.demo.reference import _Draws, typo_digit, typo_transposed
from core.foundation.enums import MemberStatus, RecordStatus, Relationship, Sex
from core.foundation.ids import ids
from core.storage.db import write_transaction
from core.storage.records import HOUSEHOLDS, MEMBERS

NIK_TYPO_POSITIONS = range(6, 16)  # the birth date and serial: the district part stays a district
NAME_VARIANT_SHARE = 0.3


@dataclass(slots=True)
class InjectedDuplicates:
    """The truth: member pairs that are one person, household pairs that are one family (lower id first)."""

    persons: set[tuple[int, int]] = field(default_factory=set)
    families: set[tuple[int, int]] = field(default_factory=set)
    kinds: dict[str, int] = field(default_factory=dict)


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class _Copier:
    def __init__(self, draws: _Draws, taken_niks: set[str], taken_kks: set[str]) -> None:
        self.draws, self.taken_niks, self.taken_kks = draws, taken_niks, taken_kks
        self.now = datetime.now(UTC)

    def nik(self, nik: str) -> str | None:
        """A mistyped NIK no active member holds."""
        for attempt in range(5):
            pick = self.draws.picker(f"dup-nik{attempt}", nik)
            typo = (
                typo_transposed(nik, NIK_TYPO_POSITIONS, pick)
                if self.draws(f"dup-nik-kind{attempt}", nik) < 0.5
                else None
            ) or typo_digit(nik, NIK_TYPO_POSITIONS, pick)
            if typo not in self.taken_niks:
                self.taken_niks.add(typo)
                return typo
        return None

    def member(self, row: Any, household_id: int, relationship: str) -> dict[str, Any] | None:
        nik = self.nik(row.nik)
        if nik is None:
            return None
        name = row.name
        if self.draws("dup-name", row.nik) < NAME_VARIANT_SHARE:
            variant = apply_variant(name, row.sex == Sex.FEMALE.value, self.draws.picker("dup-variant", row.nik))
            name = variant.name[:120] if variant else name
        values = dict(row._mapping)
        values.update(
            id=ids.next_id(), household_id=household_id, nik=nik, name=name, relationship=relationship,
            status=MemberStatus.ACTIVE.value, version=1, created_at=self.now, updated_at=self.now,
        )  # fmt: skip
        return values

    def kk(self, kk: str) -> str:
        for attempt in range(20):
            candidate = typo_digit(kk, range(6, 16), self.draws.picker(f"dup-kk{attempt}", kk))
            if candidate not in self.taken_kks:
                self.taken_kks.add(candidate)
                return candidate
        raise RuntimeError(f"no free KK number near {kk}")


async def inject_duplicates(
    engine: AsyncEngine, *, persons: float = 0.01, families: float = 0.002, seed: int = 1
) -> InjectedDuplicates:
    """Register ``persons`` of the active members a second time (two thirds in another household of their
    district, one third in their own) and ``families`` of the active households a second time; the truth."""
    draws = _Draws(seed)
    truth = InjectedDuplicates(kinds={"other_household": 0, "same_household": 0, "family": 0})
    async with engine.connect() as conn:
        households = list(
            await conn.execute(select(HOUSEHOLDS).where(HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value))
        )
        members = list(await conn.execute(select(MEMBERS).where(MEMBERS.c.status == MemberStatus.ACTIVE.value)))
    copier = _Copier(draws, {m.nik for m in members}, {h.kk_number for h in households})
    by_household: dict[int, list[Any]] = {}
    for m in members:
        by_household.setdefault(m.household_id, []).append(m)
    in_district: dict[str, list[int]] = {}
    district_of: dict[int, str] = {}
    for h in households:
        district_of[h.id] = h.village_code.rsplit(".", 1)[0]
        in_district.setdefault(district_of[h.id], []).append(h.id)
    new_households: list[dict[str, Any]] = []
    new_members: list[dict[str, Any]] = []
    copied: set[int] = set()
    for h in households:
        if draws("dup-family", h.kk_number) >= families or not by_household.get(h.id):
            continue
        values = dict(h._mapping)
        values.update(id=ids.next_id(), kk_number=copier.kk(h.kk_number), version=1, determined_edition_id=None)
        values.update(created_at=copier.now, updated_at=copier.now)
        copies = [(m, copier.member(m, values["id"], m.relationship)) for m in by_household[h.id]]
        if any(copy is None for _, copy in copies):
            continue
        new_households.append(values)
        for original, copy in copies:
            assert copy is not None
            new_members.append(copy)
            truth.persons.add(_pair(original.id, copy["id"]))
        truth.families.add(_pair(h.id, values["id"]))
        truth.kinds["family"] += 1
        copied.add(h.id)
    for m in members:
        if m.household_id in copied or draws("dup-person", m.nik) >= persons:
            continue
        neighbours = in_district[district_of[m.household_id]]
        elsewhere = draws("dup-where", m.nik) < 2 / 3 and len(neighbours) > 1
        if elsewhere:
            others = [n for n in neighbours if n != m.household_id]
            target = others[int(draws("dup-target", m.nik) * len(others))]
            relationship = Relationship.OTHER_RELATIVE.value
        else:
            target = m.household_id
            relationship = (
                Relationship.OTHER_RELATIVE.value if m.relationship == Relationship.HEAD.value else m.relationship
            )
        copy = copier.member(m, target, relationship)
        if copy is None:
            continue
        new_members.append(copy)
        truth.persons.add(_pair(m.id, copy["id"]))
        truth.kinds["other_household" if elsewhere else "same_household"] += 1
    async with write_transaction(engine) as conn:
        if new_households:
            columns = list(new_households[0])
            await insert_rows(conn, HOUSEHOLDS, columns, [tuple(v[c] for c in columns) for v in new_households])
        if new_members:
            columns = list(new_members[0])
            await insert_rows(conn, MEMBERS, columns, [tuple(v[c] for c in columns) for v in new_members])
    return truth
