"""``siks identity``: checking the registry's members against the reference snapshots (docs/identity.md),
and turning what the checks find into proposals (docs/identity-consequences.md)."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.foundation.refusals import Invalid, Missing

app = typer.Typer(
    help="Identity resolution: checks against Adminduk, Dapodik and BPJS, and their consequences.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


@app.command("check")
def check_command(
    region: str | None = typer.Option(
        None, "--region", help="Check only the members of this region and below (e.g. 32.01); default: all."
    ),
    propose: bool = typer.Option(
        True, "--propose/--no-propose", help="Turn the run's discrepancies into proposals when it completes."
    ),
) -> None:
    """Check every active member against the active snapshots (national data centre only: run as its operator).

    Writes one outcome per member and source under a new run; only a completed run is shown by the
    API. A source without an active snapshot is skipped; without an Adminduk snapshot nothing runs.
    Then (unless --no-propose) its Adminduk discrepancies become proposals, as `siks identity propose`.
    """
    from core.cli.users import cli_request
    from core.identity.checks import CheckRefused, run_check
    from core.identity.consequences import propose_from_run

    request = cli_request()

    async def work(engine: AsyncEngine) -> tuple[Any, Any]:
        summary = await run_check(engine, region_code=region, started_by=request.principal.username, request=request)
        proposed = None
        if propose:
            proposed = await propose_from_run(engine, summary.run_id, by=request.principal.username, request=request)
        return summary, proposed

    try:
        summary, proposed = run_with_engine(work)
    except CheckRefused as exc:
        fail(f"{exc}; nothing was checked")
    for line in summary.lines():
        typer.echo(line)
    if proposed is not None:
        _print_proposed(proposed)


@app.command("propose")
def propose_command(run_id: int = typer.Argument(..., help="A completed check run's id.")) -> None:
    """Turn RUN_ID's Adminduk discrepancies into proposals of the verification chain (national data centre).

    Deceased members are proposed removed, suggested NIKs corrected, moves proposed as the
    household's move or the member's removal; one proposal a household, none twice. Nothing
    changes in the registry until the chain determines them.
    """
    from core.cli.users import cli_request
    from core.identity.consequences import propose_from_run

    request = cli_request()

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        return await propose_from_run(engine, run_id, by=request.principal.username, request=request)

    result = run_with_engine(work)
    if isinstance(result, Missing):
        fail(f"no identity run {run_id}")
    _print_proposed(result)


def _print_proposed(result: Any) -> None:
    if isinstance(result, Invalid):
        fail("; ".join(error.message for error in result.errors))
    typer.echo(result.line())
    for refusal in result.refusals:
        typer.echo(f"not proposed: {refusal}")
