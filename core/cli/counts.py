"""``siks counts``: the per-region household counters behind ``totalCount`` (docs/scale.md, "Counts and pages")."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import run_with_engine

app = typer.Typer(help="The per-region household counters that answer totalCount.", no_args_is_help=True)


@app.command("check")
def check_command() -> None:
    """Compare every village's, district's and regency's counters with a full count of its households;
    exit 1 naming each region that differs."""
    from core.households.counts import CountMismatch, check

    async def work(engine: AsyncEngine) -> list[CountMismatch]:
        async with engine.connect() as conn:
            return await check(conn)

    mismatches = run_with_engine(work)
    for mismatch in mismatches:
        typer.echo(mismatch.line())
    if mismatches:
        typer.secho(
            f"{len(mismatches)} counters differ from the households; run `siks counts rebuild`", err=True, fg="red"
        )
        raise typer.Exit(1)
    typer.echo("every region's counters equal a full count of its households")


@app.command("rebuild")
def rebuild_command() -> None:
    """Recompute every counter from the households in one transaction (on PostgreSQL, writes to households
    wait until it commits), audited."""
    from core.audit.log import record
    from core.cli.users import cli_request
    from core.households.counts import rebuild
    from core.storage.db import write_transaction

    async def work(engine: AsyncEngine) -> int:
        async with write_transaction(engine) as conn:
            rows = await rebuild(conn)
            await record(
                conn,
                cli_request(),
                operation="rebuildRegionCounts",
                entity="region_household_counts",
                entity_id="",
                after={"rows": rows},
            )
            return rows

    rows = run_with_engine(work)
    typer.echo(f"rebuilt {rows} counters (village, district and regency, per status)")
