"""The region steps' lists kept in memory (``cascade.RegionLists``) and their options rendered once
(``pages.region_options``), on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.cascade import RegionLists, chosen_village, kept_cascade
from core.dataku.pages import region_options
from core.storage.records import RegionRecord
from tests.test_public import VILLAGE


async def test_a_list_is_read_once_and_kept_while_fresh(db: AsyncEngine) -> None:
    kept = RegionLists(seconds=300)
    provinces = await kept.under(db, None)
    assert "32" in [r.code for r in provinces] and all(r.level_number == 1 for r in provinces)
    assert await kept.under(db, None) is provinces  # not read again
    assert [r.code for r in await kept.under(db, "32.01.01")][:1] == [VILLAGE]
    stale = RegionLists(seconds=0.000_001)
    first = await stale.under(db, "32")
    assert await stale.under(db, "32") is not first and await stale.under(db, "32") == first  # read again


async def test_the_kept_cascade_and_village_are_the_databases(db: AsyncEngine) -> None:
    kept = RegionLists()
    chain = {"provinsi": "32", "kabupaten": "32.01", "kecamatan": "32.01.01", "desa": VILLAGE}
    levels = await kept_cascade(kept, db, chain)
    assert levels.village is not None and levels.village.code == VILLAGE and not levels.dropped
    assert await chosen_village(db, {"desa": VILLAGE}, kept) == await chosen_village(db, {"desa": VILLAGE})
    for code in ("32.01.01", f"{VILLAGE}.1", "99.99.99.9999", ""):
        assert await chosen_village(db, {"desa": code}, kept) is None


def test_options_are_escaped_marked_and_kept_per_list_and_choice() -> None:
    regions = [RegionRecord("32", "Jawa <Barat>", 1, None), RegionRecord("33", 'Jawa "Tengah"', 1, None)]
    html = region_options(regions, "33")
    assert html == (
        '<option value="32">Jawa &lt;Barat&gt;</option><option value="33" selected>Jawa &#34;Tengah&#34;</option>'
    )
    assert region_options(regions, "33") is html and region_options(regions, None) != html
    assert region_options(list(regions), "33") is not html  # another list object: rendered for itself
