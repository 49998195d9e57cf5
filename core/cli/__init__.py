"""The ``siks`` command line: one sub-command group per concern."""

from __future__ import annotations

import typer

from core.cli import bulk, db, demo, disbursements, programs, regions, serve
from core.programs.registry import PluginConflict

app = typer.Typer(help="SIKS: national social-welfare registry.", no_args_is_help=True, add_completion=False)
app.add_typer(db.app, name="db")
app.add_typer(regions.app, name="regions")
app.add_typer(bulk.import_app, name="import")
app.add_typer(bulk.export_app, name="export")
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.add_typer(disbursements.app, name="disbursement")
app.add_typer(programs.app, name="program")


def main() -> None:
    try:
        app()
    except PluginConflict as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None
