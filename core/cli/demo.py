"""``siks demo``: fill the registry with a deterministic synthetic population."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.demo import DemoResult, NoVillages, PopulationExists, SerialsExhausted, seed_demo
from core.demo.generator import DEFAULT_BATCH_SIZE
from core.demo.reference import DEFAULT_RATES, Rates, ReferenceRefused, check_output, write_reference
from core.demo.samples import HouseholdSample, household_samples, sample_lines
from core.demo.seeding import reference_date


def demo(
    ctx: typer.Context,
    households: int = typer.Option(1000, "--households", "-n", min=1, help="How many households to generate."),
    seed: int = typer.Option(1, "--seed", min=0, help="The same seed and count give the same population."),
    append: bool = typer.Option(
        False, "--append", help="Add to a registry that has households; NIK/KK serials continue after those in use."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, "--batch-size", min=1, hidden=True, help="Households per transaction (for tests)."
    ),
) -> None:
    """Generate demo households over the real villages, with members and welfare survey labels.

    About 4 members a household; 10% of households get a consumption survey label for the current year.
    Refuses when households exist, unless --append. A run that was stopped is finished by running it
    again with the same arguments: the batches it wrote are kept, the rest are written.
    `siks demo reference --output DIR` writes the other agencies' extracts for the population.
    """
    if ctx.invoked_subcommand is not None:
        return

    async def work(engine: AsyncEngine) -> tuple[DemoResult, list[HouseholdSample]]:
        result = await seed_demo(engine, households, seed, append=append, progress=progress, batch_size=batch_size)
        async with engine.connect() as conn:
            return result, await household_samples(conn)

    try:
        result, samples = run_with_engine(work)
    except (PopulationExists, NoVillages, SerialsExhausted) as exc:
        fail(str(exc))
    line = (
        f"demo: {result.households} households, {result.members} members, {result.surveys} survey labels "
        f"in {result.villages} villages (seed {result.seed})"
    )
    if result.written == 0:
        line += "; complete already, nothing written"
    elif result.written < result.households:
        line += f"; finished a stopped run: {result.written} households written now, the rest before"
    typer.echo(line)
    for sample in sample_lines(samples):
        typer.echo(sample)


def reference(
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the files (created if its parent exists)."),
    seed: int = typer.Option(1, "--seed", min=0, help="The same population and seed give the same files."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace extracts already in the folder."),
    deceased: float = typer.Option(DEFAULT_RATES.deceased, help="Share of members Adminduk lists as deceased."),
    moved: float = typer.Option(
        DEFAULT_RATES.moved, help="Share of members Adminduk lists as moved to another regency."
    ),
    nik_typo: float = typer.Option(DEFAULT_RATES.nik_typo, help="Share of members whose registry NIK is mistyped."),
    name_variant: float = typer.Option(
        DEFAULT_RATES.name_variant, help="Share of members Adminduk spells differently."
    ),
    date_swap: float = typer.Option(
        DEFAULT_RATES.date_swap, help="Share of members with day and month swapped (day <= 12)."
    ),
    other_household: float = typer.Option(
        DEFAULT_RATES.other_household, help="Share of members on another household's KK."
    ),
    extra_people: float = typer.Option(
        DEFAULT_RATES.extra_people, help="Adminduk people outside the registry, per member."
    ),
    missing_from_dapodik: float = typer.Option(
        DEFAULT_RATES.missing_from_dapodik, help="Share of school children missing from Dapodik."
    ),
    dapodik_no_nik: float = typer.Option(DEFAULT_RATES.dapodik_no_nik, help="Share of Dapodik rows without a NIK."),
    dapodik_nik_typo: float = typer.Option(DEFAULT_RATES.dapodik_nik_typo, help="Share of Dapodik NIKs mistyped."),
    pbi: float = typer.Option(DEFAULT_RATES.pbi, help="Share of the poorer households with BPJS PBI."),
    bpjs_other: float = typer.Option(DEFAULT_RATES.bpjs_other, help="Share of other members with non-PBI BPJS."),
) -> None:
    """Write the Adminduk, Dapodik and BPJS extracts of the demo population with known discrepancies.

    Files: adminduk.csv, dapodik.csv, bpjs.csv and truth.csv (every injected discrepancy). Rates are
    shares between 0 and 1. Reads the registry from the database; changes nothing in it.
    """
    rates = Rates(
        deceased=deceased, moved=moved, nik_typo=nik_typo, name_variant=name_variant, date_swap=date_swap,
        other_household=other_household, extra_people=extra_people, missing_from_dapodik=missing_from_dapodik,
        dapodik_no_nik=dapodik_no_nik, dapodik_nik_typo=dapodik_nik_typo, pbi=pbi, bpjs_other=bpjs_other,
    )  # fmt: skip
    try:
        problems = rates.problems()
        if problems:
            raise ReferenceRefused("; ".join(problems))
        check_output(output, overwrite)
        result = run_with_engine(lambda engine: write_reference(engine, output, seed, rates, reference_date(),
                                                                overwrite=overwrite))  # fmt: skip
    except ReferenceRefused as exc:
        fail(str(exc))
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(result.kinds.items()))
    typer.echo(
        f"reference: {result.members} members read; adminduk.csv {result.adminduk} rows, dapodik.csv "
        f"{result.dapodik}, bpjs.csv {result.bpjs}; truth.csv: {kinds or 'none'} (seed {seed}) in {output}"
    )


app = typer.Typer(invoke_without_command=True)
app.callback()(demo)
app.command()(reference)
