"""``siks dedup run`` (core/identity/dedup.py, core/identity/duplicates.py): duplicates inside the registry.

A small demo population with duplicates injected by ``core.demo.duplicates`` (a member in two
households, a member twice in one household under a mistyped NIK, a family registered twice) is
deduplicated for real (``core.identity.linkage.dedupe``); storage rules are also checked on pairs
written directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.log import RequestInfo
from core.auth.principal import Principal
from core.demo import seed_demo
from core.demo.duplicates import InjectedDuplicates, inject_duplicates
from core.foundation.enums import DuplicateKind, DuplicateStatus, IdentityRunStatus
from core.identity import dedup
from core.identity.dedup import DedupRefused, families, run_dedup
from core.identity.duplicates import CANDIDATES, Candidate, store_candidates
from core.models import AuditEntry, IdentityRun
from core.storage.db import write_transaction
from core.storage.locks import held_for_job
from core.storage.records import HOUSEHOLDS, MEMBERS
from tests.cli_support import siks

RUNS = IdentityRun.__table__
AUDIT = AuditEntry.__table__
DEMO_HOUSEHOLDS = 300


@pytest.fixture
async def registry(db: AsyncEngine) -> InjectedDuplicates:
    """A demo population of DEMO_HOUSEHOLDS households with a few duplicates of every kind."""
    await seed_demo(db, DEMO_HOUSEHOLDS, 7, progress=False)
    truth = await inject_duplicates(db, persons=0.02, families=0.02, seed=3)
    assert all(truth.kinds.values()), truth.kinds
    return truth


async def candidates(engine: AsyncEngine, kind: DuplicateKind | None = None) -> list[Any]:
    query = select(CANDIDATES).order_by(CANDIDATES.c.id)
    if kind is not None:
        query = query.where(CANDIDATES.c.kind == kind.value)
    async with engine.connect() as conn:
        return list(await conn.execute(query))


def pairs(rows: list[Any]) -> set[tuple[int, int]]:
    return {(row.first_id, row.second_id) for row in rows}


async def test_a_run_finds_the_injected_persons_and_families(db: AsyncEngine, registry: InjectedDuplicates) -> None:
    summary = await run_dedup(db, region_code=None, started_by="cli:tester")
    persons = await candidates(db, DuplicateKind.SAME_PERSON)
    found = pairs(persons)
    true_found = found & registry.persons
    assert len(true_found) / len(registry.persons) >= 0.9, (len(true_found), len(registry.persons))
    assert len(true_found) / len(found) >= 0.9, (len(true_found), len(found))
    assert pairs(await candidates(db, DuplicateKind.SAME_FAMILY)) >= registry.families
    row = next(r for r in persons if (r.first_id, r.second_id) in registry.persons)
    assert row.status == DuplicateStatus.OPEN.value and 0.5 <= row.probability <= 1 and row.version == 1
    assert {"name", "birth_date", "sex"} & set(row.agreeing)
    async with db.connect() as conn:
        run = (await conn.execute(select(RUNS).where(RUNS.c.id == summary.run_id))).one()
        audit = (
            await conn.execute(
                select(AUDIT).where(AUDIT.c.operation == "runDedup", AUDIT.c.entity_id == str(summary.run_id))
            )
        ).one()
        members = await conn.scalar(select(func.count()).select_from(MEMBERS))
    assert run.kind == "dedup" and run.status == IdentityRunStatus.COMPLETED.value and run.members_checked == members
    assert run.summary["same_person"] == len(persons) and run.started_by == "cli:tester"
    assert audit.entity == "identity_run" and audit.entity_id == str(summary.run_id) and audit.actor == "cli:tester"
    # Every injected kind is found: in another household, in the same one, a whole family.
    households = {
        r.first_household_id == r.second_household_id for r in persons if (r.first_id, r.second_id) in true_found
    }
    assert households == {True, False}


async def test_a_rerun_changes_nothing_and_never_doubles_a_pair(db: AsyncEngine, registry: InjectedDuplicates) -> None:
    await run_dedup(db, region_code=None, started_by="cli:tester")
    before = await candidates(db)
    summary = await run_dedup(db, region_code=None, started_by="cli:tester")
    after = await candidates(db)
    assert [(r.id, r.kind, r.first_id, r.second_id, r.version, r.probability) for r in after] == [
        (r.id, r.kind, r.first_id, r.second_id, r.version, r.probability) for r in before
    ]
    assert summary.stored.inserted == 0 and summary.stored.unchanged == len(before)


async def test_a_pair_decided_different_is_not_proposed_again(db: AsyncEngine, registry: InjectedDuplicates) -> None:
    await run_dedup(db, region_code=None, started_by="cli:tester")
    first = (await candidates(db, DuplicateKind.SAME_PERSON))[0]
    async with write_transaction(db) as conn:
        await conn.execute(
            update(CANDIDATES).where(CANDIDATES.c.id == first.id).values(status=DuplicateStatus.DIFFERENT.value)
        )
    summary = await run_dedup(db, region_code=None, started_by="cli:tester")
    again = [
        r
        for r in await candidates(db)
        if (r.kind, r.first_id, r.second_id) == (first.kind, first.first_id, first.second_id)
    ]
    assert [(r.id, r.status, r.version) for r in again] == [(first.id, DuplicateStatus.DIFFERENT.value, first.version)]
    assert summary.stored.decided == 1


async def test_a_region_run_reads_only_that_region(db: AsyncEngine, registry: InjectedDuplicates) -> None:
    async with db.connect() as conn:
        village = (await conn.execute(select(HOUSEHOLDS.c.village_code).limit(1))).scalar_one()
    regency = village[:5]
    summary = await run_dedup(db, region_code=regency, started_by="cli:tester")
    async with db.connect() as conn:
        inside = await conn.scalar(
            select(func.count())
            .select_from(MEMBERS.join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id))
            .where(HOUSEHOLDS.c.village_code.startswith(regency + "."))
        )
        run = (await conn.execute(select(RUNS).where(RUNS.c.id == summary.run_id))).one()
    assert summary.members == inside and run.region_code == regency
    assert all(
        r.first_village_code.startswith(regency + ".") and r.second_village_code.startswith(regency + ".")
        for r in await candidates(db)
    )


async def test_a_failed_run_leaves_the_candidates_as_they_were(
    db: AsyncEngine, registry: InjectedDuplicates, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run_dedup(db, region_code=None, started_by="cli:tester")
    before = await candidates(db)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        async def half(conn: Any, run_id: int, found: Any, region: Any, at: Any) -> Any:
            await store_candidates(conn, run_id, found[:1], region, at)  # withdraws every other open pair ...
            raise RuntimeError("disk full")  # ... and then fails: all of it rolls back

        return await half(*args, **kwargs)

    monkeypatch.setattr(dedup, "store_candidates", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await run_dedup(db, region_code=None, started_by="cli:tester")
    assert [(r.id, r.version) for r in await candidates(db)] == [(r.id, r.version) for r in before]
    async with db.connect() as conn:
        statuses = [r.status for r in await conn.execute(select(RUNS.c.status).order_by(RUNS.c.started_at))]
        error = await conn.scalar(select(RUNS.c.error).where(RUNS.c.status == IdentityRunStatus.FAILED.value))
        failed = await conn.scalar(select(RUNS.c.id).where(RUNS.c.status == IdentityRunStatus.FAILED.value))
        audited = [  # the audit log is kept between tests: this run's rows only (no order is assumed)
            r.outcome
            for r in await conn.execute(
                select(AUDIT).where(AUDIT.c.operation == "runDedup", AUDIT.c.entity_id == str(failed))
            )
        ]
    assert statuses == [IdentityRunStatus.COMPLETED.value, IdentityRunStatus.FAILED.value]
    assert error == "RuntimeError: disk full"
    assert audited == ["error"]


async def test_an_unknown_region_is_refused_before_anything_is_written(db: AsyncEngine) -> None:
    with pytest.raises(DedupRefused, match="32.99"):
        await run_dedup(db, region_code="32.99", started_by="cli:tester")
    with pytest.raises(DedupRefused, match="--region"):
        await run_dedup(db, region_code="Bogor", started_by="cli:tester")
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(RUNS)) == 0


async def test_a_second_run_is_refused_while_one_runs(db: AsyncEngine) -> None:
    async with held_for_job(db, "identity-dedup"):  # a dedup run going on in another process
        with pytest.raises(DedupRefused, match="another dedup run is running"):
            await run_dedup(db, region_code=None, started_by="cli:tester")
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(RUNS)) == 0


async def test_the_cli_runs_prints_the_summary_and_refuses_a_bad_region(
    db: AsyncEngine, registry: InjectedDuplicates
) -> None:
    ran = siks("dedup", "run")
    assert ran.returncode == 0, ran.stderr
    assert "same-person" in ran.stdout and "the whole country" in ran.stdout
    async with db.connect() as conn:
        actor = await conn.scalar(  # the audit log is kept between tests: this run's row is the latest
            select(AUDIT.c.actor).where(AUDIT.c.operation == "runDedup").order_by(AUDIT.c.seq.desc()).limit(1)
        )
    assert actor.startswith("cli:")
    refused = siks("dedup", "run", "--region", "99.99")
    assert refused.returncode == 2 and "99.99" in refused.stderr


# --- storage and family rules on pairs written directly -------------------------------------------


def person(first: int, second: int, households: tuple[int, int], probability: float = 0.99) -> Candidate:
    return Candidate(
        DuplicateKind.SAME_PERSON, first, second, *households, "32.01.01.1001", "32.01.01.1001", probability,
        ("birth_date", "name", "sex"),
    )  # fmt: skip


def test_households_whose_members_largely_pair_up_are_one_family() -> None:
    found = families(
        [
            person(1, 11, (100, 200)),
            person(2, 12, (100, 200), 0.9),
            person(3, 13, (100, 200)),
            person(4, 14, (300, 400)),
        ],
        {100: 4, 200: 3, 300: 2, 400: 2},
    )
    assert [(f.kind, f.first_id, f.second_id) for f in found] == [(DuplicateKind.SAME_FAMILY, 100, 200)]
    assert found[0].probability == pytest.approx((0.99 + 0.9 + 0.99) / 3 * 3 / 4)
    assert found[0].agreeing == ("birth_date", "members", "name", "sex", "village_code")
    # One member paired twice counts once; two of five members is not "largely".
    assert families([person(1, 11, (100, 200)), person(1, 12, (100, 200))], {100: 2, 200: 2}) == []
    assert families([person(1, 11, (100, 200)), person(2, 12, (100, 200))], {100: 5, 200: 2}) == []


async def test_storing_updates_open_pairs_keeps_decided_ones_and_withdraws_what_is_gone(db: AsyncEngine) -> None:
    at = datetime.now(UTC)
    run = 1

    async with write_transaction(db) as conn:
        await conn.execute(
            RUNS.insert().values(id=run, kind="dedup", status="running", started_by="t", started_at=at, summary={})
        )
        first = await store_candidates(
            conn, run, [person(1, 2, (10, 20)), person(3, 4, (30, 40)), person(5, 6, (50, 60))], None, at
        )
    assert first.inserted == 3
    rows = {(r.first_id, r.second_id): r for r in await candidates(db)}
    async with write_transaction(db) as conn:
        await conn.execute(
            update(CANDIDATES).where(CANDIDATES.c.id == rows[(3, 4)].id).values(status=DuplicateStatus.DIFFERENT.value)
        )
        second = await store_candidates(conn, run, [person(1, 2, (10, 20), 0.8), person(3, 4, (30, 40))], None, at)
    assert (second.inserted, second.updated, second.decided, second.withdrawn) == (0, 1, 1, 1)
    after = {(r.first_id, r.second_id): r for r in await candidates(db)}
    assert set(after) == {(1, 2), (3, 4)}
    assert after[(1, 2)].probability == 0.8 and after[(1, 2)].version == 2 and after[(1, 2)].id == rows[(1, 2)].id
    assert after[(3, 4)].status == DuplicateStatus.DIFFERENT.value


async def test_a_region_run_withdraws_only_pairs_wholly_inside_its_region(db: AsyncEngine) -> None:
    at = datetime.now(UTC)
    inside = person(1, 2, (10, 20))
    across = Candidate(
        DuplicateKind.SAME_PERSON, 3, 4, 30, 40, "32.01.01.1001", "35.78.01.1001", 0.9, ("name",)
    )  # fmt: skip
    async with write_transaction(db) as conn:
        await conn.execute(
            RUNS.insert().values(id=1, kind="dedup", status="running", started_by="t", started_at=at, summary={})
        )
        await store_candidates(conn, 1, [inside, across], None, at)
        summary = await store_candidates(conn, 1, [], "32.01", at)
    assert summary.withdrawn == 1
    assert pairs(await candidates(db)) == {(3, 4)}


def request_of(role: str, scope: str) -> RequestInfo:
    return RequestInfo(Principal(f"test-{role}", role, scope))
