"""``siks grievances``: the grievance cases (sanggah) of SIKS-Dataku (docs/grievances.md)."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import run_with_engine

app = typer.Typer(help="Grievance cases (sanggah): citizens' objections to recipients.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Keep this a command group even with one command."""


@app.command("escalate")
def escalate_command() -> None:
    """Move every undecided case past its deadline one level up (village → district → regency/city → province →
    national), with a new deadline of SIKS_GRIEVANCE_DEADLINE_DAYS; run it daily (cron, systemd timer)."""
    from core.cli.users import cli_request
    from core.foundation.settings import get_settings
    from core.grievances.handling import escalate_overdue
    from core.storage.db import write_transaction

    request = cli_request()
    days = get_settings().grievance_deadline_days

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with write_transaction(engine) as conn:
            return await escalate_overdue(conn, request, days)

    done = run_with_engine(work)
    moved = ", ".join(f"{n} from {level}" for level, n in done.by_level.items()) or "none overdue"
    typer.echo(f"escalated {done.total} grievance(s): {moved}")
