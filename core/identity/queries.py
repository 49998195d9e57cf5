"""Reading check outcomes: only completed runs count, and of those the latest per member and source.

A failed run, or one still ``running`` (or killed), is never read. Lists are filtered in SQL by the
caller's scope on the village code stored with each outcome (the household's when checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import IDENTITY_DISCREPANCIES, IdentityRunKind, IdentityRunStatus, IdentityStatus
from core.identity.outcomes import completed_runs, superseded
from core.identity.runs import CHECKS, RUNS
from core.reference.formats import Source
from core.regions.codes import level_number, within
from core.storage.keyset import Slice, Window, settle

#: The outcomes each source gives.
SOURCE_STATUSES: dict[Source, frozenset[IdentityStatus]] = {
    Source.ADMINDUK: frozenset(
        {
            IdentityStatus.VERIFIED,
            IdentityStatus.NIK_UNKNOWN,
            IdentityStatus.IDENTITY_MISMATCH,
            IdentityStatus.DECEASED,
            IdentityStatus.MOVED,
            IdentityStatus.NIK_SUGGESTED,
        }
    ),
    Source.DAPODIK: frozenset({IdentityStatus.ENROLLED, IdentityStatus.NOT_ENROLLED}),
    Source.BPJS: frozenset({IdentityStatus.PBI_ACTIVE, IdentityStatus.PBI_INACTIVE}),
}
#: Code length of a region's children: '' → provinces, a province → regencies ... a village → itself.
CHILD_LENGTH = {0: 2, 1: 5, 2: 8, 3: 13, 4: 13}


@dataclass(slots=True)
class CheckRecord:
    run_id: int
    member_id: int
    source: str
    household_id: int
    village_code: str
    status: str
    probability: float | None
    suggested_nik: str | None
    details: dict[str, Any]
    checked_at: Any
    proposal_id: int | None


@dataclass(slots=True)
class RunRecord:
    id: int
    kind: str
    status: str
    region_code: str | None
    adminduk_snapshot_id: int | None
    dapodik_snapshot_id: int | None
    bpjs_snapshot_id: int | None
    members_checked: int
    summary: dict[str, Any]
    started_by: str
    started_at: Any
    completed_at: Any
    error: str | None


def current() -> list[ColumnElement[bool]]:
    """SQL: the outcome belongs to a completed run and no later completed run has one for the member and source."""
    return [CHECKS.c.run_id.in_(completed_runs()), ~superseded(CHECKS)]


async def latest_checks(conn: AsyncConnection, member_ids: Sequence[int]) -> dict[int, list[CheckRecord]]:
    """Each member's latest completed outcome per source (Adminduk, Dapodik, BPJS order); one statement."""
    found: dict[int, list[CheckRecord]] = {member: [] for member in member_ids}
    if not member_ids:
        return found
    rows = await conn.execute(
        select(CHECKS)
        .where(CHECKS.c.member_id.in_(sorted(set(member_ids))), CHECKS.c.run_id.in_(completed_runs()))
        .order_by(CHECKS.c.member_id, CHECKS.c.source, CHECKS.c.run_id.desc())  # runs: ids grow with time
    )
    seen: set[tuple[int, str]] = set()
    for row in rows:
        if (row.member_id, row.source) not in seen:
            seen.add((row.member_id, row.source))
            found[row.member_id].append(CheckRecord(*row))
    order = {source.value: index for index, source in enumerate(Source)}
    for records in found.values():
        records.sort(key=lambda record: order[record.source])
    return found


@dataclass(frozen=True, slots=True)
class DiscrepancyFilter:
    scope: str
    source: Source
    statuses: frozenset[IdentityStatus]
    region_code: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found = [
            *current(),
            CHECKS.c.source == self.source.value,
            CHECKS.c.status.in_(sorted(status.value for status in self.statuses)),
        ]
        if self.scope:
            found.append(within(CHECKS.c.village_code, self.scope))
        if self.region_code:
            found.append(within(CHECKS.c.village_code, self.region_code))
        return found


def discrepancy_statuses(source: Source, wanted: Sequence[IdentityStatus] | None) -> frozenset[IdentityStatus]:
    """The discrepancies of ``source`` asked for (all of them when ``wanted`` is None)."""
    own = SOURCE_STATUSES[source] & IDENTITY_DISCREPANCIES
    return own if wanted is None else own & frozenset(wanted)


async def discrepancy_page(conn: AsyncConnection, where: DiscrepancyFilter, window: Window) -> Slice:
    """One page of current discrepancies in member-id order (keyset, either direction); rows are CheckRecords."""
    query = window.apply(select(CHECKS).where(*where.conditions()), CHECKS.c.member_id)
    return settle(window, [CheckRecord(*row) for row in await conn.execute(query)])


async def count_discrepancies(conn: AsyncConnection, where: DiscrepancyFilter) -> int:
    query = select(func.count()).select_from(CHECKS).where(*where.conditions())
    return int((await conn.execute(query)).scalar_one())


async def check_run(conn: AsyncConnection, run_id: int | None, region_code: str) -> RunRecord | None:
    """The completed check run ``run_id``, or (None) the latest completed one that covered ``region_code``."""
    query = select(RUNS).where(RUNS.c.kind == IdentityRunKind.CHECK, RUNS.c.status == IdentityRunStatus.COMPLETED)
    if run_id is not None:
        query = query.where(RUNS.c.id == run_id)
    else:
        covering = [RUNS.c.region_code.is_(None)]
        parts = region_code.split(".") if region_code else []
        covering += [RUNS.c.region_code == ".".join(parts[:n]) for n in range(1, len(parts) + 1)]
        query = query.where(or_(*covering)).order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(1)
    row = (await conn.execute(query)).first()
    return None if row is None else RunRecord(*row)


async def counts_by_child_region(
    conn: AsyncConnection, run_id: int, region_code: str, scope: str
) -> dict[str, dict[tuple[str, str], int]]:
    """child region code → (source, status) → members, for one run's outcomes in ``region_code`` and ``scope``."""
    length = CHILD_LENGTH[level_number(region_code) if region_code else 0]
    child = func.substr(CHECKS.c.village_code, 1, length)
    query = (
        select(child, CHECKS.c.source, CHECKS.c.status, func.count())
        .where(CHECKS.c.run_id == run_id)
        .group_by(child, CHECKS.c.source, CHECKS.c.status)
    )
    for code in (region_code, scope):
        if code:
            query = query.where(within(CHECKS.c.village_code, code))
    found: dict[str, dict[tuple[str, str], int]] = {}
    for code, source, status, count in await conn.execute(query):
        found.setdefault(code, {})[(source, status)] = int(count)
    return dict(sorted(found.items()))
