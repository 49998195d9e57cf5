"""``siks rank``: train, evaluate, activate and apply welfare models (PMT and CatBoost)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.log import record as audit
from core.cli.common import fail, run_with_engine
from core.cli.users import cli_request
from core.foundation.settings import get_settings
from core.regions.codes import RegionCodeError
from core.welfare.apply import DEFAULT_BATCH_SIZE, ApplyReport, apply_ranking
from core.welfare.catboost_model import CatBoostSettings
from core.welfare.errors import WelfareError
from core.welfare.evaluate import Evaluation
from core.welfare.labelled import (
    DEFAULT_HOLDOUT_SHARE,
    DEFAULT_SPLIT_SEED,
    LabelledData,
    read_labelled_csv,
    survey_sample,
    write_labelled_csv,
)
from core.welfare.model import ModelKind
from core.welfare.pmt import DEFAULT_RIDGE
from core.welfare.registry import ModelRecord, activate_model, active_model, list_models
from core.welfare.training import ModelEvaluation, TrainingOptions, default_versions, evaluate_models, train

app = typer.Typer(help="Welfare ranking: PMT and CatBoost models, deciles, evaluation.", no_args_is_help=True)

DATA = typer.Option(
    None,
    "--data",
    exists=True,
    dir_okay=False,
    help="Labelled CSV (docs/welfare-ranking.md); the survey sample if unset.",
)
CATBOOST = CatBoostSettings()  # the defaults
AUTHOR = typer.Option(None, "--author", help="Who trains or activates; the system user by default.")


class Kind(StrEnum):
    CATBOOST = "catboost"
    PMT = "pmt"


def _who(author: str | None) -> str:
    return author or getpass.getuser()


def _run(work):  # type: ignore[no-untyped-def]
    """Run ``work`` on an engine; a welfare error becomes a one-line message and exit code 2."""
    try:
        return run_with_engine(work)
    except (WelfareError, RegionCodeError) as exc:
        fail(str(exc))


async def _audit_training(conn: AsyncConnection, record: ModelRecord) -> None:
    after = {"version": record.version, "kind": record.kind, "active": record.active, "rows": record.training_rows}
    await audit(
        conn,
        cli_request(),
        operation="trainWelfareModel",
        entity="welfare_model",
        entity_id=record.version,
        after=after,
    )


async def _audit_ranking(conn: AsyncConnection, report: ApplyReport) -> None:
    after = {"model_version": report.model_version, "region": report.region_code, "households": report.households}
    await audit(
        conn,
        cli_request(),
        operation="applyWelfareRanking",
        entity="welfare_ranking",
        entity_id=report.run_id,
        after=after,
    )


async def _labelled(engine: AsyncEngine, data: Path | None) -> LabelledData:
    if data is not None:
        return read_labelled_csv(data)
    return await survey_sample(engine, datetime.now(UTC).date())


def _percent(value: float) -> str:
    return f"{100 * value:5.1f}%"


COVERAGE_HEADS = "".join(f"{f'excl/incl {c}%':>16}" for c in (10, 20, 30, 40))
TABLE_HEAD = f"{'model':<44} {'spearman':>8} {'r2':>6}{COVERAGE_HEADS}"


def _evaluation_row(name: str, evaluation: Evaluation) -> str:
    errors = "".join(
        f"{f'{100 * t.exclusion_error:.1f}/{100 * t.inclusion_error:.1f}%':>16}" for t in evaluation.targeting
    )
    return f"{name:<44} {evaluation.spearman:>8.4f} {evaluation.r2:>6.3f}{errors}"


@app.command("train")
def train_command(
    kind: Kind = typer.Option(Kind.CATBOOST, "--kind", help="catboost (trees) or pmt (proxy means test)."),
    data: Path | None = DATA,
    holdout_share: float = typer.Option(DEFAULT_HOLDOUT_SHARE, min=0.05, max=0.5, help="Share held out to test."),
    split_seed: int = typer.Option(DEFAULT_SPLIT_SEED, help="Seed of the train / held-out split."),
    iterations: int = typer.Option(CATBOOST.iterations, min=1, help="CatBoost: number of trees."),
    depth: int = typer.Option(CATBOOST.depth, min=1, max=16, help="CatBoost: tree depth."),
    learning_rate: float = typer.Option(CATBOOST.learning_rate, min=0.001, max=1.0, help="CatBoost."),
    seed: int = typer.Option(CATBOOST.seed, help="CatBoost random seed (same seed and data, same model)."),
    ridge: float = typer.Option(DEFAULT_RIDGE, min=0.0, help="PMT: ridge penalty on standardised variables."),
    activate: bool = typer.Option(False, "--activate", help="Make the new model active (the first one always is)."),
    author: str | None = AUTHOR,
) -> None:
    """Train a model on the training side of the labelled data, test it on the held-out side, register it."""
    options = TrainingOptions(
        kind=ModelKind(kind.value),
        author=_who(author),
        holdout_share=holdout_share,
        split_seed=split_seed,
        catboost=CatBoostSettings(iterations=iterations, depth=depth, learning_rate=learning_rate, seed=seed),
        ridge=ridge,
        activate=activate,
    )

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        labelled = await _labelled(engine, data)
        return await train(engine, labelled, options, get_settings().model_dir, on_written=_audit_training)

    report = _run(work)
    record = report.record
    typer.echo(
        f"model {record.version} ({record.kind}) trained on {report.training_rows:,} households in "
        f"{report.fit_seconds:.1f}s, tested on {report.holdout_rows:,} held out{' - active' if record.active else ''}"
    )
    typer.echo(TABLE_HEAD)
    typer.echo(_evaluation_row(record.kind, report.evaluation))
    if report.baseline is not None:
        typer.echo(_evaluation_row("pmt on the same split", report.baseline))
        typer.echo(
            f"exclusion error at 40% coverage: {record.metrics['exclusion_improvement_at_40']:+.1%} relative to the PMT"
        )


@app.command("evaluate")
def evaluate_command(
    data: Path | None = typer.Option(None, "--data", exists=True, dir_okay=False, help="Labelled CSV to test on."),
    holdout: bool = typer.Option(False, "--holdout", help="Test on the held-out side of the registry's survey sample."),
    models: list[str] = typer.Option([], "--model", help="Version to evaluate (repeatable); else active + newest."),
    holdout_share: float = typer.Option(DEFAULT_HOLDOUT_SHARE, min=0.05, max=0.5, help="With --holdout."),
    split_seed: int = typer.Option(DEFAULT_SPLIT_SEED, help="With --holdout: the seed the models were trained with."),
    store: bool = typer.Option(True, "--store/--no-store", help="Append the report to each model's metrics."),
) -> None:
    """Compare registered models (CatBoost and PMT) on households they were not trained on."""
    if (data is None) == (not holdout):
        fail("give exactly one of --data FILE or --holdout")

    async def work(engine: AsyncEngine) -> tuple[LabelledData, list[ModelEvaluation]]:
        labelled = await _labelled(engine, data)
        if holdout:
            labelled = labelled.split(holdout_share, split_seed)[1]
        versions = models or await default_versions(engine)
        if not versions:
            raise WelfareError("no welfare model is registered yet; train one with `siks rank train`")
        return labelled, await evaluate_models(engine, labelled, versions, get_settings().model_dir, store=store)

    labelled, results = _run(work)
    typer.echo(f"{len(labelled):,} households from the {labelled.source}{' (held-out side)' if holdout else ''}")
    typer.echo(TABLE_HEAD)
    for result in results:
        name = f"{result.record.version}{' (active)' if result.record.active else ''}"
        typer.echo(_evaluation_row(name, result.evaluation))
        for feature, count in sorted(result.unseen.items()):
            typer.echo(f"{'':<44} {count:,} answer(s) of {feature} unseen in training: scored as the reference answer")
        if holdout and result.record.training_source != labelled.source:
            typer.echo(f"{'':<44} note: trained on {result.record.training_source}, which may overlap these households")


@app.command("activate")
def activate_command(
    version: str = typer.Argument(..., help="The model version (see `siks rank list`); an older one rolls back."),
    author: str | None = AUTHOR,
    apply: bool = typer.Option(False, "--apply", help="Re-rank every household with it right away."),
) -> None:
    """Make a registered model the active one; its file is checked first, a refusal changes nothing."""

    async def work(engine: AsyncEngine) -> tuple[ModelRecord, ApplyReport | None]:
        settings = get_settings()
        async with engine.connect() as conn:
            previous = await active_model(conn)

        async def audited(conn: AsyncConnection, record: ModelRecord) -> None:
            await audit(
                conn,
                cli_request(),
                operation="activateWelfareModel",
                entity="welfare_model",
                entity_id=record.version,
                before={"active": previous.version if previous else None},
                after={"active": record.version},
            )

        record = await activate_model(
            engine, version, model_dir=settings.model_dir, actor=_who(author), on_written=audited
        )
        report = None
        if apply:
            report = await apply_ranking(engine, settings.model_dir, progress=True, on_written=_audit_ranking)
        return record, report

    record, report = _run(work)
    typer.echo(f"active model: {record.version} ({record.kind})")
    if report is not None:
        _show_apply(report)
    else:
        typer.echo("the stored deciles still come from the previous ranking until `siks rank apply` runs")


@app.command("list")
def list_command() -> None:
    """The registered models, newest first, with their held-out accuracy."""

    async def work(engine: AsyncEngine) -> list[ModelRecord]:
        async with engine.connect() as conn:
            return await list_models(conn)

    records = _run(work)
    if not records:
        typer.echo("no welfare models yet; `siks rank train` makes one")
        return
    typer.echo(f"{'':2}{'version':<44} {'kind':<9} {'trained on':>10} {'spearman':>9} {'excl@40%':>9}  author")
    for record in records:
        holdout = Evaluation.from_dict(record.metrics["holdout"])
        typer.echo(
            f"{'* ' if record.active else '  '}{record.version:<44} {record.kind:<9} {record.training_rows:>10,} "
            f"{holdout.spearman:>9.4f} {_percent(holdout.at(0.40).exclusion_error):>9}  {record.author}"
        )


def _show_apply(report: ApplyReport) -> None:
    scope = f"region {report.region_code}" if report.region_code else "all regions"
    times = report.times
    typer.echo(
        f"ranked {report.households:,} households in {scope} with {report.model_version}"
        f"{' (resumed)' if report.resumed else ''} in {times.total:.1f}s "
        f"(read {times.read:.1f}s, predict {times.predict:.1f}s, write {times.write:.1f}s, "
        f"deciles {times.finalize:.1f}s)"
    )
    for feature, count in sorted(report.unseen.items()):
        typer.echo(f"note: {count:,} answer(s) of {feature} were never seen in training (PMT: scored as the reference)")


@app.command("apply")
def apply_command(
    region: str | None = typer.Option(None, "--region", help="Re-rank only this region (dotted Kemendagri code)."),
    batch_size: int = typer.Option(DEFAULT_BATCH_SIZE, min=1, help="Households scored per batch."),
    restart: bool = typer.Option(False, "--restart", help="Drop an unfinished run instead of resuming it."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Score every active household with the active model; store national and regency deciles (1 = poorest).

    A killed run leaves the previous ranking in place; running again resumes it.
    """

    async def work(engine: AsyncEngine) -> ApplyReport:
        return await apply_ranking(
            engine,
            get_settings().model_dir,
            region_code=region,
            batch_size=batch_size,
            restart=restart,
            progress=progress,
            on_written=_audit_ranking,
        )

    _show_apply(_run(work))


@app.command("export")
def export_command(
    output: Path = typer.Option(..., "--output", "-o", dir_okay=False, help="CSV file to write."),
) -> None:
    """Write the registry's survey sample in the labelled CSV layout (for training elsewhere or review)."""

    async def work(engine: AsyncEngine) -> LabelledData:
        return await survey_sample(engine, datetime.now(UTC).date())

    labelled = _run(work)
    write_labelled_csv(labelled, output)
    typer.echo(f"wrote {len(labelled):,} labelled households to {output}")
