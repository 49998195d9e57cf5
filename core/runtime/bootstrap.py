"""First start: an empty database becomes a working registry (schema, regions, demo households)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from core.access.enforcer import seed_policies_if_empty
from core.regions.loader import load_regions, lokal_regions
from core.storage import migrate

#: Created on an empty database in development mode only, so the README's first command can log in.
DEMO_ADMIN = ("admin", "admin-password")
#: The seed of the first start's demo population; the README's examples use its villages and names.
DEMO_SEED = 1


@dataclass(frozen=True, slots=True)
class BootstrapReport:
    migrated: bool
    regions_added: int
    demo_households: int
    demo_admin: bool = False


async def bootstrap(
    engine: AsyncEngine, demo_households: int, seed: int = DEMO_SEED, demo_admin: bool = False
) -> BootstrapReport:
    """Migrate, load regions and seed demo data (and a demo admin in development), only into an empty database.

    A database that already holds SIKS tables is left alone here; ``require_current`` then
    decides whether the server may start on it.
    """
    if await migrate.schema_state(engine) is not migrate.SchemaState.EMPTY:
        return BootstrapReport(migrated=False, regions_added=0, demo_households=0)
    await migrate.upgrade(engine)
    await seed_policies_if_empty(engine)
    loaded = await load_regions(engine, lokal_regions())
    seeded = 0
    if demo_households:
        from core.demo import seed_demo

        seeded = (await seed_demo(engine, demo_households, seed, progress=False)).households
    if demo_admin:
        from core.auth.users import create_user
        from core.storage.db import write_transaction

        async with write_transaction(engine) as conn:
            await create_user(conn, DEMO_ADMIN[0], DEMO_ADMIN[1], "data_centre", "")
    return BootstrapReport(migrated=True, regions_added=loaded.added, demo_households=seeded, demo_admin=demo_admin)
