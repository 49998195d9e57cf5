"""``siks identity check``: every active member against the active reference snapshots, as one run.

1. The run records the active snapshot of each source; a source with no active snapshot is skipped
   (the summary says so). Without an Adminduk snapshot there is no run (``CheckRefused``).
2. Members are read in batches, keyset over their ids (``BATCH_MEMBERS`` a batch). For each batch one
   SQL statement per source joins the members to the snapshot on NIK (the database does the matching:
   an index lookup per member, never a query per member); the rules of ``core.identity.rules``
   turn each joined row into an outcome, and the batch's outcomes are written with the bulk writer
   (COPY on PostgreSQL) in one transaction.
3. Members whose NIK the snapshot lacks (Adminduk), and children whom Dapodik lacks under their
   NIK, are then looked for by record linkage (``core.identity.suggestions``).
4. The run is marked completed with its counts and its audit row in one transaction. Any failure
   marks it failed and deletes its outcomes: reads only ever see completed runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, MetaData, Select, Table, Text, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.bulk.writer import insert_rows
from core.foundation.enums import IdentityStatus, RecordStatus
from core.foundation.settings import get_settings
from core.identity import rules
from core.identity.rules import Outcome
from core.identity.runs import CHECKS, RunRefused, begin_run, checked_region, complete_run, fail_run
from core.identity.suggestions import Unmatched, suggest_niks, suggest_pupils
from core.models import AdmindukPerson, BpjsMembership, DapodikPupil
from core.reference.formats import Source
from core.reference.queries import active_snapshots
from core.regions.codes import within
from core.storage.db import refresh_statistics, write_transaction
from core.storage.locks import held_for_job
from core.storage.records import HOUSEHOLDS, MEMBERS

BATCH_MEMBERS = 20_000
ADMINDUK_SOURCE, DAPODIK_SOURCE, BPJS_SOURCE = (source.value for source in Source)
_VALUES = {status: status.value for status in IdentityStatus}  # plain str, read once
ADMINDUK = AdmindukPerson.__table__
DAPODIK = DapodikPupil.__table__
BPJS = BpjsMembership.__table__
CHECK_COLUMNS = (
    "run_id", "member_id", "source", "household_id", "village_code", "status",
    "probability", "suggested_nik", "details", "checked_at",
)  # fmt: skip


#: identity_checks as the bulk writer sees it: ``details`` arrives as JSON text (encoded once per row here; the
#: JSON type would encode it again on SQLite, and COPY takes json as text anyway).
CHECKS_AS_WRITTEN = Table(
    CHECKS.name, MetaData(), *(Column(c.name, Text() if c.name == "details" else c.type) for c in CHECKS.columns)
)


#: A member as the linkage hand-off needs them (``Unmatched``'s fields, in order): the first columns of
#: the Adminduk and Dapodik joins.
UNMATCHED_COLUMNS = (
    MEMBERS.c.id,
    MEMBERS.c.household_id,
    HOUSEHOLDS.c.village_code,
    MEMBERS.c.name,
    MEMBERS.c.birth_date,
    MEMBERS.c.sex,
    MEMBERS.c.nik,
    HOUSEHOLDS.c.kk_number,
)


class CheckRefused(RunRefused):
    """The run cannot start (no Adminduk snapshot, a bad region code); nothing was written."""


@dataclass
class RunSummary:
    run_id: int
    region_code: str | None
    snapshots: dict[str, int]
    skipped: list[str]
    members: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region_code or "",
            "snapshots": self.snapshots,
            "skipped": self.skipped,
            "members": self.members,
            "counts": self.counts,
        }

    def lines(self) -> list[str]:
        where = self.region_code or "the whole country"
        used = ", ".join(f"{source} snapshot {snapshot}" for source, snapshot in self.snapshots.items())
        found = [
            f"run {self.run_id} completed: {self.members:,} members of {where} checked against {used} "
            f"in {self.seconds:.1f} s"
        ]
        for source in self.skipped:
            found.append(f"{source}: skipped, no active snapshot (load one with `siks reference load {source}`)")
        for source, counts in self.counts.items():
            shown = ", ".join(f"{status} {count:,}" for status, count in sorted(counts.items()))
            found.append(f"{source}: {shown or 'nobody to check'}")
        return found


def cli_request(started_by: str) -> RequestInfo:
    return RequestInfo(Principal(username=started_by, role="cli", scope="", via="cli"), client="cli")


async def run_check(
    engine: AsyncEngine,
    *,
    region_code: str | None,
    started_by: str,
    request: RequestInfo | None = None,
    today: date | None = None,
    batch_members: int = BATCH_MEMBERS,
    link_threshold: float | None = None,
) -> RunSummary:
    """Check every active member (of ``region_code`` and below, or of the whole country); CheckRefused when the
    run cannot start. Failures mark the run failed and are raised again.

    One check runs at a time: a second is refused while the first runs, so it cannot take the first
    for a killed run and discard its outcomes (the lock dies with its process: ``core.storage.locks``).
    """
    async with held_for_job(engine, "identity-check") as free:
        if not free:
            raise CheckRefused("another identity check is running; try again when it has finished")
        return await _run_check(engine, region_code, started_by, request, today, batch_members, link_threshold)


async def _run_check(
    engine: AsyncEngine,
    region_code: str | None,
    started_by: str,
    request: RequestInfo | None,
    today: date | None,
    batch_members: int,
    link_threshold: float | None,
) -> RunSummary:
    began = time.perf_counter()
    request = request or cli_request(started_by)
    region = await checked_region(engine, region_code, CheckRefused)
    async with engine.connect() as conn:
        snapshots = await active_snapshots(conn)
    if Source.ADMINDUK not in snapshots:
        raise CheckRefused(
            "no Adminduk snapshot is active: load the civil registry's extract first "
            "(siks reference load adminduk FILE)"
        )
    started_at = datetime.now(UTC)
    run_id = await begin_run(engine, region, snapshots, started_by, started_at)
    summary = RunSummary(
        run_id,
        region,
        {source.value: snapshots[source] for source in Source if source in snapshots},
        [source.value for source in Source if source not in snapshots],
    )
    check = _Check(engine, run_id, region, snapshots, started_at, today or started_at.date())
    try:
        await check.all_members(batch_members)
        threshold = get_settings().identity_link_probability if link_threshold is None else link_threshold
        await check.linked(threshold)
        summary.members = check.members
        summary.counts = {source: dict(sorted(counter.items())) for source, counter in check.counts.items()}
        summary.seconds = time.perf_counter() - began
        await complete_run(engine, run_id, check.members, {**summary.as_json(), "linkThreshold": threshold}, request)
    except BaseException as exc:
        await fail_run(engine, run_id, f"{type(exc).__name__}: {exc}", request, summary.as_json())
        raise
    await refresh_statistics(engine, (CHECKS.name,))
    return summary


def _cutoff(day: date, years: int) -> date:
    """The date ``years`` before ``day`` (28 February for a 29 February that year lacks)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class _Check:
    """One run's state: the batch in hand, the counts, the members left for linkage."""

    def __init__(
        self,
        engine: AsyncEngine,
        run_id: int,
        region: str | None,
        snapshots: dict[Source, int],
        checked_at: datetime,
        today: date,
    ) -> None:
        self.engine, self.run_id, self.region, self.snapshots = engine, run_id, region, snapshots
        self.checked_at, self.today = checked_at, today
        self.no_details = json.dumps({})
        self.members = 0
        self.counts: dict[str, Counter[str]] = {source.value: Counter() for source in Source if source in snapshots}
        self.unknown_niks: list[Unmatched] = []
        self.unfound_pupils: list[Unmatched] = []
        # Children 6-18 on the check date: born after ``oldest`` and on or before ``youngest``.
        self.oldest, self.youngest = _cutoff(self.today, rules.SCHOOL_AGES.stop), _cutoff(self.today, 6)

    def _members(self, *columns: Any) -> Select[Any]:
        query = (
            select(*columns)
            .select_from(MEMBERS.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id))
            .where(MEMBERS.c.status == RecordStatus.ACTIVE.value, HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value)
        )
        return query.where(within(HOUSEHOLDS.c.village_code, self.region)) if self.region else query

    async def all_members(self, batch: int) -> None:
        """Batch after batch; a batch's outcomes are written while the next batch is read and judged."""
        last = -1
        pending: asyncio.Task[None] | None = None
        try:
            while True:
                async with self.engine.connect() as conn:
                    bounds = list(
                        await conn.scalars(
                            self._members(MEMBERS.c.id).where(MEMBERS.c.id > last).order_by(MEMBERS.c.id).limit(batch)
                        )
                    )
                if not bounds:
                    break
                rows = await self._batch(last, bounds[-1])
                self.members += len(bounds)
                last = bounds[-1]
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(self.write(rows))
            if pending is not None:
                await pending
        except BaseException:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            raise

    async def _batch(self, low: int, high: int) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        in_batch = and_(MEMBERS.c.id > low, MEMBERS.c.id <= high)
        async with self.engine.connect() as conn:
            rows += await self._adminduk(conn, in_batch)
            if Source.DAPODIK in self.snapshots:
                rows += await self._dapodik(conn, in_batch)
            if Source.BPJS in self.snapshots:
                rows += await self._bpjs(conn, in_batch)
        return rows

    def row(self, source: str, member: Sequence[Any], outcome: Outcome) -> tuple[Any, ...]:
        """An identity_checks row; ``member`` starts with member id, household id, village code."""
        status = _VALUES[outcome.status]
        self.counts[source][status] += 1
        details = json.dumps(outcome.details) if outcome.details else self.no_details
        return (
            self.run_id, member[0], source, member[1], member[2], status,
            outcome.probability, outcome.suggested_nik, details, self.checked_at,
        )  # fmt: skip

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            async with write_transaction(self.engine) as conn:
                await insert_rows(conn, CHECKS_AS_WRITTEN, CHECK_COLUMNS, rows)

    async def _adminduk(self, conn: AsyncConnection, in_batch: Any) -> list[tuple[Any, ...]]:
        a = ADMINDUK.c
        query = (
            self._members(
                *UNMATCHED_COLUMNS,
                a.status,
                a.death_date,
                a.village_code,
                a.full_name,
                a.birth_date,
                a.sex,
            )  # fmt: skip
            .outerjoin(ADMINDUK, and_(a.snapshot_id == self.snapshots[Source.ADMINDUK], a.nik == MEMBERS.c.nik))
            .where(in_batch)
            .order_by(MEMBERS.c.id, a.updated_at.desc(), a.row_number.desc())
        )
        found = []
        for member in _first_per_member(await conn.execute(query)):
            person = None if member[8] is None else member[8:]
            outcome = rules.adminduk_outcome(member[3], member[4], member[5], member[2], person)
            if outcome is None:
                self.unknown_niks.append(Unmatched(*member[:8]))
            else:
                found.append(self.row(ADMINDUK_SOURCE, member, outcome))
        return found

    async def _dapodik(self, conn: AsyncConnection, in_batch: Any) -> list[tuple[Any, ...]]:
        d = DAPODIK.c
        query = (
            self._members(
                *UNMATCHED_COLUMNS,
                d.enrolled,
                d.level,
                d.grade,
                d.attendance_pct,
                d.row_number,
            )  # fmt: skip
            .outerjoin(DAPODIK, and_(d.snapshot_id == self.snapshots[Source.DAPODIK], d.nik == MEMBERS.c.nik))
            .where(in_batch, MEMBERS.c.birth_date > self.oldest, MEMBERS.c.birth_date <= self.youngest)
            .order_by(MEMBERS.c.id, d.enrolled.desc(), d.semester.desc(), d.row_number.desc())
        )
        found = []
        for member in _first_per_member(await conn.execute(query)):
            if member[12] is None:
                self.unfound_pupils.append(Unmatched(*member[:8]))
            else:
                found.append(self.row(DAPODIK_SOURCE, member, rules.pupil_outcome(member[8:12])))
        return found

    async def _bpjs(self, conn: AsyncConnection, in_batch: Any) -> list[tuple[Any, ...]]:
        b = BPJS.c
        query = (
            self._members(MEMBERS.c.id, MEMBERS.c.household_id, HOUSEHOLDS.c.village_code, b.segment)
            .outerjoin(
                BPJS,
                and_(
                    b.snapshot_id == self.snapshots[Source.BPJS],
                    b.nik == MEMBERS.c.nik,
                    b.active.is_(True),
                    b.segment.in_(sorted(rules.PBI_SEGMENTS)),
                ),
            )
            .where(in_batch)
            .order_by(MEMBERS.c.id, b.segment)
        )
        return [
            self.row(BPJS_SOURCE, member, rules.bpjs_outcome(member[3]))
            for member in _first_per_member(await conn.execute(query))
        ]

    async def linked(self, threshold: float) -> None:
        """Members whose NIK Adminduk lacks, and children Dapodik lacks: looked for by record linkage."""
        if self.unknown_niks:
            found = await suggest_niks(self.engine, self.snapshots[Source.ADMINDUK], self.unknown_niks, threshold)
            await self._write_linked(Source.ADMINDUK, self.unknown_niks, found)
        if self.unfound_pupils:
            found = await suggest_pupils(self.engine, self.snapshots[Source.DAPODIK], self.unfound_pupils, threshold)
            await self._write_linked(Source.DAPODIK, self.unfound_pupils, found)

    async def _write_linked(self, source: Source, members: list[Unmatched], found: dict[int, Outcome]) -> None:
        unknown = Outcome(IdentityStatus.NIK_UNKNOWN)
        default = unknown if source is Source.ADMINDUK else rules.pupil_outcome(None)
        for start in range(0, len(members), BATCH_MEMBERS):
            part = members[start : start + BATCH_MEMBERS]
            await self.write([self.row(source.value, member, found.get(member.member_id, default)) for member in part])


def _first_per_member(rows: Iterable[Any]) -> Iterable[Any]:
    """The first joined row of each member (rows come ordered by member id, best reference row first)."""
    previous = None
    for row in rows:
        if row[0] != previous:
            previous = row[0]
            yield row
