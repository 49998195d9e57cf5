"""``siks program``: preview, run and approve program cycles; set quotas."""

from __future__ import annotations

import getpass

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.foundation.refusals import Invalid, Missing
from core.programs import cycles, preview, quotas
from core.programs.registry import registry_from_settings
from core.storage.db import write_transaction

app = typer.Typer(help="Program cycles (preview, run, approve) and quotas.", no_args_is_help=True)

PROGRAM = typer.Argument(..., help="Program slug, e.g. pkh, bpnt, bst.")
PERIOD = typer.Argument(..., help="YYYY-MM for monthly programs (BPNT, BST), YYYY-Qn for PKH.")
REGION = typer.Argument(..., help="Dotted Kemendagri region code, or ID for all of Indonesia.")
ACTOR = typer.Option(None, "--actor", help="Who runs or approves; the system user by default.")


def _refuse(outcome: object) -> None:
    """Exit with the reason when ``outcome`` is a refusal."""
    if isinstance(outcome, Invalid):
        fail("; ".join(f"{error.field}: {error.message}" for error in outcome.errors))
    if isinstance(outcome, Missing):
        fail(f"no {outcome.entity} with id {outcome.key}")
    if isinstance(outcome, cycles.CycleRefused):
        fail(outcome.message, code=1)


def _show_cycle(record: cycles.CycleRecord) -> None:
    typer.echo(
        f"cycle {record.id}: {record.program.upper()} {record.period} {record.region_code} {record.status}, "
        f"{record.enrolled:,} enrolled, {record.refused:,} refused, Rp {record.total_amount:,}"
    )


@app.command("preview")
def preview_command(program: str = PROGRAM, period: str = PERIOD, region: str = REGION) -> None:
    """Counts per region of what a run would do (eligible, quota, would enrol, refused); writes nothing."""

    async def work(engine: AsyncEngine) -> object:
        return await preview.preview_cycle(engine, registry_from_settings(), program, period, region)

    outcome = run_with_engine(work)
    _refuse(outcome)
    assert isinstance(outcome, preview.CyclePreview)
    if outcome.cycle is not None:
        typer.echo(f"already ran as cycle {outcome.cycle.id} ({outcome.cycle.status})")
    typer.echo(f"{'region':<14} {'name':<28} {'eligible':>10} {'quota':>10} {'would enrol':>12} {'refused':>8}")
    for line in [*outcome.regions, outcome.total]:
        quota = "-" if line.quota is None else f"{line.quota:,}"
        typer.echo(
            f"{line.region_code:<14} {line.name[:28]:<28} {line.eligible:>10,} {quota:>10} "
            f"{line.would_enrol:>12,} {line.refused:>8,}"
        )


@app.command("run")
def run_command(program: str = PROGRAM, period: str = PERIOD, region: str = REGION, actor: str | None = ACTOR) -> None:
    """Run a cycle: enrol, write pending disbursements and refusals in one transaction; a re-run changes nothing."""

    async def work(engine: AsyncEngine) -> object:
        return await cycles.run_cycle(
            engine, registry_from_settings(), program, period, region, actor or getpass.getuser()
        )

    outcome = run_with_engine(work)
    _refuse(outcome)
    assert isinstance(outcome, cycles.CycleRecord)
    _show_cycle(outcome)


@app.command("approve")
def approve_command(
    cycle_id: int = typer.Argument(..., help="The id a run printed."), actor: str | None = ACTOR
) -> None:
    """Approve a completed cycle and release its pending disbursements."""

    async def work(engine: AsyncEngine) -> object:
        return await cycles.approve_cycle(
            engine, cycle_id, actor or getpass.getuser(), registry=registry_from_settings()
        )

    outcome = run_with_engine(work)
    _refuse(outcome)
    assert isinstance(outcome, cycles.CycleRecord)
    _show_cycle(outcome)


@app.command("quota")
def quota_command(
    program: str = PROGRAM,
    period: str = PERIOD,
    region: str = REGION,
    quota: int | None = typer.Argument(None, help="Households; leave out with --clear."),
    clear: bool = typer.Option(False, "--clear", help="Remove the region's quota."),
) -> None:
    """Set, replace or clear a program's quota in a region for a period."""
    if (quota is None) != clear:
        fail("give a quota, or --clear to remove one")

    async def work(engine: AsyncEngine) -> object:
        async with write_transaction(engine) as conn:
            return await quotas.set_quota(conn, registry_from_settings(), program, period, region, quota)

    outcome = run_with_engine(work)
    _refuse(outcome)
    assert isinstance(outcome, quotas.Quota)
    shown = "cleared" if outcome.quota is None else f"{outcome.quota:,} households"
    typer.echo(f"quota {outcome.program.upper()} {outcome.period} {outcome.region_code}: {shown}")


@app.command("double-recipients")
def double_recipients(
    region: str = typer.Argument(..., help="Dotted region code, or ID for all of Indonesia."),
    period: str = typer.Argument(..., help="YYYY, YYYY-Qn or YYYY-MM: enrollments overlapping it are checked."),
) -> None:
    """Report a NIK or KK in two active households, exclusive programs together, deceased members paid, and
    probable duplicates (open `siks dedup run` pairs) enrolled twice in one program."""
    from core.foundation.settings import get_settings
    from core.programs.double_recipients import double_recipient_report

    async def work(engine: AsyncEngine):  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return await double_recipient_report(
                conn,
                registry_from_settings(),
                region,
                period,
                duplicate_probability=get_settings().duplicate_report_probability,
            )

    report = run_with_engine(work)
    _refuse(report)
    for case in report.cases:
        typer.echo(f"{case.kind.value}\t{','.join(case.programs) or '-'}\t{case.detail}")
    counts = ", ".join(f"{kind.value} {count}" for kind, count in report.counts.items())
    typer.echo(f"{len(report.cases)} case(s) in {report.region_code} for {report.period}: {counts}", err=True)
