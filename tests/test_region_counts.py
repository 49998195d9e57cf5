"""The per-region household counters equal a full count after every kind of write; ``totalCount`` of a
region answers from them; a region's page is read from an index in id order, never sorted."""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bulk.importer import ImportOptions, import_households
from core.demo import seed_demo
from core.foundation.enums import HouseholdRemovalReason, RecordStatus
from core.households import counts, service
from core.households.queries import HouseholdFilter, count_households, household_page, page_query
from core.households.queries import Include as Attach
from core.regions.codes import within
from core.storage.db import write_transaction
from core.storage.keyset import Window
from core.storage.records import HOUSEHOLDS, MEMBERS
from core.verification import proposals
from core.verification.drafts import ChangeRequest
from tests import factories
from tests.bulk_files import IMPORTER, numbered_households, write_households
from tests.cli_support import siks
from tests.conftest import clear_data
from tests.test_verification_determination import determine, to_the_top
from tests.verification_support import officer

VILLAGE = factories.VILLAGE  # 32.01.01.1001, the chain's officers' village
#: Villages in two districts of one regency, another regency of the province, and another province.
VILLAGES = (VILLAGE, "32.01.01.1002", "32.01.02.2001", "32.02.01.1001", factories.OTHER_VILLAGE)
REGIONS = ("", "32", "35", "32.01", "32.02", "32.01.01", "32.01.02", *VILLAGES)


async def real_count(engine: AsyncEngine, region: str, status: RecordStatus | None) -> int:
    query = select(func.count()).select_from(HOUSEHOLDS).where(within(HOUSEHOLDS.c.village_code, region))
    if status is not None:
        query = query.where(HOUSEHOLDS.c.status == status.value)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def assert_exact(engine: AsyncEngine, after: str) -> None:
    async with engine.connect() as conn:
        assert await counts.check(conn) == [], f"counters differ from a full count after {after}"
        for region in REGIONS:
            for status in (RecordStatus.ACTIVE, RecordStatus.INACTIVE, None):
                where = HouseholdFilter(region_code=region or None, status=status)
                assert await count_households(conn, where) == await real_count(engine, region, status), (
                    after,
                    region,
                    status,
                )


async def active_ids(engine: AsyncEngine, village: str | None = None) -> list[tuple[int, int, str]]:
    """(id, version, village) of the active households, in id order."""
    query = select(HOUSEHOLDS.c.id, HOUSEHOLDS.c.version, HOUSEHOLDS.c.village_code).where(
        HOUSEHOLDS.c.status == "active"
    )
    if village is not None:
        query = query.where(HOUSEHOLDS.c.village_code == village)
    async with engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query.order_by(HOUSEHOLDS.c.id))]  # type: ignore[misc]


class Writer:
    """Each kind of write that adds, moves or removes a household, as the registry runs it."""

    def __init__(self, engine: AsyncEngine, rng: random.Random, folder: Path) -> None:
        self.engine, self.rng, self.folder = engine, rng, folder
        self.imported: set[str] = set()

    async def register(self) -> None:
        async with write_transaction(self.engine) as conn:
            made = await service.register_household(conn, factories.household(self.rng.choice(VILLAGES)))
        assert not isinstance(made, service.Invalid), made

    async def move(self) -> None:
        found = await active_ids(self.engine)
        if not found:
            return
        household_id, version, village = self.rng.choice(found)
        target = self.rng.choice([v for v in VILLAGES if v != village])
        async with write_transaction(self.engine) as conn:
            moved = await service.update_household(conn, household_id, version, {"village_code": target})
        assert not isinstance(moved, service.Invalid | service.Conflict | service.Missing), moved

    async def edit(self) -> None:
        """A change that moves nothing: the counters stay as they are."""
        found = await active_ids(self.engine)
        if found:
            household_id, version, _village = self.rng.choice(found)
            async with write_transaction(self.engine) as conn:
                await service.update_household(conn, household_id, version, {"rt": f"{self.rng.randint(1, 99):03d}"})

    async def determine(self) -> None:
        """A DTKS determination: a removal, a new household and a move to another village, at once."""
        while len(here := await active_ids(self.engine, VILLAGE)) < 2:  # one to remove, one to move
            async with write_transaction(self.engine) as conn:
                await service.register_household(conn, factories.household(VILLAGE))
        village = officer("village_operator")
        made = []
        async with write_transaction(self.engine) as conn:
            made.append(await proposals.propose_new_household(conn, village, factories.household(VILLAGE)))
            household_id, version, _ = here[0]
            reason = self.rng.choice(list(HouseholdRemovalReason))
            made.append(await proposals.propose_removal(conn, village, household_id, version, reason))
            household_id, version, _ = here[-1]
            change = ChangeRequest(household={"village_code": "32.01.01.1002"})
            district = officer("district_officer")  # a village's operator moves nobody out of it
            made.append(await proposals.propose_change(conn, district, household_id, version, change))
        assert all(isinstance(m, proposals.ProposalRecord) for m in made), made
        await to_the_top(self.engine, [m.id for m in made])
        done = await determine(self.engine, f"DTKS {self.rng.random()}")
        assert (done.edition.additions, done.edition.removals, done.edition.changes) == (1, 1, 1), done

    async def bulk_import(self) -> None:
        """A file of households through ``siks import households`` (batches, COPY on PostgreSQL)."""
        left = [v for v in VILLAGES if v.rsplit(".", 1)[0] not in self.imported]
        if not left:
            return
        target = self.rng.choice(left)
        self.imported.add(target.rsplit(".", 1)[0])
        path = write_households(self.folder / f"{target}.csv", numbered_households(self.rng.randint(1, 12), target))
        summary = await import_households(self.engine, path, request=IMPORTER, options=ImportOptions(workers=0))
        assert summary.loaded > 0, summary

    async def demo(self) -> None:
        """The demo generator appending households (COPY on PostgreSQL, executemany on SQLite)."""
        await seed_demo(self.engine, self.rng.randint(1, 30), self.rng.randint(1, 10**6), append=True, progress=False)

    async def delete(self) -> None:
        """A household registered and then deleted outright, members first (a clean-up by hand)."""
        async with write_transaction(self.engine) as conn:
            made = await service.register_household(conn, factories.household(self.rng.choice(VILLAGES)))
            assert not isinstance(made, service.Invalid), made
            await conn.execute(MEMBERS.delete().where(MEMBERS.c.household_id == made.id))
            await conn.execute(HOUSEHOLDS.delete().where(HOUSEHOLDS.c.id == made.id))

    async def status_by_hand(self) -> None:
        """A bulk status change in one statement, as an operator's SQL would do it."""
        status = self.rng.choice(["active", "inactive"])
        async with write_transaction(self.engine) as conn:
            await conn.execute(
                update(HOUSEHOLDS).where(HOUSEHOLDS.c.village_code == self.rng.choice(VILLAGES)).values(status=status)
            )


def every_kind(writer: Writer) -> dict[str, Callable[[], Awaitable[None]]]:
    return {
        "register": writer.register,
        "move": writer.move,
        "edit": writer.edit,
        "determine": writer.determine,
        "bulk_import": writer.bulk_import,
        "demo": writer.demo,
        "delete": writer.delete,
        "status_by_hand": writer.status_by_hand,
    }


KINDS = tuple(every_kind(Writer(None, random.Random(), Path("."))))  # type: ignore[arg-type]


async def test_counters_equal_a_full_count_after_every_kind_of_write(db: AsyncEngine, tmp_path: Path) -> None:
    writer = Writer(db, random.Random(20261208), tmp_path)
    for name, write in every_kind(writer).items():
        await write()
        await assert_exact(db, name)
    assert await real_count(db, "", RecordStatus.INACTIVE) > 0  # removals really happened


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=8), seed=st.integers(0, 2**32))
async def test_any_sequence_of_writes_keeps_the_counters_exact(
    engine: AsyncEngine, kinds: list[str], seed: int
) -> None:
    await clear_data(engine)
    with tempfile.TemporaryDirectory(prefix="siks-counts-") as folder:
        writes = every_kind(Writer(engine, random.Random(seed), Path(folder)))
        for name in kinds:
            await writes[name]()
            await assert_exact(engine, name)


async def test_a_failed_write_leaves_the_counters_as_they_were(db: AsyncEngine) -> None:
    await Writer(db, random.Random(1), Path(".")).register()
    try:
        async with write_transaction(db) as conn:
            await service.register_household(conn, factories.household(factories.OTHER_VILLAGE))
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    await assert_exact(db, "a rollback")
    assert await real_count(db, "35", None) == 0


async def test_check_names_the_regions_that_differ_and_rebuild_repairs_them(db: AsyncEngine) -> None:
    writer = Writer(db, random.Random(2), Path("."))
    for _ in range(3):
        await writer.register()
    ok = siks("counts", "check")
    assert ok.returncode == 0, ok.stderr
    async with write_transaction(db) as conn:  # a counter damaged behind the triggers' back
        await conn.execute(
            update(counts.COUNTS)
            .where(counts.COUNTS.c.level == 3, counts.COUNTS.c.status == "active")
            .values(households=counts.COUNTS.c.households + 5)
        )
        await conn.execute(text("DELETE FROM region_household_counts WHERE level = 4"))
    broken = siks("counts", "check")
    assert broken.returncode == 1
    districts = {v.rsplit(".", 1)[0] for _id, _v, v in await active_ids(db)}
    villages = {v for _id, _v, v in await active_ids(db)}
    for region in districts | villages:
        assert f"{region} active:" in broken.stdout
    rebuilt = siks("counts", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert siks("counts", "check").returncode == 0
    await assert_exact(db, "rebuild")


async def test_total_count_of_every_level_answers_from_the_counters(db: AsyncEngine, as_role: Any) -> None:
    writer = Writer(db, random.Random(3), Path("."))
    await writer.demo()
    for _ in range(4):
        await writer.register()
    query = "query($r: String) { households(regionCode: $r, first: 1) { totalCount } }"
    national = as_role("data_centre")
    for region in REGIONS:
        answer = await national(query, {"r": region or None})
        assert answer["households"]["totalCount"] == await real_count(db, region, RecordStatus.ACTIVE)
    district = as_role("district_officer", "32.01.01")  # the scope narrows the region asked for
    for region, expected in (("32", "32.01.01"), ("32.01.01.1001", VILLAGE), (None, "32.01.01")):
        answer = await district(query, {"r": region})
        assert answer["households"]["totalCount"] == await real_count(db, expected, RecordStatus.ACTIVE)
    outside = await district(query, {"r": "35"})
    assert outside["households"]["totalCount"] == 0


async def plan(engine: AsyncEngine, region: str) -> str:
    """The database's plan for a page of 100 active households of ``region``, as text."""
    query = page_query(HouseholdFilter(region_code=region or None), Window(size=100), engine.dialect.name)
    async with engine.connect() as conn:
        compiled = query.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})  # type: ignore[union-attr]
        if engine.dialect.name == "sqlite":
            rows = await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            return "\n".join(str(row[-1]) for row in rows)
        # A small test table is cheaper to sort than to walk in order, so the planner is told sorting is
        # dear: a Sort left in the plan would mean no index gives this region in id order.
        await conn.execute(text("SET LOCAL enable_sort = off"))
        rows = await conn.execute(text(f"EXPLAIN {compiled}"))
        return "\n".join(str(row[0]) for row in rows)


async def test_a_page_of_any_region_is_read_from_an_index_in_id_order(db: AsyncEngine) -> None:
    await seed_demo(db, 400, 5, progress=False)
    async with db.begin() as conn:
        await conn.execute(text("ANALYZE"))
    sort = "USE TEMP B-TREE" if db.dialect.name == "sqlite" else "Sort"
    indexes = {"32": "province", "32.01": "regency", "32.01.01": "district", VILLAGE: "village"}
    for region in ("", "32", "32.01", "32.01.01", VILLAGE):
        found = await plan(db, region)
        assert sort not in found, (region, found)
        if region:  # the region's own index, not the primary key walked and filtered
            assert f"ix_households_{indexes[region]}_id" in found, (region, found)
    async with db.connect() as conn:  # and the page is the region's first 100 households in id order
        page = await household_page(conn, HouseholdFilter(region_code="32"), Window(size=100), Attach(False, False))
    expected = await active_ids(db)
    assert [r.id for r in page.rows] == [i for i, _v, village in expected if village.startswith("32.")][:100]


async def test_concurrent_writers_in_shared_regions_keep_the_counters_exact(db: AsyncEngine) -> None:
    """Registrations, edits and deletes at once, several in one regency: none waits forever, none is lost."""
    first = Writer(db, random.Random(4), Path("."))
    for _ in range(6):
        await first.register()
    writers = [Writer(db, random.Random(seed), Path(".")) for seed in range(6)]

    async def busy(writer: Writer) -> None:
        for _ in range(3):
            await writer.rng.choice([writer.register, writer.register, writer.edit, writer.delete])()

    await asyncio.gather(*(busy(w) for w in writers))
    await assert_exact(db, "concurrent writes")
