"""Shared set-up for the welfare-ranking tests: a small demo population, fast models, a clean registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.demo import seed_demo
from core.foundation.settings import Settings
from core.models import WelfareModelEntry, WelfareRank, WelfareRankRun, WelfareRankScore
from core.welfare.catboost_model import CatBoostSettings
from core.welfare.labelled import LabelledData, survey_sample
from core.welfare.model import ModelKind
from core.welfare.registry import ModelRecord, active_model, list_models
from core.welfare.training import TrainingOptions, TrainingReport, train

HOUSEHOLDS = 2000
SURVEY_SHARE = 0.4  # 800 labelled households: enough for a 600 / 200 split
AS_OF = date(2026, 1, 1)
FAST = CatBoostSettings(iterations=40, depth=4, learning_rate=0.2)
RANKS = WelfareRank.__table__
WELFARE_TABLES = (WelfareRankScore.__table__, WelfareRankRun.__table__, WelfareModelEntry.__table__)


def options(kind: ModelKind, **extra: object) -> TrainingOptions:
    return TrainingOptions(kind=kind, author="tester", catboost=FAST, **extra)  # type: ignore[arg-type]


async def clear_registry(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in WELFARE_TABLES:
            await conn.execute(delete(table))


@pytest.fixture
async def model_dir(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Path]:
    """A fresh model directory, also the one the API reads (the session settings point at it for this test)."""
    folder = tmp_path / "models"
    monkeypatch.setattr(settings, "model_dir", folder)
    yield folder


#: The rows the first ``population`` of the session seeded, by table (parents first), to be stored again
#: by the next ones: seeding generates them anew each time (seconds), restoring only writes them.
_seeded: dict[str, list[tuple[Table, list[dict[str, Any]]]]] = {}


async def _snapshot(engine: AsyncEngine) -> list[tuple[Table, list[dict[str, Any]]]]:
    """Every row the database holds outside the shared reference data, by table in insertion order."""
    from tests.conftest import KEPT_TABLES  # conftest imports this module

    async with engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        tables = [table for table in metadata.sorted_tables if table.name not in KEPT_TABLES]
        found = [(table, [dict(row) for row in (await conn.execute(select(table))).mappings()]) for table in tables]
    return [(table, rows) for table, rows in found if rows]


async def seed_population(engine: AsyncEngine) -> list[tuple[Table, list[dict[str, Any]]]]:
    """Seed the demo population; the rows seeding added (not those fixtures set up before it), by table."""
    before = {table.name: rows for table, rows in await _snapshot(engine)}
    await seed_demo(engine, HOUSEHOLDS, seed=3, progress=False, survey_share=SURVEY_SHARE, as_of=AS_OF)
    added = [
        (table, [row for row in rows if row not in before.get(table.name, [])])
        for table, rows in await _snapshot(engine)
    ]
    return [(table, rows) for table, rows in added if rows]


async def restore(engine: AsyncEngine, snapshot: list[tuple[Table, list[dict[str, Any]]]]) -> None:
    async with engine.begin() as conn:
        for table, rows in snapshot:
            await conn.execute(table.insert(), rows)


@pytest.fixture
async def population(db: AsyncEngine, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The test database with demo households (40% surveyed) and an empty model registry.

    The first use in a session seeds them; later uses store the same rows again (the reset emptied
    the database before each, so the state is the one seeding left: tests/test_reset.py checks a
    restored population against a freshly seeded one)."""
    await clear_registry(db)
    snapshot = _seeded.get(settings.database_url + str(settings.database_schema))
    if snapshot is None:
        _seeded[settings.database_url + str(settings.database_schema)] = await seed_population(db)
    else:
        await restore(db, snapshot)
    yield db
    async with db.begin() as conn:
        await conn.execute(delete(RANKS))
    await clear_registry(db)


async def sample(engine: AsyncEngine) -> LabelledData:
    return await survey_sample(engine, AS_OF)


async def train_kind(engine: AsyncEngine, model_dir: Path, kind: ModelKind, **extra: object) -> TrainingReport:
    return await train(engine, await sample(engine), options(kind, **extra), model_dir)


async def registry_state(engine: AsyncEngine) -> tuple[str | None, list[str]]:
    """(active version, every version): what a refused operation must leave as it was."""
    async with engine.connect() as conn:
        active: ModelRecord | None = await active_model(conn)
        return (active.version if active else None), [r.version for r in await list_models(conn)]


async def ranks(engine: AsyncEngine) -> dict[int, tuple[float, int, int, str]]:
    """Every stored rank: household id -> (score, decile, regency decile, model version)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(RANKS.c.household_id, RANKS.c.score, RANKS.c.decile, RANKS.c.regency_decile, RANKS.c.model_version)
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


async def count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]
