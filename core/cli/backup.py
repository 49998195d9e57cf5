"""``siks backup`` and ``siks restore``: the database, photos and model files, checked by SHA-256 (docs/backup.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from core.cli.common import fail
from core.cli.users import cli_request
from core.foundation.settings import get_settings
from core.operations.backup import RestoreFailed, create_backup, describe, restore_backup
from core.operations.manifest import BackupRefused
from core.storage.db import DatabaseUnreachable

backup_app = typer.Typer(help="Back up the database, the photo folder and the model files.")
restore_app = typer.Typer(help="Restore a backup made by `siks backup`.")


@backup_app.command()
def backup(
    output: Path = typer.Option(..., "--output", help="A new (or empty) folder to write the backup to."),
) -> None:
    """Back up the database (pg_dump / SQLite's online backup), SIKS_PHOTO_DIR and SIKS_MODEL_DIR, with a
    manifest of versions, row counts and SHA-256 checksums; audited."""
    try:
        manifest = asyncio.run(create_backup(get_settings(), output, cli_request()))
    except (BackupRefused, DatabaseUnreachable, RuntimeError) as exc:
        fail(str(exc))
        return
    summary = describe(manifest)
    typer.echo(
        f"backup of the {summary['database']} database at alembic {summary['alembic']} written to {output}: "
        f"{summary['tables']} tables, {summary['rows']} rows, {summary['files']} files"
    )


@restore_app.command()
def restore(
    source: Path = typer.Argument(..., help="A folder written by `siks backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a database and folders that are not empty."),
) -> None:
    """Check every file of the backup against its manifest, restore the database and folders, and check the
    restored row counts and alembic revisions; refuses a non-empty target without --force; audited."""
    try:
        report = asyncio.run(restore_backup(get_settings(), source, cli_request(), force=force))
    except (BackupRefused, DatabaseUnreachable) as exc:
        fail(str(exc))
        return
    except (RestoreFailed, RuntimeError) as exc:
        fail(f"restore failed after it began; the target is incomplete: {exc}", code=1)
        return
    typer.echo(
        f"restored the backup of {report.manifest.created_at} from {source}: {report.tables} tables, "
        f"{report.rows} rows and {report.files} files match the manifest"
    )
