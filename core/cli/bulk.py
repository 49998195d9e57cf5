"""``siks import`` and ``siks export``: households to and from files (layout: docs/import-format.md)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.exporter import (
    CsvSink,
    ExportFormat,
    ExportSummary,
    RegionNotFound,
    export_households,
    write_households,
)
from core.bulk.importer import (
    PARALLEL_FROM_ROWS,
    ImportInterrupted,
    ImportOptions,
    ImportSummary,
    default_workers,
    import_households,
)
from core.bulk.sources import FileRefused
from core.bulk.workers import WorkerFailed
from core.cli.common import fail, run_with_engine
from core.regions.codes import RegionCodeError

import_app = typer.Typer(help="Load records from files.", no_args_is_help=True)


@import_app.callback()
def _import_app_group() -> None:
    """Keep this a command group even with one command."""


export_app = typer.Typer(help="Write records to files.", no_args_is_help=True)


@export_app.callback()
def _export_app_group() -> None:
    """Keep this a command group even with one command."""


@import_app.command("households")
def import_households_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="A .csv (UTF-8) or .xlsx file."),
    errors: Path | None = typer.Option(
        None, "--errors", dir_okay=False, help="Row-error report (CSV); default: FILE's name + .errors.csv beside it."
    ),
    batch_size: int = typer.Option(5000, "--batch-size", min=1, help="Households per transaction."),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=0,
        help=f"Processes checking rows; 0: in this process. Default: {default_workers()} (one per CPU) for files of "
        f"{PARALLEL_FROM_ROWS:,} rows or more, else 0.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Register the households of FILE, one row per member.

    A file that cannot be read as a whole is refused and nothing is loaded (exit code 2). Otherwise
    every household with a bad row is left out whole and listed in the error report, the rest are
    loaded in batches; households already registered with the same data are skipped, so a re-run
    after a failure resumes where it stopped. Every batch that loads households is audited in its
    own transaction.
    """
    options = ImportOptions(batch_households=batch_size, workers=workers, progress=progress)

    async def work(engine: AsyncEngine) -> ImportSummary:
        from core.cli.users import cli_request

        return await import_households(engine, file, request=cli_request(), report_path=errors, options=options)

    try:
        summary = run_with_engine(work)
    except FileRefused as exc:
        fail(f"{exc}; nothing was loaded")
    except ImportInterrupted as exc:
        fail(str(exc), code=1)
    except WorkerFailed as exc:
        fail(f"{exc}\nbatches already loaded stay loaded; run the import again to continue", code=1)
    typer.echo(summary.line())


@export_app.command("households")
def export_households_command(
    region: str = typer.Option(..., "--region", help="Kemendagri code; the region and everything below it."),
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False, help="Default: CSV on stdout."),
    fmt: ExportFormat | None = typer.Option(
        None, "--format", case_sensitive=False, help="Default: from the output's extension, else csv."
    ),
) -> None:
    """Write the active households of a region with their active members, in the import layout."""
    chosen = fmt or (ExportFormat.XLSX if output is not None and output.suffix.lower() == ".xlsx" else ExportFormat.CSV)
    if output is None and chosen is ExportFormat.XLSX:
        fail("an XLSX export needs --output FILE")

    async def work(engine: AsyncEngine) -> ExportSummary:
        if output is not None:
            return await export_households(engine, region, output, chosen)
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            return await write_households(engine, region, CsvSink(stream))
        finally:
            stream.flush()
            stream.detach()

    try:
        summary = run_with_engine(work)
    except (RegionCodeError, RegionNotFound) as exc:
        fail(str(exc))
    typer.echo(summary.line(str(output) if output else "stdout"), err=True)
