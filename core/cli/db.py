"""``siks db``: schema migrations."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.enforcer import missing_policy_lines, seed_policies_if_empty
from core.cli.common import run_with_engine
from core.storage import migrate

app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("heads", help="Target revision; every branch's head by default.")) -> None:
    """Create the schema or bring it up to date."""

    async def work(engine: AsyncEngine) -> int:
        await migrate.upgrade(engine, revision)
        await seed_policies_if_empty(engine)
        return await missing_policy_lines(engine)

    missing = run_with_engine(work, needs_schema=False)
    typer.echo(f"schema at {revision}")
    if missing:
        typer.echo(
            f"the stored access policy lacks {missing} line(s) of the base policy (new objects, or lines removed "
            "on purpose); `siks policy sync` adds them"
        )


@app.command()
def status() -> None:
    """Say whether the schema is current, out of date, empty or unknown."""
    state = run_with_engine(migrate.schema_state, needs_schema=False)
    typer.echo(f"schema: {state.value} (this SIKS expects revisions {', '.join(migrate.head_revisions())})")
    if state is not migrate.SchemaState.CURRENT:
        raise typer.Exit(1)
