"""Applying the active model: balanced national and regency deciles, regional re-ranks, resuming a killed run."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.foundation.enums import FloorMaterial
from core.programs.facts import facts_select
from core.programs.periods import PeriodKind, parse_period
from core.programs.registry import registry_from_settings
from core.storage.records import HOUSEHOLDS
from core.welfare.apply import RUNS, SCORES, RunStatus, apply_ranking
from core.welfare.errors import NoActiveModel, RankingConflict, WelfareError
from core.welfare.model import ModelKind
from core.welfare.registry import activate_model
from tests.rank_support import HOUSEHOLDS as POPULATION
from tests.rank_support import count, ranks, train_kind


class Interrupted(Exception):
    """Stands for a kill in the middle of a run."""


async def villages(engine: AsyncEngine) -> dict[int, str]:
    async with engine.connect() as conn:
        return {row[0]: row[1] for row in await conn.execute(select(HOUSEHOLDS.c.id, HOUSEHOLDS.c.village_code))}


def assert_balanced(deciles: list[int]) -> None:
    sizes = Counter(deciles)
    expected = min(10, len(deciles))
    assert sorted(sizes) == list(range(1, expected + 1))
    assert max(sizes.values()) - min(sizes.values()) <= 1


def assert_ordered(pairs: list[tuple[float, int]]) -> None:
    """A higher decile never holds a lower score."""
    top: dict[int, float] = defaultdict(lambda: float("-inf"))
    bottom: dict[int, float] = defaultdict(lambda: float("inf"))
    for score, decile in pairs:
        top[decile] = max(top[decile], score)
        bottom[decile] = min(bottom[decile], score)
    assert all(top[d] <= bottom[d + 1] for d in top if d + 1 in bottom)


async def test_apply_ranks_everyone_in_balanced_national_and_regency_deciles(
    population: AsyncEngine, model_dir: Path
) -> None:
    model = (await train_kind(population, model_dir, ModelKind.CATBOOST, activate=True)).record
    report = await apply_ranking(population, model_dir, batch_size=700)
    assert report.households == POPULATION and not report.resumed and report.model_version == model.version
    stored = await ranks(population)
    assert len(stored) == POPULATION and {v[3] for v in stored.values()} == {model.version}
    assert_balanced([v[1] for v in stored.values()])
    assert_ordered([(v[0], v[1]) for v in stored.values()])

    by_regency: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for household, village in (await villages(population)).items():
        by_regency[village[:5]].append((stored[household][0], stored[household][2]))
    assert len(by_regency) > 20
    for members in by_regency.values():
        assert_balanced([decile for _, decile in members])
        assert_ordered(members)
    assert await count(population, SCORES) == 0  # staging emptied when the run completed


async def test_rerun_replaces_ranks_and_facts_read_them(population: AsyncEngine, model_dir: Path) -> None:
    pmt = (await train_kind(population, model_dir, ModelKind.PMT)).record
    await apply_ranking(population, model_dir)
    boosted = (await train_kind(population, model_dir, ModelKind.CATBOOST)).record
    await activate_model(population, boosted.version, model_dir=model_dir, actor="officer")
    assert {v[3] for v in (await ranks(population)).values()} == {pmt.version}  # until apply runs again
    await apply_ranking(population, model_dir)
    stored = await ranks(population)
    assert {v[3] for v in stored.values()} == {boosted.version} and len(stored) == POPULATION

    period = parse_period("2026-03", PeriodKind.MONTH)
    async with population.connect() as conn:
        facts = (await conn.execute(facts_select(registry_from_settings(), period))).mappings().all()
    assert len(facts) == POPULATION
    assert all(row["ranked"] and row["decile"] == stored[row["household_id"]][1] for row in facts)


async def test_region_rerank_after_an_update(population: AsyncEngine, model_dir: Path) -> None:
    await train_kind(population, model_dir, ModelKind.PMT)
    await apply_ranking(population, model_dir)
    before = await ranks(population)
    places = await villages(population)
    regency = Counter(village[:5] for village in places.values()).most_common(1)[0][0]
    richest = max((h for h, v in places.items() if v.startswith(regency)), key=lambda h: before[h][0])
    async with population.begin() as conn:  # the family's house was found to be far poorer on verification
        await conn.execute(
            update(HOUSEHOLDS)
            .where(HOUSEHOLDS.c.id == richest)
            .values(floor_material=FloorMaterial.EARTH.value, floor_area=12.0, has_car=False, has_refrigerator=False)
        )
    report = await apply_ranking(population, model_dir, region_code=regency)
    inside = [h for h, v in places.items() if v.startswith(regency)]
    assert report.households == len(inside)
    after = await ranks(population)
    assert after[richest][0] < before[richest][0]
    assert all(after[h][0] == before[h][0] for h in places if h not in inside)  # other regions keep their scores
    assert_balanced([v[1] for v in after.values()])
    assert_ordered([(v[0], v[1]) for v in after.values()])
    regency_ranks = [(after[h][0], after[h][2]) for h in inside]
    assert_balanced([d for _, d in regency_ranks])
    assert_ordered(regency_ranks)


async def test_killed_run_keeps_the_previous_ranking_and_resumes(population: AsyncEngine, model_dir: Path) -> None:
    pmt = (await train_kind(population, model_dir, ModelKind.PMT)).record
    await apply_ranking(population, model_dir)
    previous = await ranks(population)
    boosted = (await train_kind(population, model_dir, ModelKind.CATBOOST)).record
    await activate_model(population, boosted.version, model_dir=model_dir, actor="officer")

    def kill_after_two_batches(scored: int) -> None:
        if scored >= 1000:
            raise Interrupted

    with pytest.raises(Interrupted):
        await apply_ranking(population, model_dir, batch_size=500, on_batch=kill_after_two_batches)
    assert await ranks(population) == previous  # still the complete PMT ranking
    async with population.connect() as conn:
        run = (await conn.execute(select(RUNS).where(RUNS.c.status == RunStatus.RUNNING))).mappings().one()
    assert run["households_scored"] == 1000 and run["model_version"] == boosted.version
    assert await count(population, SCORES) == 1000

    seen: list[int] = []
    resumed = await apply_ranking(population, model_dir, batch_size=500, on_batch=seen.append)
    assert resumed.resumed and resumed.run_id == run["id"] and resumed.households == POPULATION
    assert seen == [1500, 2000]  # only the households after the cursor were read again
    stored = await ranks(population)
    assert len(stored) == POPULATION and {v[3] for v in stored.values()} == {boosted.version}
    assert_balanced([v[1] for v in stored.values()])
    assert pmt.version != boosted.version


async def test_restart_abandons_an_unfinished_run(population: AsyncEngine, model_dir: Path) -> None:
    await train_kind(population, model_dir, ModelKind.PMT)

    def kill(_scored: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await apply_ranking(population, model_dir, batch_size=500, on_batch=kill)
    report = await apply_ranking(population, model_dir, restart=True)
    assert not report.resumed and report.households == POPULATION
    async with population.connect() as conn:
        statuses = Counter(row[0] for row in await conn.execute(select(RUNS.c.status)))
    assert statuses == {RunStatus.ABANDONED: 1, RunStatus.COMPLETED: 1}


async def test_apply_refusals(population: AsyncEngine, model_dir: Path) -> None:
    with pytest.raises(NoActiveModel):
        await apply_ranking(population, model_dir)
    pmt = (await train_kind(population, model_dir, ModelKind.PMT)).record
    await apply_ranking(population, model_dir)
    boosted = (await train_kind(population, model_dir, ModelKind.CATBOOST)).record
    await activate_model(population, boosted.version, model_dir=model_dir, actor="officer")
    before = await ranks(population)
    with pytest.raises(RankingConflict, match=f"comes from model {pmt.version}"):
        await apply_ranking(population, model_dir, region_code="32.01")
    with pytest.raises(WelfareError, match="no region has code 32.99"):
        await apply_ranking(population, model_dir, region_code="32.99")
    (model_dir / boosted.file_name).write_bytes(b"not a model")
    with pytest.raises(WelfareError, match="sha256 mismatch"):
        await apply_ranking(population, model_dir)
    assert await ranks(population) == before


async def test_unseen_answers_are_scored_and_reported(population: AsyncEngine, model_dir: Path) -> None:
    pmt = (await train_kind(population, model_dir, ModelKind.PMT)).record
    some = next(iter(await villages(population)))
    async with population.begin() as conn:
        await conn.execute(update(HOUSEHOLDS).where(HOUSEHOLDS.c.id == some).values(floor_material="rammed_earth"))
    report = await apply_ranking(population, model_dir)
    assert report.unseen["floor_material"] == 1 and len(await ranks(population)) == POPULATION
    boosted = (await train_kind(population, model_dir, ModelKind.CATBOOST)).record
    await activate_model(population, boosted.version, model_dir=model_dir, actor="officer")
    assert (await apply_ranking(population, model_dir)).households == POPULATION  # CatBoost takes it natively
    assert (await ranks(population))[some][3] == boosted.version != pmt.version
