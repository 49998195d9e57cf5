"""Training and evaluating welfare models: fit on the training side, measure on the held-out side, register.

Every model is fitted on the training side of a seeded split and measured on the held-out side,
so the metrics stored with it describe exactly the stored model. A CatBoost model's report also
carries the PMT fitted on the same split (fitting a PMT takes seconds), which is the comparison
the ranking has to win.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.welfare.catboost_model import CatBoostSettings, CatBoostWelfare
from core.welfare.errors import WelfareDataError
from core.welfare.evaluate import Evaluation, evaluate, relative_improvement
from core.welfare.labelled import DEFAULT_HOLDOUT_SHARE, DEFAULT_SPLIT_SEED, LabelledData, require_rows
from core.welfare.model import ModelKind, WelfareModel
from core.welfare.pmt import DEFAULT_RIDGE, ProxyMeansTest
from core.welfare.registry import (
    ModelRecord,
    Provenance,
    Written,
    active_model,
    find_model,
    list_models,
    load_registered,
    record_evaluation,
    register_model,
)

MIN_HOLDOUT_ROWS = 40


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    kind: ModelKind
    author: str
    holdout_share: float = DEFAULT_HOLDOUT_SHARE
    split_seed: int = DEFAULT_SPLIT_SEED
    catboost: CatBoostSettings = field(default_factory=CatBoostSettings)
    ridge: float = DEFAULT_RIDGE
    activate: bool = False


@dataclass(frozen=True, slots=True)
class TrainingReport:
    record: ModelRecord
    evaluation: Evaluation
    baseline: Evaluation | None  # the PMT on the same split, for a CatBoost model
    training_rows: int
    holdout_rows: int
    fit_seconds: float


@dataclass(frozen=True, slots=True)
class ModelEvaluation:
    record: ModelRecord
    evaluation: Evaluation
    unseen: dict[str, int]


def _require_variation(data: LabelledData) -> None:
    if len(data) and np.ptp(data.target) == 0:
        raise WelfareDataError(f"every household in the {data.source} has the same consumption; nothing to learn from")


def fit_model(kind: ModelKind, data: LabelledData, options: TrainingOptions) -> WelfareModel:
    """Fit a model of ``kind`` on all of ``data``."""
    if kind is ModelKind.PMT:
        return ProxyMeansTest.fit(data.frame, data.target, ridge=options.ridge)
    try:
        return CatBoostWelfare.fit(data.frame, data.target, options.catboost)
    except CatBoostError as exc:
        raise WelfareDataError(
            f"CatBoost could not train on the {data.source}: {str(exc).splitlines()[0][:200]}"
        ) from None


def split_for_training(data: LabelledData, options: TrainingOptions) -> tuple[LabelledData, LabelledData]:
    require_rows(data)
    _require_variation(data)
    training, held_out = data.split(options.holdout_share, options.split_seed)
    if len(held_out) < MIN_HOLDOUT_ROWS or len(training) < MIN_HOLDOUT_ROWS:
        raise WelfareDataError(
            f"the split left {len(training)} households to train on and {len(held_out)} to test on; each side needs "
            f"at least {MIN_HOLDOUT_ROWS}: use more data or another --holdout-share"
        )
    _require_variation(training)
    return training, held_out


async def train(
    engine: AsyncEngine,
    data: LabelledData,
    options: TrainingOptions,
    model_dir: Path,
    on_written: Written | None = None,
) -> TrainingReport:
    """Split, fit, evaluate on the held-out side and register the model; the active model changes only if asked
    (or if there is none yet). Bad data raises WelfareDataError before anything is stored."""
    training, held_out = split_for_training(data, options)
    started = time.perf_counter()
    model = fit_model(options.kind, training, options)
    fit_seconds = time.perf_counter() - started
    prediction = model.predict(held_out.frame)
    evaluation = evaluate(held_out.target, prediction.scores)
    baseline = None
    metrics: dict[str, Any] = {
        "holdout": evaluation.to_dict(),
        "holdout_share": options.holdout_share,
        "split_seed": options.split_seed,
        "training_rows": len(training),
        "holdout_rows": len(held_out),
        "fit_seconds": round(fit_seconds, 3),
        "unseen_in_holdout": prediction.unseen,
    }
    if options.kind is ModelKind.CATBOOST:
        pmt = fit_model(ModelKind.PMT, training, options)
        baseline = evaluate(held_out.target, pmt.predict(held_out.frame).scores)
        metrics["baseline_pmt"] = baseline.to_dict()
        metrics["exclusion_improvement_at_40"] = relative_improvement(evaluation, baseline)
    record = await register_model(
        engine,
        model,
        model_dir=model_dir,
        provenance=Provenance(data.source, data.checksum, len(training)),
        metrics=metrics,
        author=options.author,
        activate=options.activate,
        on_written=on_written,
    )
    return TrainingReport(record, evaluation, baseline, len(training), len(held_out), fit_seconds)


async def default_versions(engine: AsyncEngine) -> list[str]:
    """The active model and the newest model of each kind."""
    async with engine.connect() as conn:
        records = await list_models(conn)
        active = await active_model(conn)
    chosen = [active.version] if active else []
    for kind in ModelKind:
        newest = next((r.version for r in records if r.kind == kind.value), None)
        if newest and newest not in chosen:
            chosen.append(newest)
    return chosen


async def evaluate_models(
    engine: AsyncEngine, data: LabelledData, versions: Sequence[str], model_dir: Path, *, store: bool = True
) -> list[ModelEvaluation]:
    """Score ``data`` with each registered model and compare with the measured consumption.

    With ``store`` the report is appended to each model's metrics (``evaluations``).
    """
    require_rows(data, MIN_HOLDOUT_ROWS, purpose="evaluation")
    _require_variation(data)
    results = []
    for version in versions:
        async with engine.connect() as conn:
            record = await find_model(conn, version)
        prediction = load_registered(model_dir, record).predict(data.frame)
        evaluation = evaluate(data.target, prediction.scores)
        results.append(ModelEvaluation(record, evaluation, prediction.unseen))
    if store:
        for result in results:
            await record_evaluation(
                engine,
                result.record.version,
                {
                    "data": data.source,
                    "checksum": data.checksum,
                    "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "result": result.evaluation.to_dict(),
                    "unseen": result.unseen,
                    "compared_with": [r.record.version for r in results if r is not result],
                },
            )
    return results
