"""``siks rank``: train, list, evaluate, activate, apply and export from the command line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from core.cli import app
from core.foundation.settings import Settings, get_settings
from core.models import AuditEntry
from core.storage.db import create_engine
from tests.rank_support import HOUSEHOLDS


@pytest.fixture
def cli(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands read the test database and this test's model directory from the environment."""
    monkeypatch.setenv("SIKS_MODEL_DIR", str(model_dir))
    get_settings.cache_clear()
    yield CliRunner()
    monkeypatch.delenv("SIKS_MODEL_DIR")
    get_settings.cache_clear()


def audited(settings: Settings, entity_ids: set[str]) -> list[tuple[str, str]]:
    """(operation, actor) of the audit rows about ``entity_ids``, in order."""
    table = AuditEntry.__table__

    async def read() -> list[tuple[str, str]]:
        engine = create_engine(settings)
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(table.c.operation, table.c.actor).where(table.c.entity_id.in_(entity_ids)).order_by(table.c.seq)
            )
            found = [(row[0], row[1]) for row in rows]
        await engine.dispose()
        return found

    return asyncio.run(read())


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, ["rank", *args])
    assert result.exit_code == code, result.output
    return result.output


def test_rank_commands_end_to_end(population: AsyncEngine, cli: CliRunner, tmp_path: Path, settings: Settings) -> None:
    trained = run(cli, "train", "--kind", "pmt", "--author", "pusdatin")
    assert "(pmt) trained on" in trained and "- active" in trained
    pmt = trained.split()[1]
    boosted_out = run(cli, "train", "--kind", "catboost", "--iterations", "40", "--depth", "4")
    boosted = boosted_out.split()[1]
    assert "pmt on the same split" in boosted_out and "relative to the PMT" in boosted_out

    listed = run(cli, "list")
    assert f"* {pmt}" in listed and f"  {boosted}" in listed and "pusdatin" in listed
    evaluated = run(cli, "evaluate", "--holdout")
    assert pmt in evaluated and boosted in evaluated and "excl/incl 40%" in evaluated

    applied = run(cli, "apply", "--no-progress")
    assert f"ranked {HOUSEHOLDS:,} households in all regions with {pmt}" in applied
    assert "active model: " + boosted in run(cli, "activate", boosted, "--apply")
    assert "in region 32" in run(cli, "apply", "--region", "32", "--no-progress")

    exported = tmp_path / "survey.csv"
    assert "labelled households" in run(cli, "export", "--output", str(exported))
    table = pd.read_csv(exported)
    assert {"household_id", "floor_material", "head_age", "consumption_per_capita"} <= set(table.columns)
    assert "households from the survey.csv" in run(cli, "evaluate", "--data", str(exported), "--no-store")

    broken = tmp_path / "broken.csv"
    table.drop(columns=["toilet"]).to_csv(broken, index=False)
    assert "lacks column(s) toilet" in run(cli, "train", "--data", str(broken), code=2)
    assert "no welfare model has version" in run(cli, "activate", "pmt-none", code=2)
    assert "Kemendagri region code" in run(cli, "apply", "--region", "32-01", code=2)
    assert "exactly one of --data FILE or --holdout" in run(cli, "evaluate", code=2)
    assert f"* {boosted}" in run(cli, "list")
    operations = [operation for operation, _ in audited(settings, {pmt, boosted})]
    assert operations == ["trainWelfareModel", "trainWelfareModel", "activateWelfareModel"]
    assert all(actor.startswith("cli:") for _, actor in audited(settings, {pmt, boosted}))
