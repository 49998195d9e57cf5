"""First start: an empty database becomes a working registry (schema, regions, demo households)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from core import migrate
from core.regions.loader import load_regions, lokal_regions


@dataclass(frozen=True, slots=True)
class BootstrapReport:
    migrated: bool
    regions_added: int
    demo_households: int


async def bootstrap(engine: AsyncEngine, demo_households: int, seed: int = 1) -> BootstrapReport:
    """Migrate, load regions and seed demo data, but only into an empty database.

    A database that already holds SIKS tables is left alone here; ``require_current`` then
    decides whether the server may start on it.
    """
    if await migrate.schema_state(engine) is not migrate.SchemaState.EMPTY:
        return BootstrapReport(migrated=False, regions_added=0, demo_households=0)
    await migrate.upgrade(engine)
    loaded = await load_regions(engine, lokal_regions())
    seeded = 0
    if demo_households:
        from core.demo import seed_demo

        seeded = (await seed_demo(engine, demo_households, seed, progress=False)).households
    return BootstrapReport(migrated=True, regions_added=loaded.added, demo_households=seeded)
