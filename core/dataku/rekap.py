"""Rekap: the public recap of aid and of the verification round, nationally by province or for one
province by regency.

Two figures, each counted by grouped statements and published as the public GraphQL recap publishes
(``core.public.recap.published``: counts below ``SIKS_PUBLIC_RECAP_MIN_COUNT`` withheld, the others
rounded down to a multiple of it):

- **recipients**: per programme, the households enrolled by approved cycles (``lookup.received``) in
  the programme's latest period with an approved cycle anywhere, and the Rupiah of their enrollments
  for that period; one ``GROUP BY`` statement over the enrollments (their members are not counted:
  a probe of the members a row made that statement six times slower, see docs/dataku.md). One period a
  programme for the whole country, so a province's regencies add up to the province's row.
  Rupiah are published rounded down to a multiple of N times the smallest amount one household gets
  in that programme and period (N the minimum count; a line's total over programmes: the smallest of
  all): with a flat benefit an exact sum would give the exact count back (sum / benefit), and this way
  it gives the published count back, no more; a cell whose count is withheld has its Rupiah withheld.
- **progress** of the current verification round (the newest open one, else the newest): households
  due on its prelist, visited in the field, and whose proposals were determined into DTKS, from
  ``core.verification.progress.round_progress`` (the operators' progress, the same counting).

``RekapCache`` keeps a published recap (and the charts drawn from it) for
``SIKS_REKAP_CACHE_SECONDS`` per process: repeated page views do not count again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.dataku.i18n import N_, Message
from core.programs.registry import ProgramRegistry
from core.public.lookup import APPROVED, CYCLES, ENROLLMENTS, received
from core.public.recap import published
from core.regions.codes import within
from core.regions.queries import regions_by_code
from core.storage.records import RegionRecord
from core.verification.progress import CODE_LENGTH, round_progress
from core.verification.rounds import OPEN, ROUNDS

UNKNOWN_PROVINCE = Message(N_("There is no province with that code. Choose a province from the national recap."))


@dataclass(frozen=True, slots=True)
class Programme:
    slug: str
    name: str
    period: str

    @property
    def label(self) -> str:
        """The short name charts use: ``PKH``, ``PBI-JK``."""
        return self.slug.upper().replace("_", "-")


@dataclass(frozen=True, slots=True)
class Cell:
    """Recipients of one programme in one region (None: withheld, fewer than the minimum count)."""

    households: int | None = 0
    rupiah: int | None = 0


@dataclass(frozen=True, slots=True)
class AidLine:
    code: str  # '' for the total
    name: str
    cells: dict[str, Cell]  # by programme slug
    total: Cell


@dataclass(frozen=True, slots=True)
class ProgressLine:
    code: str
    name: str
    due: int | None
    visited: int | None
    determined: int | None

    @property
    def visited_share(self) -> float | None:
        """From the published counts, as the public GraphQL recap's share; None when one is withheld."""
        if self.due is None or self.visited is None:
            return None
        return min(self.visited / self.due, 1.0) if self.due else 0.0


@dataclass(frozen=True, slots=True)
class Round:
    id: int
    label: str
    period: str
    open: bool


@dataclass(frozen=True, slots=True)
class Rekap:
    province: RegionRecord | None  # None: the whole country, lines by province
    programmes: list[Programme]
    aid: list[AidLine]
    aid_total: AidLine
    round: Round | None
    progress: list[ProgressLine]
    progress_total: ProgressLine | None
    rounded_to: int


@dataclass(frozen=True, slots=True)
class _Counted:
    households: int
    rupiah: int


def _part(column: Any, province: str) -> Any:
    """The code of the line a row counts in: its province, or its regency inside ``province``."""
    return func.substr(column, 1, CODE_LENGTH[2 if province else 1])


async def count_recipients(conn: AsyncConnection, province: str) -> list[Any]:
    """Rows of (program, period, line code, households, rupiah, smallest amount above 0): one statement."""
    latest = (
        select(CYCLES.c.program, func.max(CYCLES.c.period).label("period"))
        .where(CYCLES.c.status == APPROVED)
        .group_by(CYCLES.c.program)
        .subquery("latest")
    )
    part = _part(ENROLLMENTS.c.village_code, province).label("part")
    query = (
        select(
            ENROLLMENTS.c.program,
            ENROLLMENTS.c.period,
            part,
            func.count(),
            func.sum(ENROLLMENTS.c.amount),
            func.min(case((ENROLLMENTS.c.amount > 0, ENROLLMENTS.c.amount))),
        )
        .select_from(
            ENROLLMENTS.join(
                latest, and_(latest.c.program == ENROLLMENTS.c.program, latest.c.period == ENROLLMENTS.c.period)
            )
        )
        .where(received(), within(ENROLLMENTS.c.village_code, province))
        .group_by(ENROLLMENTS.c.program, ENROLLMENTS.c.period, part)
    )
    return list(await conn.execute(query))


async def current_round(conn: AsyncConnection) -> Round | None:
    """The newest open verification round, else the newest closed one; None when there is none."""
    opened = case((ROUNDS.c.status == OPEN, 0), else_=1)
    row = (
        await conn.execute(
            select(ROUNDS.c.id, ROUNDS.c.label, ROUNDS.c.period, ROUNDS.c.status)
            .order_by(opened, ROUNDS.c.created_at.desc(), ROUNDS.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else Round(row.id, row.label, row.period, row.status == OPEN)


def _published_cell(counted: _Counted, unit: int, min_count: int) -> Cell:
    households = published(counted.households, min_count)
    if households is None:
        return Cell(None, None)
    rupiah = counted.rupiah if min_count <= 1 else counted.rupiah - counted.rupiah % max(unit, 1)
    return Cell(households, rupiah)


def _add(a: _Counted, b: _Counted) -> _Counted:
    return _Counted(a.households + b.households, a.rupiah + b.rupiah)


async def make_rekap(
    conn: AsyncConnection, province: RegionRecord | None, registry: ProgramRegistry, min_count: int
) -> Rekap:
    """The published recap of the country (``province`` None) or of one province."""
    code = province.code if province else ""
    rows = await count_recipients(conn, code)
    periods: dict[str, str] = {}
    smallest: dict[str, int] = {}
    counted: dict[tuple[str, str], _Counted] = {}
    for program, period, part, households, rupiah, least in rows:
        periods[program] = period
        if least:
            smallest[program] = min(smallest.get(program, int(least)), int(least))
        counted[(part, program)] = _Counted(int(households), int(rupiah or 0))
    programmes = [
        Programme(slug, registry.programs[slug].name if slug in registry.programs else slug.upper(), periods[slug])
        for slug in sorted(periods)
    ]
    found = await current_round(conn)
    progress = await round_progress(conn, found.id, code) if found else None
    parts = {part for part, _ in counted} | {row.region_code for row in (progress.regions if progress else [])}
    names = await regions_by_code(conn, parts)

    units = {slug: min_count * smallest.get(slug, 1) for slug in periods}
    zero = _Counted(0, 0)

    def aid_line(line: str, name: str, counts: dict[str, _Counted]) -> AidLine:
        total = zero
        for value in counts.values():
            total = _add(total, value)
        cells = {slug: _published_cell(counts.get(slug, zero), units[slug], min_count) for slug in periods}
        return AidLine(line, name, cells, _published_cell(total, min(units.values(), default=1), min_count))

    aid_parts = sorted({part for part, _ in counted})
    aid = [
        aid_line(part, _name(names, part), {slug: counted[(part, slug)] for slug in periods if (part, slug) in counted})
        for part in aid_parts
    ]
    by_programme = {slug: zero for slug in periods}
    for (_part_code, slug), value in counted.items():
        by_programme[slug] = _add(by_programme[slug], value)
    aid_total = aid_line("", "", by_programme)

    def progress_line(line: str, name: str, due: int, visited: int, determined: int) -> ProgressLine:
        return ProgressLine(
            line, name, published(due, min_count), published(visited, min_count), published(determined, min_count)
        )

    lines = [
        progress_line(row.region_code, _name(names, row.region_code), row.due, row.visited, row.determined)
        for row in (progress.regions if progress else [])
    ]
    total = (
        progress_line("", "", progress.total.due, progress.total.visited, progress.total.determined)
        if progress and progress.regions
        else None
    )
    return Rekap(province, programmes, aid, aid_total, found, lines, total, min_count)


def _name(names: dict[str, RegionRecord], code: str) -> str:
    region = names.get(code)
    return region.name if region else code


@dataclass(slots=True)
class _Entry:
    expires: float
    rekap: Rekap
    charts: dict[tuple[str, str], bytes] = field(default_factory=dict)


class RekapCache:
    """Published recaps by province code ('' the country) for ``seconds``, with the charts drawn from each.

    Keys are the country and the provinces that exist (unknown codes are refused before), so the cache
    stays small. One recap is counted at a time per key: readers arriving while it is counted wait for it.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _entry(self, key: str, count: Callable[[], Awaitable[Rekap]]) -> _Entry:
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self._clock():
            return entry
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self._clock():
                rekap = await count()
                entry = _Entry(self._clock() + self.seconds, rekap)
                if self.seconds > 0:
                    self._entries[key] = entry
            return entry

    async def rekap(self, key: str, count: Callable[[], Awaitable[Rekap]]) -> Rekap:
        return (await self._entry(key, count)).rekap

    async def chart(
        self,
        key: str,
        count: Callable[[], Awaitable[Rekap]],
        name: tuple[str, str],
        draw: Callable[[Rekap], Awaitable[bytes]],
    ) -> bytes:
        """The chart ``name`` (figure, language) of the recap of ``key``, drawn once while the recap is kept."""
        entry = await self._entry(key, count)
        drawn = entry.charts.get(name)
        if drawn is None:
            drawn = await draw(entry.rekap)
            entry.charts[name] = drawn
        return drawn
