"""Which checked households of a batch may be loaded: set-based checks against the registry.

Per batch, a few chunked queries: active households holding the batch's KK numbers (and their
active members, to tell "already present" from "registered with other data"), and active
members holding the batch's NIKs. Within the batch, earlier households claim their KK and NIKs
first, just as earlier batches did by being committed.

The importer asks these queries only when it must: it first inserts a batch as if the registry
held none of it (``claim_unregistered``), and the unique indexes on active KK numbers and NIKs
refuse that insert whole when it did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Select, any_, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.bulk.validation import Candidate, RowError
from core.foundation.enums import MemberStatus, RecordStatus
from core.households.data import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS
from core.models import Household, Member

HOUSEHOLDS = Household.__table__
MEMBERS = Member.__table__
NIK = MEMBER_COLUMNS.index("nik")
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


def _matching(column: ColumnElement[Any], on_postgresql: bool) -> ColumnElement[bool]:
    """``column`` is one of the values bound as ``values``: one array on PostgreSQL, an IN list elsewhere."""
    if on_postgresql:
        return column == any_(bindparam("values", type_=ARRAY(column.type)))
    return column.in_(bindparam("values", expanding=True))


@dataclass(frozen=True, slots=True)
class _Lookups:
    """The registry queries of a batch, for one database kind."""

    households: Select[Any]  # active households by KK number
    members: Select[Any]  # active members by household id
    niks: Select[Any]  # active NIKs among given ones
    chunk: int  # values bound at once

    @classmethod
    def build(cls, on_postgresql: bool) -> _Lookups:
        return cls(
            households=select(HOUSEHOLDS.c.id, *(HOUSEHOLDS.c[name] for name in HOUSEHOLD_COLUMNS)).where(
                _matching(HOUSEHOLDS.c.kk_number, on_postgresql), HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value
            ),
            members=select(MEMBERS.c.household_id, *(MEMBERS.c[name] for name in MEMBER_COLUMNS)).where(
                _matching(MEMBERS.c.household_id, on_postgresql), MEMBERS.c.status == MemberStatus.ACTIVE.value
            ),
            niks=select(MEMBERS.c.nik).where(
                _matching(MEMBERS.c.nik, on_postgresql), MEMBERS.c.status == MemberStatus.ACTIVE.value
            ),
            chunk=50_000 if on_postgresql else 2000,
        )

    def chunks(self, values: Sequence[Any]) -> Iterator[list[Any]]:
        for start in range(0, len(values), self.chunk):
            yield list(values[start : start + self.chunk])


_LOOKUPS = {on_postgresql: _Lookups.build(on_postgresql) for on_postgresql in (False, True)}


async def _registered(conn: AsyncConnection, lookups: _Lookups, kk_numbers: Sequence[str]) -> Registered:
    """Active households with these KK numbers, with their active members."""
    households: dict[int, tuple[Any, ...]] = {}
    for chunk in lookups.chunks(kk_numbers):
        rows = await conn.execute(lookups.households, {"values": chunk})
        households.update((row[0], tuple(row[1:])) for row in rows)
    if not households:
        return {}
    members: defaultdict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for chunk in lookups.chunks(list(households)):
        for row in await conn.execute(lookups.members, {"values": chunk}):
            members[row[0]].append(tuple(row[1:]))
    kk = HOUSEHOLD_COLUMNS.index("kk_number")
    return {values[kk]: (values, sorted(members[id_], key=_by_nik)) for id_, values in households.items()}


async def _active_niks(conn: AsyncConnection, lookups: _Lookups, niks: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in lookups.chunks(niks):
        found.update(await conn.scalars(lookups.niks, {"values": chunk}))
    return found


async def claim(conn: AsyncConnection, candidates: Sequence[Candidate]) -> Claims:
    """Split a batch's candidates into loadable, already present and rejected households."""
    if not candidates:
        return Claims()
    on_postgresql = conn.dialect.name == "postgresql"
    if on_postgresql:
        # A cached generic plan, chosen while the tables were small, could scan the growing tables
        # on every batch: plan each lookup for its own values instead.
        await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    lookups = _LOOKUPS[on_postgresql]
    registered = await _registered(conn, lookups, [candidate.kk_number for candidate in candidates])
    taken = await _active_niks(
        conn,
        lookups,
        [
            member[NIK]
            for candidate in candidates
            if candidate.kk_number not in registered
            for member in candidate.members
        ],
    )
    if on_postgresql:
        # Back to generic plans before the inserts: the foreign-key triggers run one cached
        # statement per inserted row, and re-planning it for every member doubles a COPY's time.
        await conn.execute(text("SET LOCAL plan_cache_mode = auto"))
    return settle(candidates, registered, taken)


def claim_unregistered(candidates: Sequence[Candidate]) -> Claims:
    """The claims if the registry held none of the batch's KK numbers and NIKs: only the batch's own
    repeats are refused. Right whenever inserting the loadable ones breaks no unique index."""
    return settle(candidates, {}, set())


def settle(candidates: Sequence[Candidate], registered: Registered, taken: set[str]) -> Claims:
    """The claims, given the registered households among the batch's KK numbers and the NIKs taken."""
    claims = Claims()
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
