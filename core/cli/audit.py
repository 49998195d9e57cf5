"""``siks audit``: check the audit log's hash chain."""

from __future__ import annotations

import typer

from core.audit.verify import verify_chain
from core.cli.common import run_with_engine

app = typer.Typer(help="The audit log.", no_args_is_help=True)


@app.callback()
def _app_group() -> None:
    """Keep this a command group even with one command."""


@app.command()
def verify() -> None:
    """Recompute the hash chain; name the first changed, inserted or deleted row."""
    report = run_with_engine(verify_chain)
    if report.ok:
        typer.echo(f"audit log intact: {report.checked} rows")
        return
    for problem in report.problems:
        typer.secho(f"TAMPERED: {problem}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)
