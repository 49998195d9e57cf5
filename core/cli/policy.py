"""``siks policy``: the access-control policy stored in the database."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.enforcer import seed_policies
from core.access.policy import PolicyError, add_line, list_policy, remove_line
from core.audit.log import record
from core.cli.common import fail, run_with_engine
from core.cli.users import cli_request
from core.storage.db import write_transaction

app = typer.Typer(
    help="Casbin policy lines; a change reaches every running server within a second.", no_args_is_help=True
)


@app.command("list")
def list_command() -> None:
    """Print every stored policy line."""

    async def work(engine: AsyncEngine) -> list[str]:
        async with engine.connect() as conn:
            return await list_policy(conn)

    for line in run_with_engine(work):
        typer.echo(line)


def _change(line: str, adding: bool) -> None:
    async def work(engine: AsyncEngine) -> list[str]:
        async with write_transaction(engine) as conn:
            cells = await (add_line(conn, line) if adding else remove_line(conn, line))
            await record(
                conn,
                cli_request(),
                operation="addPolicy" if adding else "removePolicy",
                entity="policy",
                entity_id=", ".join(cells)[:64],
                after={"line": cells} if adding else None,
                before=None if adding else {"line": cells},
            )
            return cells

    try:
        cells = run_with_engine(work)
    except PolicyError as exc:
        fail(str(exc))
    typer.echo(f"{'added' if adding else 'removed'}: {', '.join(cells)}")


@app.command("add")
def add(line: str = typer.Argument(..., help="'p, role, object, action' or 'g, role, parent role'")) -> None:
    """Add a policy line."""
    _change(line, adding=True)


@app.command("remove")
def remove(line: str = typer.Argument(..., help="the line exactly as `siks policy list` prints it")) -> None:
    """Remove a policy line."""
    _change(line, adding=False)


@app.command("sync")
def sync() -> None:
    """Add the base policy's and the loaded plugins' lines that are missing (never removes any)."""
    added = run_with_engine(seed_policies)
    typer.echo(f"{added} policy lines added")
