"""The outcome that counts for a member: the one of the latest *completed* run that checked them.

A run that failed or is still running never counts; a member checked by several completed runs
(a regional run, then a national one) counts with the latest of them, per source. Runs are
ordered by id (ids grow with time: ``core.foundation.ids``). Everything here builds SQL, so a
cycle or a proposal run reads the outcomes set-based, never one member at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, null, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import Education, IdentityRunKind, IdentityRunStatus, IdentityStatus
from core.models import IdentityCheck, IdentityRun
from core.reference.formats import SchoolLevel, Source

CHECKS = IdentityCheck.__table__
RUNS = IdentityRun.__table__
COMPLETED = IdentityRunStatus.COMPLETED.value
#: The registry's education level of each Dapodik school level (SMK is senior high, as SMA).
SCHOOL_EDUCATION = {
    SchoolLevel.SD: Education.PRIMARY,
    SchoolLevel.SMP: Education.JUNIOR_HIGH,
    SchoolLevel.SMA: Education.SENIOR_HIGH,
    SchoolLevel.SMK: Education.SENIOR_HIGH,
}
#: ``school_outcomes``' level of a child Dapodik checked and did not find enrolled.
NOT_ENROLLED = Education.NONE.value


def completed_runs() -> Select[tuple[int]]:
    """SQL: the ids of the check runs that completed."""
    return select(RUNS.c.id).where(RUNS.c.kind == IdentityRunKind.CHECK.value, RUNS.c.status == COMPLETED)


def superseded(check: Any) -> ColumnElement[bool]:
    """SQL: a later completed run checked the same member against the same source."""
    later = CHECKS.alias("later_check")
    return exists().where(
        later.c.member_id == check.c.member_id,
        later.c.source == check.c.source,
        later.c.run_id > check.c.run_id,
        later.c.run_id.in_(completed_runs()),
    )


def latest_checks(source: Source, statuses: Iterable[IdentityStatus] = (), single_run: bool = False) -> Select[Any]:
    """The checks rows that count, of ``source`` (and one of ``statuses`` if given): one per member at most.

    ``single_run``: only one completed run exists (``completed_run_count``), so nothing is superseded
    and the look-up of later runs per row is left out.
    """
    query = select(CHECKS).where(CHECKS.c.source == source.value, CHECKS.c.run_id.in_(completed_runs()))
    if not single_run:
        query = query.where(~superseded(CHECKS))
    wanted = [status.value for status in statuses]
    if wanted:
        query = query.where(CHECKS.c.status.in_(wanted))
    return query


def civil_deceased(single_run: bool = False) -> Select[Any]:
    """``(member_id, household_id)`` of the members whose Adminduk outcome that counts is ``deceased``."""
    counted = latest_checks(Source.ADMINDUK, [IdentityStatus.DECEASED], single_run).subquery("civil_deceased")
    return select(counted.c.member_id, counted.c.household_id)


def school_outcomes(single_run: bool = False) -> Select[Any]:
    """``(member_id, level)``: the education level Dapodik's outcome that counts gives each child checked.

    ``level`` is an ``Education`` value (``primary``, ``junior_high``, ``senior_high``) for a child
    enrolled, ``none`` for one not enrolled, NULL for one enrolled at a level not given (the
    registry's own education field then decides, as for a child not checked).
    """
    wanted = [IdentityStatus.ENROLLED, IdentityStatus.NOT_ENROLLED]
    counted = latest_checks(Source.DAPODIK, wanted, single_run).subquery("school_checks")
    given = counted.c.details["level"].as_string()
    level = case(
        (counted.c.status == IdentityStatus.NOT_ENROLLED.value, NOT_ENROLLED),
        *((given == school.value, education.value) for school, education in SCHOOL_EDUCATION.items()),
        else_=null(),
    )
    return select(counted.c.member_id, level.label("level"))


async def any_outcome(conn: AsyncConnection, source: Source, statuses: Iterable[IdentityStatus] = ()) -> bool:
    """Whether any completed run holds an outcome of ``source`` (one of ``statuses``): one short probe."""
    query = select(CHECKS.c.member_id).where(CHECKS.c.source == source.value, CHECKS.c.run_id.in_(completed_runs()))
    wanted = [status.value for status in statuses]
    if wanted:
        query = query.where(CHECKS.c.status.in_(wanted))
    return (await conn.execute(query.limit(1))).first() is not None


async def completed_run_count(conn: AsyncConnection) -> int:
    """How many check runs completed (a handful: the runs table is small)."""
    query = select(func.count()).where(RUNS.c.status == COMPLETED, RUNS.c.kind == IdentityRunKind.CHECK.value)
    return int((await conn.execute(query)).scalar_one())
