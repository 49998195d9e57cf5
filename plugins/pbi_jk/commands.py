"""``siks pbi-jk``: BPJS registration files of a PBI-JK cycle, and BPJS's membership reconciled against it.

Both run at the national data centre's command line (as ``siks reference load`` does), read one
finished cycle, write CSV files into ``--output`` and one audit row each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from core.plugin_api import (
    Invalid,
    Missing,
    cli_request,
    exit_with_error,
    record_audit,
    run_with_engine,
    write_transaction,
)
from plugins.pbi_jk import reconciliation, registration
from plugins.pbi_jk.cycles import CycleArea, cycle_area

app = typer.Typer(name="pbi-jk", help="PBI-JK: BPJS registration files and reconciliation.", no_args_is_help=True)

CYCLE = typer.Argument(..., help="The PBI-JK cycle's id (`siks program run pbi_jk ...` prints it).")
OUTPUT = typer.Option(..., "--output", file_okay=False, help="Folder for the CSV files (created if missing).")
REGION = typer.Option(None, "--region", help="Only this region of the cycle (a dotted code); default: the whole cycle.")


def _refuse(outcome: object) -> None:
    if isinstance(outcome, Invalid):
        exit_with_error("; ".join(f"{error.field}: {error.message}" for error in outcome.errors))
    if isinstance(outcome, Missing):
        exit_with_error(f"no {outcome.entity} with id {outcome.key}")


@app.command("export")
def export_command(cycle_id: int = CYCLE, output: Path = OUTPUT, region: str | None = REGION) -> None:
    """Write the cycle's members as BPJS PBI registration files, one CSV per regency/city."""

    async def work(engine: Any) -> object:
        async with write_transaction(engine) as conn:
            area = await cycle_area(conn, cycle_id, region)
            if not isinstance(area, CycleArea):
                return area
            files = await registration.export_registration(conn, area, output)
            await record_audit(
                conn,
                cli_request(),
                operation="exportPbiJkRegistration",
                entity="program_cycle",
                entity_id=str(cycle_id),
                after={"region": area.label, "files": {f.regency_code: f.rows for f in files}},
            )
            return files

    files = run_with_engine(work)
    _refuse(files)
    assert isinstance(files, list)
    for written in files:
        typer.echo(f"{written.regency_code}\t{written.rows}\t{written.path}")
    typer.echo(f"{sum(f.rows for f in files):,} member(s) in {len(files)} file(s)", err=True)


@app.command("reconcile")
def reconcile_command(
    cycle_id: int = CYCLE,
    output: Path = OUTPUT,
    region: str | None = REGION,
    snapshot: int | None = typer.Option(
        None, "--snapshot", help="A BPJS snapshot id (`siks reference status bpjs`); default: the active one."
    ),
) -> None:
    """Reconcile a BPJS snapshot against the cycle's recipients: PBI active, to register, to deactivate."""

    async def work(engine: Any) -> object:
        async with write_transaction(engine) as conn:
            area = await cycle_area(conn, cycle_id, region)
            if not isinstance(area, CycleArea):
                return area
            report = await reconciliation.reconcile(conn, area, snapshot)
            if isinstance(report, Invalid):
                return report
            paths = reconciliation.write_report(report, output)
            total = report.total()
            await record_audit(
                conn,
                cli_request(),
                operation="reconcilePbiJk",
                entity="program_cycle",
                entity_id=str(cycle_id),
                after={
                    "region": area.label,
                    "snapshot": report.snapshot_id,
                    "recipients": total.recipients,
                    "pbi_active": total.pbi_active,
                    "to_register": total.to_register,
                    "to_deactivate": total.to_deactivate,
                },
            )
            return report, paths

    outcome = run_with_engine(work)
    _refuse(outcome)
    assert isinstance(outcome, tuple)
    report, paths = outcome
    typer.echo("\t".join(reconciliation.SUMMARY_COLUMNS))
    for count in [*report.counts(), report.total()]:
        typer.echo("\t".join(str(getattr(count, name)) for name in reconciliation.SUMMARY_COLUMNS))
    typer.echo(f"BPJS snapshot {report.snapshot_id}; wrote {paths[0]} and {paths[1]}", err=True)
