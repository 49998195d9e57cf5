"""``siks dedup``: find the same person or family registered twice inside the registry (docs/dedup.md)."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine

app = typer.Typer(
    help="Duplicates inside the registry: the same person or family registered twice.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


@app.command("run")
def run_command(
    region: str | None = typer.Option(
        None, "--region", help="A region code (32, 32.01, 32.01.01 or a village); default: the whole country."
    ),
) -> None:
    """Pair the active members that are probably one person, and the households that are probably one family
    (national data centre only: run as its operator). Open pairs are updated, decided pairs left alone;
    operators decide them in their region (duplicateCandidates, resolveDuplicate)."""
    from core.cli.users import cli_request
    from core.identity.dedup import DedupRefused, run_dedup

    request = cli_request()

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        return await run_dedup(engine, region_code=region, started_by=request.principal.username, request=request)

    try:
        summary = run_with_engine(work)
    except DedupRefused as exc:
        fail(str(exc))
    typer.echo(summary.line())
