"""``siks identity``: identity resolution against the reference snapshots (docs/identity-consequences.md)."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.foundation.refusals import Invalid, Missing

app = typer.Typer(help="Identity resolution: checks against Adminduk, Dapodik and BPJS, and their consequences.")


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


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
    if isinstance(result, Invalid):
        fail("; ".join(error.message for error in result.errors))
    typer.echo(result.line())
    for refusal in result.refusals:
        typer.echo(f"not proposed: {refusal}")
