"""``siks verivali``: verification rounds, their progress, and determination into DTKS editions."""

from __future__ import annotations

from datetime import date

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.cli.users import cli_request
from core.foundation.ids import id_from_text
from core.foundation.refusals import Invalid, Missing
from core.regions.codes import RegionCodeError, check_code
from core.storage.db import write_transaction
from core.verification import determination, progress, rounds
from core.verification.queries import editions

app = typer.Typer(help="Verification and validation: rounds, progress, determination.", no_args_is_help=True)


def _refuse(outcome: object) -> None:
    if isinstance(outcome, Invalid):
        fail("; ".join(f"{error.field}: {error.message}" for error in outcome.errors))
    if isinstance(outcome, Missing):
        fail(f"no {outcome.entity} with id {outcome.key}")


def _round_id(value: str) -> int:
    round_id = id_from_text(value)
    if round_id is None:
        fail(f"'{value[:24]}' is not a round id (ids are whole numbers; `siks verivali rounds` lists them)")
    return round_id


@app.command("create-round")
def create_round_command(
    period: str = typer.Option(..., help="YYYY-MM, YYYY-Qn or YYYY."),
    label: str = typer.Option(..., help="A name officers recognise, e.g. 'Verivali 2026 Q4'."),
    region: list[str] = typer.Option(..., help="Region codes the round covers (repeat the option)."),
    not_visited_since: str | None = typer.Option(
        None, help="Only households without a 'found' visit since this date (YYYY-MM-DD)."
    ),
) -> None:
    """Open a verification round and make its prelist."""
    since = None
    if not_visited_since is not None:
        try:
            since = date.fromisoformat(not_visited_since)
        except ValueError:
            fail(f"--not-visited-since: '{not_visited_since[:20]}' is not a date such as 2026-01-31")

    async def work(engine: AsyncEngine) -> object:
        async with write_transaction(engine) as conn:  # a refusal is returned before anything is written
            return await rounds.create_round(conn, cli_request(), period, label, region, since)

    made = run_with_engine(work)
    _refuse(made)
    typer.echo(f"round {made.id}: {made.label} ({made.period}), {made.households:,} households on the prelist")  # type: ignore[attr-defined]


@app.command("rounds")
def rounds_command() -> None:
    """List verification rounds, newest first."""

    async def work(engine: AsyncEngine) -> list[object]:
        async with engine.connect() as conn:
            return await rounds.list_rounds(conn, "")

    for found in run_with_engine(work):
        typer.echo(
            f"{found.id}  {found.period:<8} {found.status:<6} {found.households:>9,}  {found.label}  "  # type: ignore[attr-defined]
            f"[{', '.join(found.regions)}]"  # type: ignore[attr-defined]
        )


@app.command("progress")
def progress_command(
    round_id: str = typer.Argument(..., help="The round's id."),
    region: str = typer.Option("", help="Region to break down (one level below it); the whole country if empty."),
) -> None:
    """Households due, visited, proposed, approved at each level and determined, per region."""
    target = _round_id(round_id)
    if region:
        try:
            check_code(region)
        except RegionCodeError as exc:
            fail(str(exc))

    async def work(engine: AsyncEngine) -> object:
        async with engine.connect() as conn:
            if await rounds.round_by_id(conn, target) is None:
                return Missing("verification round", str(target))
            return await progress.round_progress(conn, target, region)

    found = run_with_engine(work)
    _refuse(found)
    assert isinstance(found, progress.Progress)
    header = ("region", "due", "visited", "proposed", "district", "regency", "province", "determined", "returned")
    typer.echo(f"{header[0]:<14}" + "".join(f"{name:>11}" for name in header[1:]))
    for row in [*found.regions, found.total]:
        label = row.region_code if row is not found.total else "total"
        values = (
            row.due,
            row.visited,
            row.proposed,
            row.approved_by_district,
            row.approved_by_regency,
            row.approved_by_province,
            row.determined,
            row.returned,
        )
        typer.echo(f"{label or 'ID':<14}" + "".join(f"{value:>11,}" for value in values))


@app.command("determine")
def determine_command(
    label: str = typer.Option(..., help="The edition's label, e.g. 'DTKS 2026-12'."),
    period: str = typer.Option(..., help="The period it closes, YYYY-MM."),
) -> None:
    """Determine (penetapan) every proposal approved by a province into a new DTKS edition."""

    async def work(engine: AsyncEngine) -> object:
        async with write_transaction(engine) as conn:  # a refusal is returned before anything is written
            return await determination.determine(conn, cli_request(), label, period)

    done = run_with_engine(work)
    _refuse(done)
    assert isinstance(done, determination.Determined)
    edition = done.edition
    typer.echo(
        f"edition {edition.id} '{edition.label}': {edition.additions:,} added, {edition.changes:,} changed, "
        f"{edition.removals:,} removed, {edition.conflicts:,} not applied; "
        f"{edition.households:,} households and {edition.members:,} members in the DTKS"
    )
    for reason, count in done.conflicts.items():
        typer.echo(f"  {count:,} not applied: {determination.CONFLICT_REASONS[reason]}")


@app.command("editions")
def editions_command() -> None:
    """List DTKS editions, newest first."""

    async def work(engine: AsyncEngine) -> list[object]:
        async with engine.connect() as conn:
            return await editions(conn, 100)

    for edition in run_with_engine(work):
        typer.echo(
            f"{edition.id}  {edition.label:<20} {edition.period}  +{edition.additions:,} ~{edition.changes:,} "  # type: ignore[attr-defined]
            f"-{edition.removals:,} ({edition.conflicts:,} conflicts)  {edition.households:,} households"  # type: ignore[attr-defined]
        )
