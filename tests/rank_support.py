"""Shared set-up for the welfare-ranking tests: a small demo population, fast models, a clean registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
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


@pytest.fixture
async def population(db: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The test database with demo households (40% surveyed) and an empty model registry."""
    await clear_registry(db)
    await seed_demo(db, HOUSEHOLDS, seed=3, progress=False, survey_share=SURVEY_SHARE, as_of=AS_OF)
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
