"""``siks regions``: the Kemendagri region list."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.regions.loader import LoadResult, RegionListError, csv_regions, load_regions, lokal_regions

app = typer.Typer(help="Load the regional hierarchy.", no_args_is_help=True)


@app.callback()
def _app_group() -> None:
    """Keep this a command group even with one command."""


@app.command()
def load(
    csv: Path | None = typer.Option(
        None, "--csv", exists=True, dir_okay=False, help="A newer official list (code,name)."
    ),
) -> None:
    """Load provinces, regencies/cities, districts and villages; a re-run changes nothing."""
    try:
        rows = csv_regions(csv) if csv else lokal_regions()
    except RegionListError as exc:
        fail(str(exc))

    async def work(engine: AsyncEngine) -> LoadResult:
        return await load_regions(engine, rows)

    try:
        result = run_with_engine(work)
    except RegionListError as exc:
        fail(f"{exc}; nothing was loaded")
    typer.echo(f"regions: {result.added} added, {result.renamed} renamed, {result.unchanged} unchanged")
