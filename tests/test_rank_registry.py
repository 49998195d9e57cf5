"""Training, evaluating and activating welfare models on the demo data; every refusal leaves the active model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.welfare.catboost_model import FEATURE_SET_KEY
from core.welfare.errors import ModelFileError, UnknownModel, WelfareDataError
from core.welfare.evaluate import COVERAGES, Evaluation
from core.welfare.labelled import DEFAULT_HOLDOUT_SHARE, DEFAULT_SPLIT_SEED, read_labelled_csv, write_labelled_csv
from core.welfare.model import ModelKind
from core.welfare.registry import MODELS, activate_model, find_model, load_registered
from core.welfare.training import default_versions, evaluate_models, train
from tests.rank_support import options, registry_state, sample, train_kind


def _by_hand(truth: np.ndarray, predicted: np.ndarray, coverage: float) -> float:
    """Exclusion error counted household by household."""
    count = round(coverage * len(truth))
    poorest = set(sorted(range(len(truth)), key=lambda i: (truth[i], i))[:count])
    taken = set(sorted(range(len(truth)), key=lambda i: (predicted[i], i))[:count])
    return len([i for i in poorest if i not in taken]) / count


async def test_train_evaluates_on_held_out_households_and_registers(population: AsyncEngine, model_dir: Path) -> None:
    pmt = await train_kind(population, model_dir, ModelKind.PMT)
    assert pmt.record.active  # the first model becomes active
    assert pmt.training_rows + pmt.holdout_rows == len(await sample(population))
    assert (model_dir / pmt.record.file_name).exists()
    weights = json.loads((model_dir / pmt.record.file_name).read_text())
    assert weights["kind"] == "pmt" and "floor_area" in weights["numeric"]  # the PMT's weights are readable

    boosted = await train_kind(population, model_dir, ModelKind.CATBOOST)
    assert not boosted.record.active  # a later model waits for activation
    metrics = boosted.record.metrics
    assert metrics["baseline_pmt"] == pmt.record.metrics["holdout"]  # the same split, the same PMT
    assert {"holdout", "exclusion_improvement_at_40", "training_rows", "split_seed"} <= set(metrics)
    assert boosted.record.training_checksum == pmt.record.training_checksum
    assert boosted.record.parameters["iterations"] == 40 and boosted.record.author == "tester"

    # The stored metrics are what a household-by-household count gives on the held-out side.
    held_out = (await sample(population)).split(DEFAULT_HOLDOUT_SHARE, DEFAULT_SPLIT_SEED)[1]
    predicted = load_registered(model_dir, boosted.record).predict(held_out.frame).scores
    stored = Evaluation.from_dict(metrics["holdout"])
    assert stored.rows == len(held_out)
    for coverage in COVERAGES:
        assert stored.at(coverage).exclusion_error == pytest.approx(_by_hand(held_out.target, predicted, coverage))
    assert 0.5 < stored.spearman < 1.0  # the demo's answers carry real signal


async def test_training_is_reproducible(population: AsyncEngine, model_dir: Path) -> None:
    first = await train_kind(population, model_dir, ModelKind.CATBOOST)
    second = await train_kind(population, model_dir, ModelKind.CATBOOST)
    assert first.record.version != second.record.version
    frame = (await sample(population)).frame
    scores = [load_registered(model_dir, r.record).predict(frame).scores for r in (first, second)]
    assert np.array_equal(scores[0], scores[1])  # the files differ only in CatBoost's own id and finish time
    assert first.evaluation == second.evaluation


async def test_activation_and_rollback(population: AsyncEngine, model_dir: Path) -> None:
    pmt = await train_kind(population, model_dir, ModelKind.PMT)
    boosted = await train_kind(population, model_dir, ModelKind.CATBOOST)
    switched = await activate_model(population, boosted.record.version, model_dir=model_dir, actor="officer")
    assert switched.active and switched.activated_by == "officer"
    assert await registry_state(population) == (boosted.record.version, [boosted.record.version, pmt.record.version])
    await activate_model(population, pmt.record.version, model_dir=model_dir, actor="officer")  # roll back
    active, versions = await registry_state(population)
    assert active == pmt.record.version and len(versions) == 2  # older models are kept


async def test_bad_training_data_is_refused_and_nothing_changes(
    population: AsyncEngine, model_dir: Path, tmp_path: Path
) -> None:
    await train_kind(population, model_dir, ModelKind.PMT)
    before = await registry_state(population)
    files = sorted(model_dir.iterdir())
    good = tmp_path / "survey.csv"
    write_labelled_csv(await sample(population), good)
    table = pd.read_csv(good, dtype=str)

    def variant(name: str, change) -> Path:  # type: ignore[no-untyped-def]
        path = tmp_path / f"{name}.csv"
        change(table.copy()).to_csv(path, index=False)
        return path

    text_label = variant("text", lambda t: t.assign(consumption_per_capita=["miskin"] * len(t)))
    nan_values = variant("nan", lambda t: t.assign(floor_area=[None] * 3 + list(t.floor_area[3:])))
    missing = variant("missing", lambda t: t.drop(columns=["roof_material"]))
    few = variant("few", lambda t: t.head(120))
    same = variant("same", lambda t: t.assign(consumption_per_capita=["500000"] * len(t)))
    for path, message in [
        (text_label, "must be a positive number"),
        (nan_values, "floor_area must hold numbers"),
        (missing, "lacks column.*roof_material"),
    ]:
        with pytest.raises(WelfareDataError, match=message):
            read_labelled_csv(path)
    for path, message in [(few, "at least 200"), (same, "same consumption")]:
        for kind in ModelKind:
            with pytest.raises(WelfareDataError, match=message):
                await train(population, read_labelled_csv(path), options(kind), model_dir)
    assert await registry_state(population) == before
    assert sorted(model_dir.iterdir()) == files  # no file left behind either

    from_file = await train(population, read_labelled_csv(good), options(ModelKind.CATBOOST), model_dir)
    assert from_file.record.training_source == "survey.csv"  # a file in the documented layout trains


async def test_foreign_or_altered_model_files_are_refused(population: AsyncEngine, model_dir: Path) -> None:
    pmt = await train_kind(population, model_dir, ModelKind.PMT)
    boosted = await train_kind(population, model_dir, ModelKind.CATBOOST)
    before = await registry_state(population)
    path = model_dir / boosted.record.file_name

    # A CatBoost file made for other features, put in place of the registered one (and its hash updated).
    foreign = CatBoostRegressor(iterations=5, verbose=False, allow_writing_files=False)
    foreign.fit(pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0) % 3}), np.arange(50.0))
    foreign.get_metadata()[FEATURE_SET_KEY] = "another-feature-set"
    original = path.read_bytes()
    foreign.save_model(str(path))
    from core.welfare.registry import file_sha256

    async with population.begin() as conn:
        await conn.execute(
            update(MODELS).where(MODELS.c.version == boosted.record.version).values(file_sha256=file_sha256(path))
        )
    with pytest.raises(ModelFileError, match="another feature set"):
        await activate_model(population, boosted.record.version, model_dir=model_dir, actor="officer")

    path.write_bytes(original)  # the right file, but the row still names the foreign hash: altered
    with pytest.raises(ModelFileError, match="sha256 mismatch"):
        await activate_model(population, boosted.record.version, model_dir=model_dir, actor="officer")

    (model_dir / pmt.record.file_name).rename(model_dir / "elsewhere.json")
    with pytest.raises(ModelFileError, match="is not in"):
        await activate_model(population, pmt.record.version, model_dir=model_dir, actor="officer")
    async with population.begin() as conn:
        await conn.execute(
            update(MODELS).where(MODELS.c.version == pmt.record.version).values(feature_set="siks-welfare-0:old")
        )
    (model_dir / "elsewhere.json").rename(model_dir / pmt.record.file_name)
    with pytest.raises(ModelFileError, match="made for feature set 'siks-welfare-0:old'"):
        await activate_model(population, pmt.record.version, model_dir=model_dir, actor="officer")
    with pytest.raises(UnknownModel):
        await activate_model(population, "catboost-nope", model_dir=model_dir, actor="officer")
    assert await registry_state(population) == before


async def test_evaluate_compares_models_and_stores_the_report(population: AsyncEngine, model_dir: Path) -> None:
    pmt = await train_kind(population, model_dir, ModelKind.PMT)
    boosted = await train_kind(population, model_dir, ModelKind.CATBOOST)
    versions = await default_versions(population)
    assert versions == [pmt.record.version, boosted.record.version]  # the active one, then the newest of the other
    held_out = (await sample(population)).split(DEFAULT_HOLDOUT_SHARE, DEFAULT_SPLIT_SEED)[1]
    results = await evaluate_models(population, held_out, versions, model_dir)
    by_version = {r.record.version: r.evaluation for r in results}
    # On the same held-out households the evaluation repeats what training stored.
    assert by_version[pmt.record.version] == Evaluation.from_dict(pmt.record.metrics["holdout"])
    assert by_version[boosted.record.version] == Evaluation.from_dict(boosted.record.metrics["holdout"])
    async with population.connect() as conn:
        stored = (await find_model(conn, boosted.record.version)).metrics["evaluations"]
    assert len(stored) == 1 and stored[0]["compared_with"] == [pmt.record.version]
    assert stored[0]["result"] == by_version[boosted.record.version].to_dict()
    assert datetime.fromisoformat(stored[0]["evaluated_at"]) <= datetime.now(UTC)


async def test_text_that_is_no_version_is_never_looked_up(db: AsyncEngine) -> None:
    """The CLI passes versions straight through: NUL bytes (which PostgreSQL text refuses) answer as unknown."""
    async with db.connect() as conn:
        for garbage in ("pmt-\x00'; --", "", "catboost-" + "9" * 500):
            with pytest.raises(UnknownModel, match="no welfare model has version") as refused:
                await find_model(conn, garbage)
            assert "\x00" not in str(refused.value)
