"""``siks offline``: village packages for field apps that work without a connection."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.cli.users import cli_request
from core.foundation.settings import get_settings
from core.offline.export import Exported, ExportRefused, export_package
from core.offline.importing import ImportReport, import_package
from core.offline.package import PackageRefused
from core.verification.storage import folder_store

app = typer.Typer(
    help="Offline village packages: export a village's prelist, import the visits made.", no_args_is_help=True
)


@app.callback()
def _offline_group() -> None:
    """Offline village packages: export a village's prelist, import the visits made."""


@app.command("export")
def export(
    village: str = typer.Option(..., "--village", help="The village's code, e.g. 32.01.01.2001."),
    round_id: int | None = typer.Option(None, "--round", help="Verification round; default: the newest open one."),
    output: Path = typer.Option(..., "--output", help="The package file to write (must not exist)."),
) -> None:
    """Write one SQLite file with a round's prelist of one village, for a field app."""
    settings = get_settings()

    async def work(engine: AsyncEngine) -> Exported:
        return await export_package(engine, cli_request(), village, output, settings.secret_key, round_id)

    try:
        done = run_with_engine(work)
    except ExportRefused as refused:
        fail(str(refused))
    typer.echo(
        f"package {done.package_id} written to {done.path}: village {done.village_code}, round {done.round_id}, "
        f"{done.households} households, {done.members} members"
    )


def _print(report: ImportReport) -> None:
    if report.empty:
        typer.echo(f"package {report.package_id} holds no visits and no proposals: there was nothing to import")
        return
    if report.nothing_new and report.conflicts:
        typer.echo(f"nothing new was imported from package {report.package_id}: see the conflicts below")
    elif report.nothing_new:
        before = f" on {report.imported_before:%Y-%m-%d %H:%M}" if report.imported_before else ""
        typer.echo(f"nothing new: everything in package {report.package_id} was already imported{before}")
    else:
        typer.echo(f"package {report.package_id} (village {report.village_code}) imported as {report.officer}")
    typer.echo(f"visits recorded: {report.visits_recorded}, already imported: {report.visits_already}")
    typer.echo(f"photos stored: {report.photos_stored}, already stored: {report.photos_already}")
    typer.echo(f"proposals made: {report.proposals_made}, already made: {report.proposals_already}")
    typer.echo(f"conflicts: {len(report.conflicts)}")
    for conflict in report.conflicts:
        subject = f"household {conflict.household_id}" if conflict.household_id else "new household"
        typer.echo(f"  {subject} ({conflict.client_id}): {conflict.reason}")


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="The package file that came back from the field."),
    officer: str = typer.Option(..., "--officer", help="Username of the officer who made the visits."),
) -> None:
    """Record the visits, photos and new-household proposals of a package, all or nothing."""
    settings = get_settings()

    async def work(engine: AsyncEngine) -> ImportReport:
        store = folder_store(settings.photo_dir)
        return await import_package(
            engine, store, file, officer, secret_key=settings.secret_key, max_photo_bytes=settings.max_photo_bytes
        )

    try:
        report = run_with_engine(work)
    except PackageRefused as refused:
        fail(f"nothing was imported: {refused}")
    _print(report)
