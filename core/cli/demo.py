"""``siks demo``: fill the registry with a deterministic synthetic population."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from core.cli.common import fail, run_with_engine
from core.demo import DemoResult, NoVillages, PopulationExists, SerialsExhausted, seed_demo
from core.demo.generator import DEFAULT_BATCH_SIZE
from core.demo.samples import HouseholdSample, household_samples, sample_lines


def demo(
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
    """

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


app = typer.Typer()
app.command()(demo)
