"""``siks reference``: other agencies' registries as versioned snapshots (docs/reference-data.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.sources import FileRefused
from core.cli.common import fail, run_with_engine
from core.reference.formats import Source

app = typer.Typer(help="Reference snapshots: Adminduk, Dapodik, BPJS.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


@app.command("load")
def load_command(
    source: Source = typer.Argument(..., case_sensitive=False, help="adminduk, dapodik or bpjs."),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A .csv, .xlsx or .parquet file."
    ),
    errors: Path | None = typer.Option(
        None, "--errors", dir_okay=False, help="Row-error report (CSV); default: FILE's name + .errors.csv beside it."
    ),
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per transaction."),
) -> None:
    """Load FILE as a new snapshot of SOURCE (national data centre only: run as its operator).

    The new snapshot replaces the active one only when every row is in; a refused, failed or
    killed load leaves the active snapshot as it was. Bad rows are left out and listed in the
    error report with row and column. The same file as the active snapshot changes nothing.
    """
    from core.cli.users import cli_request
    from core.reference.loader import load_reference

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        return await load_reference(
            engine, source, file, request=cli_request(), report_path=errors, batch_rows=batch_size
        )

    try:
        summary = run_with_engine(work)
    except FileRefused as exc:
        fail(f"{exc}; the active snapshot is unchanged")
    typer.echo(summary.line())


@app.command("status")
def status_command(
    source: Source | None = typer.Argument(None, case_sensitive=False, help="One source; default: all."),
) -> None:
    """List the snapshots, newest first: id, source, status, rows loaded and rejected, file, when."""
    from core.reference.queries import snapshot_history

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await snapshot_history(conn, source)

    for snapshot in run_with_engine(work):
        finished = snapshot.completed_at.isoformat(timespec="seconds") if snapshot.completed_at else "-"
        typer.echo(
            f"{snapshot.id}\t{snapshot.source}\t{snapshot.status}\t{snapshot.rows_loaded}\t{snapshot.rows_rejected}"
            f"\t{snapshot.file_name}\t{snapshot.sha256[:12]}\t{finished}"
        )


@app.command("prune")
def prune_command(
    source: Source | None = typer.Argument(None, case_sensitive=False, help="One source; default: all."),
    keep: int = typer.Option(1, "--keep", min=0, help="Superseded snapshots to keep whole, newest first."),
) -> None:
    """Delete the rows of superseded snapshots but the newest KEEP of each source (national data centre only).

    The active snapshot, loads in progress and the newest superseded ones are never touched; pruned
    snapshots stay listed by `siks reference status` as `pruned`. Refused while a load of the source runs.
    """
    from core.cli.users import cli_request
    from core.reference.snapshots import prune
    from core.storage.db import write_transaction
    from core.storage.locks import held_for_job

    sources = [source] if source else list(Source)

    async def work(engine: AsyncEngine) -> list[tuple[Source, int, int]]:
        async with contextlib.AsyncExitStack() as locks:
            for each in sources:  # every lock first: a refusal prunes nothing
                if not await locks.enter_async_context(held_for_job(engine, f"reference-load-{each.value}")):
                    raise FileRefused(f"a load of {each.value} is running; try again when it has finished")
            async with write_transaction(engine) as conn:
                return [(each, i, rows) for each in sources for i, rows in await prune(conn, cli_request(), each, keep)]

    try:
        pruned = run_with_engine(work)
    except FileRefused as exc:
        fail(f"{exc}; nothing was pruned")
    for each, snapshot_id, rows in pruned:
        typer.echo(f"{each.value}: snapshot {snapshot_id} pruned, {rows:,} rows deleted")
    if not pruned:
        typer.echo("nothing to prune")
