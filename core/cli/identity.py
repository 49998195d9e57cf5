"""``siks identity``: checking the registry's members against the reference snapshots (docs/identity.md)."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine

app = typer.Typer(help="Identity checks against Adminduk, Dapodik and BPJS.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


@app.command("check")
def check_command(
    region: str | None = typer.Option(
        None, "--region", help="Check only the members of this region and below (e.g. 32.01); default: all."
    ),
) -> None:
    """Check every active member against the active snapshots (national data centre only: run as its operator).

    Writes one outcome per member and source under a new run; only a completed run is shown by the
    API. A source without an active snapshot is skipped; without an Adminduk snapshot nothing runs.
    """
    from core.cli.users import cli_request
    from core.identity.checks import CheckRefused, run_check

    request = cli_request()

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        return await run_check(engine, region_code=region, started_by=request.principal.username, request=request)

    try:
        summary = run_with_engine(work)
    except CheckRefused as exc:
        fail(f"{exc}; nothing was checked")
    for line in summary.lines():
        typer.echo(line)
