"""Benchmark: verification and validation (verivali) at scale, on SQLite and PostgreSQL.

For each database a fresh SIKS database is seeded with ``core.demo.seed_demo`` (bench/common.py).

(a) Offline export: 2,000 demo households are moved into one village (one UPDATE), a verification
    round is opened over it (its prelist made by ``create_round``), and each repetition times
    ``export_package`` end to end: reading the prelist's households and members, writing the
    SQLite file, the digest, the ``offline_packages`` row and its audit row, the commit.
    Target: at most 5 s.
(b) Determination: before each repetition (not timed) 100,000 proposals already approved to the
    national level are created in bulk, set-based (INSERT … SELECT on numbered active
    households): 60% changes (the floor and the television changed; 1 in 100 based on an older
    version, so determination flags it as a conflict), 15% removals and 25% new households (a
    household's values and members copied under new ids, with KK numbers and NIKs whose day
    digits are 99, which no demo number uses). Each repetition then times ``determine`` end to
    end, committed. Repetitions run on the registry the previous one left (as editions follow
    each other). Target: at most 60 s.

Prints the median of the repetitions against the target, with the load average.

    python bench/verivali_bench.py [--households 200000] [--databases sqlite postgresql] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, and_, case, func, insert, literal, null, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database  # noqa: E402
from core.audit.log import RequestInfo  # noqa: E402
from core.auth.principal import Principal  # noqa: E402
from core.foundation.enums import ProposalKind, ProposalStatus, RecordStatus, VerificationLevel  # noqa: E402
from core.foundation.ids import ids  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.models import HOUSEHOLD_VALUE_COLUMNS, MEMBER_VALUE_COLUMNS, PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS  # noqa: E402
from core.models.types import TIMESTAMP  # noqa: E402
from core.offline.export import export_package  # noqa: E402
from core.storage.db import create_engine, write_transaction  # noqa: E402
from core.storage.records import HOUSEHOLDS, MEMBERS  # noqa: E402
from core.verification.determination import Determined, determine  # noqa: E402
from core.verification.drafts import PROPOSALS  # noqa: E402
from core.verification.rounds import create_round  # noqa: E402

PROPOSALS_WANTED = 100_000
SHARES = {ProposalKind.CHANGE: 0.60, ProposalKind.REMOVAL: 0.15, ProposalKind.NEW_HOUSEHOLD: 0.25}
STALE_EVERY = 100  # one change in this many is based on an older version: a conflict
VILLAGE_HOUSEHOLDS = 2_000
EXPORT_TARGET, DETERMINATION_TARGET = 5.0, 60.0
DATA_CENTRE = RequestInfo(Principal("bench-pusdatin", "data_centre", "", via="cli"), client="bench")
REGENCY = "regency_office"


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


def _padded(number: Any) -> Any:
    """SQL: ``number`` (below 10^8) as 8 digits, in SQLite and PostgreSQL alike."""
    return func.substr((number + 100_000_000).cast(String), 2, type_=String)


# (a) offline export


async def crowded_village(engine: AsyncEngine) -> str:
    """Move 2,000 households (by id, from the first regency) into one village; returns its code."""
    async with write_transaction(engine) as conn:
        first = (await conn.execute(select(HOUSEHOLDS.c.village_code).order_by(HOUSEHOLDS.c.id).limit(1))).scalar_one()
        chosen = select(HOUSEHOLDS.c.id).order_by(HOUSEHOLDS.c.id).limit(VILLAGE_HOUSEHOLDS).scalar_subquery()
        await conn.execute(update(HOUSEHOLDS).where(HOUSEHOLDS.c.id.in_(chosen)).values(village_code=first))
    return str(first)


async def bench_export(engine: AsyncEngine, settings: Settings, repeat: int) -> dict[str, Any]:
    village = await crowded_village(engine)
    regency = village.rsplit(".", 2)[0]
    async with write_transaction(engine) as conn:
        made = await create_round(
            conn, RequestInfo(Principal("bench-dinsos", REGENCY, regency)), "2026-Q4", "Bench", [village]
        )
    folder = Path(tempfile.mkdtemp(prefix="siks-offline-bench-"))
    times, exported = [], None
    try:
        for run in range(repeat):
            output = folder / f"package-{run}.siks"
            seconds, exported = await timed(
                lambda output=output: export_package(engine, DATA_CENTRE, village, output, settings.secret_key)
            )
            times.append(seconds)
        assert exported is not None
        size = exported.path.stat().st_size
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return {
        "village": village,
        "round": made.households,
        "households": exported.households,
        "members": exported.members,
        "bytes": size,
        "seconds": statistics.median(times),
        "times": times,
    }


# (b) determination


def _counts(total: int) -> tuple[int, int]:
    """The ordinals where removals and new households start."""
    changes = round(total * SHARES[ProposalKind.CHANGE])
    return changes, changes + round(total * SHARES[ProposalKind.REMOVAL])


def _numbered(total: int) -> Any:
    """Active households numbered 0.. in id order, the first ``total`` of them."""
    inner = (
        select(HOUSEHOLDS.c.id.label("hid"), (func.row_number().over(order_by=HOUSEHOLDS.c.id) - 1).label("n"))
        .where(HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value)
        .subquery("numbered")
    )
    return select(inner.c.hid, inner.c.n).where(inner.c.n < total).subquery("picked")


async def make_proposals(conn: AsyncConnection, total: int, run: int) -> None:
    """``total`` proposals at the national level, pending, with their proposed households and members."""
    removals_from, new_from = _counts(total)
    picked = _numbered(total)
    h = HOUSEHOLDS
    proposal_ids, household_ids = ids.reserve(total), ids.reserve(total - new_from)
    n = picked.c.n
    is_new = n >= new_from
    kind = case(
        (n < removals_from, ProposalKind.CHANGE.value),
        (n < new_from, ProposalKind.REMOVAL.value),
        else_=ProposalKind.NEW_HOUSEHOLD.value,
    )
    household_id = case((is_new, household_ids.sql(n - new_from)), else_=h.c.id)
    stale = and_(n < removals_from, n % STALE_EVERY == 0)
    at = literal(datetime.now(UTC), TIMESTAMP)
    await conn.execute(
        insert(PROPOSALS).from_select(
            [
                "id",
                "kind",
                "household_id",
                "village_code",
                "stage",
                "status",
                "based_on_version",
                "removal_reason",
                "note",
                "created_by",
                "created_at",
                "updated_at",
                "version",
            ],
            select(
                proposal_ids.sql(n),
                kind,
                household_id,
                h.c.village_code,
                literal(VerificationLevel.NATIONAL.value, String),
                literal(ProposalStatus.PENDING.value, String),
                case((is_new, null()), (stale, h.c.version - 1), else_=h.c.version),
                case((kind == ProposalKind.REMOVAL.value, literal("no_longer_poor", String)), else_=null()),
                literal(f"bench run {run}", String),
                literal("bench", String),
                at,
                at,
                literal(5, Integer),
            ).select_from(picked.join(h, h.c.id == picked.c.hid)),
        )
    )
    changed = {"floor_material": literal("ceramic", String), "has_television": literal(True)}
    day_99 = func.substr(h.c.kk_number, 1, 6, type_=String) + literal(f"9{run % 10}", String) + _padded(n)
    values = [changed.get(name, h.c[name]) for name in HOUSEHOLD_VALUE_COLUMNS]
    values[HOUSEHOLD_VALUE_COLUMNS.index("kk_number")] = case((is_new, day_99), else_=h.c.kk_number)
    await conn.execute(
        insert(PROPOSED_HOUSEHOLDS).from_select(
            ["proposal_id", "household_id", *HOUSEHOLD_VALUE_COLUMNS],
            select(proposal_ids.sql(n), household_id, *values)
            .select_from(picked.join(h, h.c.id == picked.c.hid))
            .where((n < removals_from) | is_new),
        )
    )
    await _proposed_members(conn, picked, proposal_ids, removals_from, new_from, run)


async def _proposed_members(
    conn: AsyncConnection, picked: Any, proposal_ids: Any, removals_from: int, new_from: int, run: int
) -> None:
    m = MEMBERS
    n = picked.c.n
    # as proposals store them: every member of a new household, and of a change only the members it
    # changes (here the head's occupation)
    written = ((n < removals_from) & (m.c.relationship == "head")) | (n >= new_from)
    numbered = (
        select(
            m,
            n.label("n"),
            (func.row_number().over(order_by=m.c.id) - 1).label("k"),
        )
        .select_from(picked.join(m, m.c.household_id == picked.c.hid))
        .where(m.c.status == RecordStatus.ACTIVE.value, written)
        .subquery("numbered_members")
    )
    count = (await conn.execute(select(func.count()).select_from(numbered))).scalar_one()
    member_ids = ids.reserve(count)
    is_new = numbered.c.n >= new_from
    new_nik = func.substr(numbered.c.nik, 1, 6, type_=String) + literal(f"9{run % 10}", String) + _padded(numbered.c.k)
    changed = {
        "nik": case((is_new, new_nik), else_=numbered.c.nik),
        "occupation": case((is_new, numbered.c.occupation), else_=literal("other", String)),
    }
    values = [changed.get(name, numbered.c[name]) for name in MEMBER_VALUE_COLUMNS]
    await conn.execute(
        insert(PROPOSED_MEMBERS).from_select(
            ["id", "proposal_id", "member_id", "is_new", "status", *MEMBER_VALUE_COLUMNS],
            select(
                member_ids.sql(numbered.c.k),
                proposal_ids.sql(numbered.c.n),
                case((is_new, member_ids.sql(numbered.c.k)), else_=numbered.c.id),
                is_new,
                literal(RecordStatus.ACTIVE.value, String),
                *values,
            ),
        )
    )


async def tidy(engine: AsyncEngine) -> None:
    """What autovacuum does on a live server after a bulk load: statistics, and (PostgreSQL) dead rows reclaimed."""
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))


async def bench_determination(engine: AsyncEngine, repeat: int, proposals: int) -> dict[str, Any]:
    times: list[float] = []
    results: list[Determined] = []
    for run in range(repeat):
        async with write_transaction(engine) as conn:
            await make_proposals(conn, proposals, run)
        await tidy(engine)

        async def once(run: int = run) -> Any:
            async with write_transaction(engine) as conn:
                return await determine(conn, DATA_CENTRE, f"DTKS bench {run}", "2026-12")

        seconds, outcome = await timed(once)
        assert isinstance(outcome, Determined), outcome
        edition = outcome.edition
        assert edition.additions + edition.changes + edition.removals + edition.conflicts == proposals
        times.append(seconds)
        results.append(outcome)
        async with engine.connect() as conn:
            removed_but_active = await conn.execute(
                select(func.count())
                .select_from(MEMBERS.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id))
                .where(
                    HOUSEHOLDS.c.status == RecordStatus.INACTIVE.value, MEMBERS.c.status == RecordStatus.ACTIVE.value
                )
            )
            assert removed_but_active.scalar_one() == 0, "a removed household kept active members"
    last = results[-1].edition
    return {
        "seconds": statistics.median(times),
        "times": times,
        "additions": last.additions,
        "changes": last.changes,
        "removals": last.removals,
        "conflicts": last.conflicts,
        "households": last.households,
    }


async def bench_database(kind: str, households: int, repeat: int, proposals: int) -> dict[str, Any]:
    started = time.perf_counter()
    database = await fresh_database(kind, households)
    seeded = time.perf_counter() - started
    print(f"{kind}: {households:,} demo households seeded in {seeded:.0f} s", flush=True)
    engine = create_engine(database.settings)
    try:
        exported = await bench_export(engine, database.settings, repeat)
        print(
            f"{kind}: offline export of village {exported['village']}: {exported['households']:,} households, "
            f"{exported['members']:,} members, {exported['bytes'] / 1e6:.1f} MB; median {exported['seconds']:.2f} s "
            f"(target at most {EXPORT_TARGET:g} s; runs {', '.join(f'{t:.2f}' for t in exported['times'])}); "
            f"{'ok' if exported['seconds'] <= EXPORT_TARGET else 'OVER TARGET'}; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        determined = await bench_determination(engine, repeat, proposals)
        print(
            f"{kind}: determination of {proposals:,} proposals ({determined['additions']:,} new households, "
            f"{determined['changes']:,} changes, {determined['removals']:,} removals, {determined['conflicts']:,} "
            f"conflicts; {determined['households']:,} active households after): median {determined['seconds']:.2f} s "
            f"(target at most {DETERMINATION_TARGET:g} s; runs {', '.join(f'{t:.2f}' for t in determined['times'])}); "
            f"{'ok' if determined['seconds'] <= DETERMINATION_TARGET else 'OVER TARGET'}; "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    finally:
        await engine.dispose()
        await database.cleanup()
    return {"export": exported, "determination": determined}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--proposals", type=int, default=PROPOSALS_WANTED, help="proposals a determination applies")
    args = parser.parse_args()
    if args.households < args.proposals + VILLAGE_HOUSEHOLDS:
        parser.error(f"--households must be at least --proposals + {VILLAGE_HOUSEHOLDS:,}")
    for kind in args.databases:
        asyncio.run(bench_database(kind, args.households, args.repeat, args.proposals))


if __name__ == "__main__":
    main()
