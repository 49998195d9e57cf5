"""Which checked households of a batch may be loaded: set-based checks against the registry.

Per batch, a few chunked queries: active households holding the batch's KK numbers (and their
active members, to tell "already present" from "registered with other data"), and active
members holding the batch's NIKs. Within the batch, earlier households claim their KK and NIKs
first, just as earlier batches did by being committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.bulk.validation import Candidate, RowError
from core.enums import MemberStatus, RecordStatus
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.models import Household, Member

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
NIK = MEMBER_COLUMNS.index("nik")
_CHUNK = 2000  # values per IN list
_by_nik = itemgetter(NIK)

Registered = dict[str, tuple[tuple[Any, ...], list[tuple[Any, ...]]]]  # KK -> household values, members by NIK


@dataclass(slots=True)
class Claims:
    """The outcome of a batch's registry checks."""

    loadable: list[Candidate] = field(default_factory=list)
    present: int = 0  # already registered with the same data: skipped
    rejected: int = 0
    rejected_rows: int = 0
    errors: list[RowError] = field(default_factory=list)


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


_ACTIVE_HOUSEHOLDS = select(HOUSEHOLDS.c.id, *(HOUSEHOLDS.c[name] for name in HOUSEHOLD_COLUMNS)).where(
    HOUSEHOLDS.c.kk_number.in_(bindparam("values", expanding=True)), HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value
)
_ACTIVE_MEMBERS = select(MEMBERS.c.household_id, *(MEMBERS.c[name] for name in MEMBER_COLUMNS)).where(
    MEMBERS.c.household_id.in_(bindparam("values", expanding=True)), MEMBERS.c.status == MemberStatus.ACTIVE.value
)
_ACTIVE_NIKS = select(MEMBERS.c.nik).where(
    MEMBERS.c.nik.in_(bindparam("values", expanding=True)), MEMBERS.c.status == MemberStatus.ACTIVE.value
)


async def _registered(conn: AsyncConnection, kk_numbers: Sequence[str]) -> Registered:
    """Active households with these KK numbers, with their active members."""
    households: dict[int, tuple[Any, ...]] = {}
    for chunk in _chunks(kk_numbers):
        rows = await conn.execute(_ACTIVE_HOUSEHOLDS, {"values": chunk})
        households.update((row[0], tuple(row[1:])) for row in rows)
    if not households:
        return {}
    members: defaultdict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for chunk in _chunks(list(households)):
        for row in await conn.execute(_ACTIVE_MEMBERS, {"values": chunk}):
            members[row[0]].append(tuple(row[1:]))
    kk = HOUSEHOLD_COLUMNS.index("kk_number")
    return {values[kk]: (values, sorted(members[id_], key=_by_nik)) for id_, values in households.items()}


async def _active_niks(conn: AsyncConnection, niks: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(niks):
        found.update(await conn.scalars(_ACTIVE_NIKS, {"values": chunk}))
    return found


async def claim(conn: AsyncConnection, candidates: Sequence[Candidate]) -> Claims:
    """Split a batch's candidates into loadable, already present and rejected households."""
    claims = Claims()
    if not candidates:
        return claims
    registered = await _registered(conn, [candidate.kk_number for candidate in candidates])
    taken = await _active_niks(
        conn,
        [
            member[NIK]
            for candidate in candidates
            if candidate.kk_number not in registered
            for member in candidate.members
        ],
    )
    kk_rows: dict[str, int] = {}
    nik_owners: dict[str, tuple[str, int]] = {}
    for candidate in candidates:
        kk = candidate.kk_number
        problems: list[RowError] = []
        if kk in registered:
            values, members = registered[kk]
            if values == candidate.values and members == sorted(candidate.members, key=_by_nik):
                claims.present += 1
                continue
            problems.append(
                (
                    candidate.first_row,
                    "kk_number",
                    f"KK number {kk} is already registered with other data; change that household through the API",
                )
            )
        elif kk in kk_rows:
            problems.append(
                (
                    candidate.first_row,
                    "kk_number",
                    f"KK number {kk} is also the household at row {kk_rows[kk]}; keep a household's rows together",
                )
            )
        else:
            for member, row in zip(candidate.members, candidate.member_rows, strict=True):
                nik = member[NIK]
                if nik in taken:
                    problems.append(
                        (row, "nik", f"NIK {nik} is already active in another household; remove it there first")
                    )
                elif nik in nik_owners:
                    owner, owner_row = nik_owners[nik]
                    problems.append(
                        (row, "nik", f"NIK {nik} is also a member of the household with KK {owner} at row {owner_row}")
                    )
        if problems:
            claims.errors.extend(problems)
            claims.rejected += 1
            claims.rejected_rows += len(candidate.member_rows)
            continue
        kk_rows[kk] = candidate.first_row
        for member, row in zip(candidate.members, candidate.member_rows, strict=True):
            nik_owners[member[NIK]] = (kk, row)
        claims.loadable.append(candidate)
    return claims
