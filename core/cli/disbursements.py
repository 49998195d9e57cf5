"""``siks disbursement``: payment statuses from the channels, and reconciliation."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.foundation import spreadsheet
from core.programs.disbursements import (
    ReconciliationLine,
    UpdateRefused,
    UpdateResult,
    apply_status_updates,
    read_channel_csv,
    reconcile,
)
from core.regions.codes import RegionCodeError, check_code
from core.storage.db import write_transaction

app = typer.Typer(help="Payment statuses and reconciliation.", no_args_is_help=True)
RECONCILIATION_COLUMNS = (
    "program",
    "period",
    "region_code",
    "payments",
    "amount",
    "pending",
    "released",
    "disbursed",
    "failed",
    "returned",
)


@app.command("import")
def import_statuses(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: reference,status[,note]"),
) -> None:
    """Apply a channel's status file; any bad row refuses the whole file."""
    try:
        updates = read_channel_csv(file)
    except UpdateRefused as refused:
        fail("; ".join(f"{e.field}: {e.message}" for e in refused.errors))

    async def work(engine: AsyncEngine) -> UpdateResult:
        async with write_transaction(engine) as conn:
            return await apply_status_updates(conn, updates)

    try:
        result = run_with_engine(work)
    except UpdateRefused as refused:
        for error in refused.errors[:50]:
            typer.echo(f"{error.field}: {error.message}", err=True)
        fail(f"{len(refused.errors)} problem(s) in {file.name}; nothing was updated")
    typer.echo(f"{result.updated} updated, {result.unchanged} unchanged")


@app.command("reconcile")
def reconcile_command(
    program: str | None = typer.Option(None, help="Program slug."),
    period: str | None = typer.Option(None, help="Period label, e.g. 2026-03."),
    region: str | None = typer.Option(None, help="Region code; the region and everything below it."),
) -> None:
    """Payments by program, period and regency/city: counts and Rupiah per status."""
    if region is not None:
        try:
            check_code(region)
        except RegionCodeError as exc:
            fail(str(exc))

    async def work(engine: AsyncEngine) -> list[ReconciliationLine]:
        async with engine.connect() as conn:
            return await reconcile(conn, program=program, period=period, region_code=region)

    lines = run_with_engine(work)
    table = spreadsheet.writer(sys.stdout, delimiter="\t", lineterminator="\n")  # often opened in a spreadsheet
    table.writerow(["region" if name == "region_code" else name for name in RECONCILIATION_COLUMNS])
    table.writerows([getattr(line, name) for name in RECONCILIATION_COLUMNS] for line in lines)
