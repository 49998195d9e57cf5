"""``siks audit``: check the audit log's keyed hash chain and anchor its head outside the database."""

from __future__ import annotations

from pathlib import Path

import typer

from core.audit.checkpoints import write_checkpoint
from core.audit.keys import AuditKeyRefused
from core.audit.verify import verify_chain
from core.cli.common import fail, run_with_engine
from core.foundation.settings import get_settings

app = typer.Typer(help="The audit log.", no_args_is_help=True)

CHECKPOINTS = typer.Option(
    None, "--checkpoints", help="Checkpoint file to check against (default: SIKS_AUDIT_CHECKPOINT_FILE)."
)


@app.callback()
def _app_group() -> None:
    """Keep this a command group even with several commands."""


@app.command()
def verify(checkpoints: Path | None = CHECKPOINTS) -> None:
    """Recompute the chain with the audit keys and check every checkpoint; name the first changed, inserted
    or deleted row."""
    path = checkpoints or get_settings().audit_checkpoint_file
    report = run_with_engine(lambda engine: verify_chain(engine, path))
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    if report.ok:
        typer.echo(f"audit log intact: {report.checked} rows, {report.checkpoints} checkpoints match")
        return
    for problem in report.problems:
        typer.secho(f"TAMPERED: {problem}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@app.command()
def checkpoint(output: Path | None = typer.Option(None, help="Default: SIKS_AUDIT_CHECKPOINT_FILE.")) -> None:
    """Append a signed checkpoint of the chain's head (row, hash, time) to the checkpoint file."""
    path = output or get_settings().audit_checkpoint_file
    try:
        written = run_with_engine(lambda engine: write_checkpoint(engine, path))
    except AuditKeyRefused as exc:
        fail(str(exc))
        return
    if written is None:
        typer.echo(f"no new checkpoint: the log is empty or {path} already ends with its head")
        return
    typer.echo(f"checkpoint: row {written.seq} at {written.at} appended to {path}")
