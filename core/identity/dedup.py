"""``siks dedup run``: the same person or family registered twice inside the registry, as candidate pairs.

1. An ``identity_runs`` row (kind ``dedup``, status ``running``) is written and committed, so a run in
   progress, and a failed one, can be seen.
2. The active members of active households (of one region, or of the whole country) are read as a
   stream, a batch at a time, into one compact frame (``read_people``).
3. ``core.identity.linkage.dedupe`` pairs the records that are probably one person (Fellegi–Sunter
   weights estimated from the data, blocking on regency and birth year and on name and birth date).
   Every pair becomes a ``same_person`` candidate: the same person in two active households, or
   under two NIKs in one household (a mistyped NIK: the partial unique index on active NIKs rules
   out two active members with one NIK, so every such pair is under two NIKs).
4. Households whose members largely pair up become ``same_family`` candidates (``families``).
5. One write transaction stores them (``core.identity.duplicates.store_candidates``: a new pair is
   inserted, an open pair is updated in place, a decided pair is left alone, an open pair no
   longer found is withdrawn), marks the run completed and writes its audit row. A failure before
   that commit marks the run failed and leaves the candidates as they were.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.audit.log import record as audit
from core.foundation.enums import (
    AuditOutcome,
    DuplicateKind,
    IdentityRunKind,
    IdentityRunStatus,
    MemberStatus,
    RecordStatus,
)
from core.foundation.ids import ids
from core.identity.duplicates import Candidate, StoreSummary, store_candidates
from core.identity.runs import RunRefused, checked_region
from core.models import IdentityRun
from core.regions.codes import within
from core.storage.db import write_transaction
from core.storage.locks import held_for_job
from core.storage.records import HOUSEHOLDS, MEMBERS

RUNS = IdentityRun.__table__
#: Rows read from the database per batch.
READ_BATCH = 50_000
#: Pairs below this probability are not proposed: on the demo truth (bench/dedup_bench.py, 100,000 members)
#: the pairs between 0.5 and 0.7 were all wrong (namesakes born days apart in one village), none right.
MIN_PROBABILITY = 0.7
#: A family registered twice: at least this many members pair up ...
FAMILY_MIN_MEMBERS = 2
#: ... and at least this share of the larger household's members.
FAMILY_MIN_SHARE = 0.5
#: The columns handed to the linkage (``core.identity.linkage.PERSON_COLUMNS`` and the optional NIK).
LINKAGE_COLUMNS = ("key", "name", "birth_date", "sex", "region_code", "nik")


class DedupRefused(RunRefused):
    """The run cannot start as asked (the message says why); nothing was written."""


@dataclass(slots=True)
class DedupSummary:
    run_id: int
    region_code: str | None
    members: int = 0
    households: int = 0
    same_person: int = 0
    same_family: int = 0
    stored: StoreSummary = field(default_factory=StoreSummary)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "households": self.households,
            "same_person": self.same_person,
            "same_family": self.same_family,
            **self.stored.as_dict(),
            "seconds": round(self.seconds, 1),
        }

    def line(self) -> str:
        where = f"region {self.region_code}" if self.region_code else "the whole country"
        s = self.stored
        return (
            f"dedup run {self.run_id} over {where}: {self.members:,} members in {self.households:,} households; "
            f"found {self.same_person:,} same-person and {self.same_family:,} same-family pairs "
            f"({s.inserted:,} new, {s.updated:,} updated, {s.unchanged:,} unchanged, {s.decided:,} already decided, "
            f"{s.withdrawn:,} open pairs no longer found withdrawn) in {self.seconds:.1f} s"
        )


@dataclass(slots=True)
class People:
    """The members read: the linkage frame and, aligned with it, each member's household and village."""

    frame: pd.DataFrame
    household: np.ndarray[Any, np.dtype[np.int64]]
    village: np.ndarray[Any, np.dtype[np.object_]]


def _now() -> datetime:
    return datetime.now(UTC)


async def read_people(engine: AsyncEngine, region_code: str | None, batch: int = READ_BATCH) -> People:
    """Active members of active households (in ``region_code`` and below, or everywhere), streamed in batches."""
    query = (
        select(
            MEMBERS.c.id,
            MEMBERS.c.name,
            MEMBERS.c.birth_date,
            MEMBERS.c.sex,
            HOUSEHOLDS.c.village_code,
            MEMBERS.c.nik,
            MEMBERS.c.household_id,
        )
        .select_from(MEMBERS.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id))
        .where(MEMBERS.c.status == MemberStatus.ACTIVE.value, HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value)
    )
    if region_code:
        query = query.where(within(HOUSEHOLDS.c.village_code, region_code))
    parts: list[pd.DataFrame] = []
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=batch))
        async for rows in result.partitions(batch):
            part = pd.DataFrame.from_records(rows, columns=[*LINKAGE_COLUMNS, "household_id"])
            # One village code string per village, not per member: the frame stays small at national scale.
            part["region_code"] = part["region_code"].astype("category")
            parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*LINKAGE_COLUMNS, "household_id"])
    frame["key"] = frame["key"].astype("int64")
    household = frame.pop("household_id").to_numpy(dtype="int64")
    village = frame["region_code"].astype(object).to_numpy()
    return People(frame=frame, household=household, village=village)


def person_candidates(pairs: pd.DataFrame, people: People) -> list[Candidate]:
    """One ``same_person`` candidate per pair: members, their households and villages, probability, agreeing."""
    if pairs.empty:
        return []
    position = pd.Series(np.arange(len(people.frame)), index=people.frame["key"].to_numpy())
    first = position.reindex(pairs["first_key"].to_numpy()).to_numpy()
    second = position.reindex(pairs["second_key"].to_numpy()).to_numpy()
    found = []
    for a, b, first_key, second_key, probability, agreeing in zip(
        first,
        second,
        pairs["first_key"].to_numpy(),
        pairs["second_key"].to_numpy(),
        pairs["probability"].to_numpy(),
        pairs["agreeing"],
        strict=True,
    ):
        if probability < MIN_PROBABILITY:
            continue
        low, high = (a, b) if first_key < second_key else (b, a)
        found.append(
            Candidate(
                kind=DuplicateKind.SAME_PERSON,
                first_id=int(min(first_key, second_key)),
                second_id=int(max(first_key, second_key)),
                first_household_id=int(people.household[low]),
                second_household_id=int(people.household[high]),
                first_village_code=str(people.village[low]),
                second_village_code=str(people.village[high]),
                probability=round(float(probability), 6),
                agreeing=tuple(sorted(agreeing)),
            )
        )
    return found


def families(persons: Iterable[Candidate], household_sizes: dict[int, int]) -> list[Candidate]:
    """Households registered twice: pairs of households whose members largely pair up one to one.

    Person pairs across two households are matched greedily, most probable first, each member used
    once; the households are a ``same_family`` candidate when at least ``FAMILY_MIN_MEMBERS`` pair up
    and they make at least ``FAMILY_MIN_SHARE`` of the larger household. Its probability is the mean
    of the matched pairs' probabilities times that share; it agrees on ``members`` and on every field
    all matched pairs agree on (and ``village_code`` when both are in one village).
    """
    by_households: dict[tuple[int, int], list[Candidate]] = {}
    for pair in persons:
        if pair.first_household_id == pair.second_household_id:
            continue
        key = tuple(sorted((pair.first_household_id, pair.second_household_id)))
        by_households.setdefault(key, []).append(pair)  # type: ignore[arg-type]
    found = []
    for (low, high), pairs in sorted(by_households.items()):
        if len(pairs) < FAMILY_MIN_MEMBERS:
            continue
        used: set[int] = set()
        matched: list[Candidate] = []
        for pair in sorted(pairs, key=lambda p: (-p.probability, p.first_id, p.second_id)):
            if pair.first_id in used or pair.second_id in used:
                continue
            used.update((pair.first_id, pair.second_id))
            matched.append(pair)
        larger = max(household_sizes.get(low, 0), household_sizes.get(high, 0), len(matched))
        share = len(matched) / larger
        if len(matched) < FAMILY_MIN_MEMBERS or share < FAMILY_MIN_SHARE:
            continue
        village = {p.first_household_id: p.first_village_code for p in matched} | {
            p.second_household_id: p.second_village_code for p in matched
        }
        common = set.intersection(*(set(p.agreeing) for p in matched)) - {"region_code", "village_code"}
        agreeing = {"members", *common}
        if village[low] == village[high]:
            agreeing.add("village_code")
        probability = sum(p.probability for p in matched) / len(matched) * share
        found.append(
            Candidate(
                kind=DuplicateKind.SAME_FAMILY,
                first_id=low,
                second_id=high,
                first_household_id=low,
                second_household_id=high,
                first_village_code=village[low],
                second_village_code=village[high],
                probability=round(probability, 6),
                agreeing=tuple(sorted(agreeing)),
            )
        )
    return found


def household_sizes(people: People) -> dict[int, int]:
    households, counts = np.unique(people.household, return_counts=True)
    return dict(zip(households.tolist(), counts.tolist(), strict=True))


async def _begin_run(engine: AsyncEngine, region_code: str | None, started_by: str) -> int:
    run_id = ids.next_id()
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(RUNS).values(
                id=run_id,
                kind=IdentityRunKind.DEDUP.value,
                status=IdentityRunStatus.RUNNING.value,
                region_code=region_code,
                started_by=started_by[:64],
                started_at=_now(),
                summary={},
            )
        )
    return run_id


async def _audit_run(
    conn: Any, request: RequestInfo, run_id: int, after: dict[str, Any], outcome: AuditOutcome = AuditOutcome.OK
) -> None:
    """The run's one audit row (``runDedup`` on its ``identity_run``): its summary, or its error."""
    await audit(
        conn,
        request,
        operation="runDedup",
        entity="identity_run",
        entity_id=run_id,
        outcome=outcome.value,
        after={"kind": IdentityRunKind.DEDUP.value, **after},
    )


async def _fail_run(engine: AsyncEngine, run_id: int, error: BaseException, request: RequestInfo) -> None:
    """Mark the run failed and audit the failure (outcome ``error``), in one transaction."""
    message = f"{type(error).__name__}: {error}"[:500]
    async with write_transaction(engine) as conn:
        await _audit_run(conn, request, run_id, {"error": message}, AuditOutcome.ERROR)
        await conn.execute(
            update(RUNS)
            .where(and_(RUNS.c.id == run_id, RUNS.c.status == IdentityRunStatus.RUNNING.value))
            .values(
                status=IdentityRunStatus.FAILED.value,
                completed_at=_now(),
                error=message,
            )
        )


async def run_dedup(
    engine: AsyncEngine, *, region_code: str | None, started_by: str, request: RequestInfo | None = None
) -> DedupSummary:
    """Find duplicate persons and families among the active members of ``region_code`` (None: the country).

    ``started_by`` names the run's starter; ``request`` (default: that name as a CLI caller) is who the
    audit row names. Raises what failed after marking the run failed; candidates change only on success.
    """
    from core.identity.linkage import dedupe  # pandas-heavy; imported when a run starts

    started = time.perf_counter()
    if request is None:
        from core.auth.principal import Principal

        request = RequestInfo(Principal(username=started_by, role="cli", scope="", via="cli"), client="cli")
    region_code = await checked_region(engine, region_code, DedupRefused)
    async with held_for_job(engine, "identity-dedup") as free:
        if not free:
            raise DedupRefused("another dedup run is running; try again when it has finished")
        return await _run(engine, region_code, started_by, request, dedupe, started)


async def _run(
    engine: AsyncEngine,
    region_code: str | None,
    started_by: str,
    request: RequestInfo,
    dedupe: Any,
    started: float,
) -> DedupSummary:
    run_id = await _begin_run(engine, region_code, started_by)
    summary = DedupSummary(run_id=run_id, region_code=region_code)
    try:
        people = await read_people(engine, region_code)
        summary.members = len(people.frame)
        sizes = household_sizes(people)
        summary.households = len(sizes)
        pairs = dedupe(people.frame[list(LINKAGE_COLUMNS)], threshold=MIN_PROBABILITY)
        persons = person_candidates(pairs, people)
        del pairs
        family_pairs = families(persons, sizes)
        del people
        summary.same_person, summary.same_family = len(persons), len(family_pairs)
        async with write_transaction(engine) as conn:
            summary.stored = await store_candidates(conn, run_id, [*persons, *family_pairs], region_code, _now())
            summary.seconds = time.perf_counter() - started
            await conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(
                    status=IdentityRunStatus.COMPLETED.value,
                    members_checked=summary.members,
                    summary=summary.as_dict(),
                    completed_at=_now(),
                )
            )
            await _audit_run(conn, request, run_id, {"region": region_code or "", **summary.as_dict()})
    except BaseException as exc:
        with contextlib.suppress(Exception):  # the database itself failed: the run stays `running`, never completed
            await _fail_run(engine, run_id, exc, request)
        raise
    return summary
