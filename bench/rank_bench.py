"""Benchmark: welfare-model training time, the apply path's predict step against raw CatBoost, apply end to end.

1. Training: the median time to fit CatBoost (default settings) and the PMT on N labelled
   households of the demo (read once from the database). ``--label-all`` seeds the demo with a
   consumption label on every household (its latent consumption), so N can reach the population.
2. Predict: households/s of the apply path's predict step (``model.predict`` on the feature frame
   the apply path builds, including the conversion to CatBoost's input) against CatBoost's own
   ``predict`` on a numpy array of the same rows prepared beforehand (categorical answers make it
   an object array) and on a prepared pandas frame with categorical columns (CatBoost's fastest
   input), in the same run. Target: ours at most 1.5x raw, and at least 200,000 households/s.
3. Apply: ``apply_ranking`` over every household end to end (read, predict, staging writes,
   deciles in SQL, the swap), median of several runs, with the time of each step.

    python bench/rank_bench.py --households 1000000 --label-all --train-sizes 100000 1000000 \
        [--database sqlite|postgresql] [--keep PATH] [--runs 3]

``--keep PATH`` keeps (or reuses) the SQLite file, since seeding a million households takes minutes;
``--schema NAME`` reuses a seeded PostgreSQL schema.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_POSTGRES  # noqa: E402
from core.demo import seed_demo  # noqa: E402
from core.foundation.settings import Settings  # noqa: E402
from core.regions.loader import load_regions, lokal_regions  # noqa: E402
from core.storage import migrate  # noqa: E402
from core.storage.db import create_engine  # noqa: E402
from core.storage.records import HOUSEHOLDS  # noqa: E402
from core.welfare.apply import apply_ranking, read_batch  # noqa: E402
from core.welfare.catboost_model import CatBoostSettings, CatBoostWelfare  # noqa: E402
from core.welfare.labelled import survey_sample  # noqa: E402
from core.welfare.model import ModelKind  # noqa: E402
from core.welfare.pmt import ProxyMeansTest  # noqa: E402
from core.welfare.training import TrainingOptions, train  # noqa: E402

PREDICT_BATCH = 50_000
MODEL_ROWS = 100_000  # the predict and apply benchmarks use a model trained on at most this many rows


def median_of(runs: int, work) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def database(
    kind: str, households: int, label_all: bool, keep: Path | None, schema: str | None = None
) -> tuple[Settings, bool]:
    """Settings of a seeded database, and whether it was made by this run."""
    if kind == "postgresql" and schema:  # a schema seeded earlier
        url = os.environ.get("SIKS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        return Settings(database_url=url, database_schema=schema), False
    if kind == "sqlite":
        path = keep or Path(tempfile.mkdtemp(prefix="siks-rank-bench-")) / "bench.db"
        settings = Settings(database_url=f"sqlite+aiosqlite:///{path}")
        if keep and path.exists():
            return settings, False
    else:
        url = os.environ.get("SIKS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        schema = f"siks_rank_bench_{secrets.token_hex(3)}"
        admin = create_engine(Settings(database_url=url))
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await admin.dispose()
        settings = Settings(database_url=url, database_schema=schema)
    engine = create_engine(settings)
    started = time.perf_counter()
    await migrate.upgrade(engine)
    await load_regions(engine, lokal_regions())
    await seed_demo(engine, households, 7, progress=True, survey_share=1.0 if label_all else 0.1)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    await engine.dispose()
    print(f"seeded {households:,} demo households in {time.perf_counter() - started:.0f}s", flush=True)
    return settings, True


async def drop(settings: Settings) -> None:
    if settings.is_sqlite:
        path = settings.sqlite_path()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(Settings(database_url=settings.database_url))
    async with admin.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {settings.database_schema} CASCADE"))
    await admin.dispose()


async def bench_training(settings: Settings, sizes: list[int], runs: int) -> None:
    engine = create_engine(settings)
    started = time.perf_counter()
    data = await survey_sample(engine, datetime.now(UTC).date())
    read = time.perf_counter() - started
    print(f"read {len(data):,} labelled households (features in SQL) in {read:.1f}s", flush=True)
    rng = np.random.default_rng(0)
    for size in sizes:
        if size > len(data):
            print(f"  {size:,} rows: only {len(data):,} labelled households; use --label-all or more households")
            continue
        subset = data.take(np.sort(rng.choice(len(data), size, replace=False)))
        fit_runs = runs if size <= 200_000 else 1
        boosted = median_of(fit_runs, lambda s=subset: CatBoostWelfare.fit(s.frame, s.target, CatBoostSettings()))
        pmt = median_of(runs, lambda s=subset: ProxyMeansTest.fit(s.frame, s.target))
        print(
            f"  train on {size:>9,} rows: CatBoost {boosted:7.1f}s (target <= 300s at 1M), PMT {pmt:5.1f}s "
            f"(median of {fit_runs} / {runs})",
            flush=True,
        )
    await engine.dispose()


async def bench_predict(settings: Settings, model_dir: Path, runs: int) -> None:
    engine = create_engine(settings)
    async with engine.connect() as conn:
        frame = await read_batch(conn, datetime.now(UTC).date(), [], 0, PREDICT_BATCH)
    sample = await survey_sample(engine, datetime.now(UTC).date(), limit=MODEL_ROWS)
    await engine.dispose()
    model = CatBoostWelfare.fit(sample.frame, sample.target, CatBoostSettings())
    prepared = frame.to_pandas()
    as_numpy = prepared.to_numpy(dtype=object)
    assert np.allclose(model.predict(frame).scores, model.model.predict(as_numpy))
    sides = {
        "ours": lambda: model.predict(frame),
        "numpy": lambda: model.model.predict(as_numpy),
        "pandas": lambda: model.model.predict(prepared),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):  # interleaved, so a change in the machine's load hits every side alike
        for name, work in sides.items():
            started = time.perf_counter()
            work()
            times[name].append(time.perf_counter() - started)
    ours, raw_numpy, raw_pandas = (statistics.median(times[name]) for name in sides)
    rows = len(frame)
    print(
        f"predict {rows:,} households: ours {rows / ours:,.0f}/s (target >= 200,000/s), "
        f"raw CatBoost on a numpy array {rows / raw_numpy:,.0f}/s (ours / raw = {ours / raw_numpy:.2f}x, "
        "target <= 1.5x), raw on a prepared categorical frame "
        f"{rows / raw_pandas:,.0f}/s ({ours / raw_pandas:.2f}x); median of {runs}",
        flush=True,
    )


async def bench_apply(settings: Settings, model_dir: Path, runs: int) -> None:
    engine = create_engine(settings)
    async with engine.connect() as conn:
        households = (await conn.execute(select(func.count()).select_from(HOUSEHOLDS))).scalar_one()
    sample = await survey_sample(engine, datetime.now(UTC).date(), limit=MODEL_ROWS)
    options = TrainingOptions(kind=ModelKind.CATBOOST, author="bench", activate=True)
    await train(engine, sample, options, model_dir)
    reports = []
    for _ in range(runs):
        report = await apply_ranking(engine, model_dir, restart=True)
        reports.append(report)
        t = report.times
        print(
            f"  apply over {report.households:,} households: {t.total:.1f}s (read+features {t.read:.1f}s, predict "
            f"{t.predict:.1f}s, staging writes {t.write:.1f}s, deciles and swap {t.finalize:.1f}s)",
            flush=True,
        )
    await engine.dispose()
    total = statistics.median(r.times.total for r in reports)
    print(
        f"apply end to end over {households:,} households on {settings.database_url.split(':')[0]}: "
        f"median {total:.1f}s = {households / total:,.0f} households/s (median of {runs})",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--label-all", action="store_true", help="Give every demo household a consumption label.")
    parser.add_argument("--train-sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--apply-runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="SQLite file to keep and reuse between runs.")
    parser.add_argument("--schema", help="PostgreSQL: use this already seeded schema (kept).")
    parser.add_argument("--skip", nargs="*", default=[], choices=["train", "predict", "apply"])
    args = parser.parse_args()
    settings, made = await database(args.database, args.households, args.label_all, args.keep, args.schema)
    model_dir = Path(tempfile.mkdtemp(prefix="siks-rank-models-"))
    try:
        if "train" not in args.skip:
            await bench_training(settings, args.train_sizes, args.runs)
        if "predict" not in args.skip:
            await bench_predict(settings, model_dir, max(args.runs, 7))
        if "apply" not in args.skip:
            await bench_apply(settings, model_dir, args.apply_runs)
    finally:
        if made and not args.keep:
            await drop(settings)


if __name__ == "__main__":
    asyncio.run(main())
