"""Loading the Kemendagri list: complete, idempotent, and all-or-nothing on a bad CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.regions.codes import within
from core.regions.loader import RegionListError, csv_regions, load_regions, lokal_regions
from core.storage.records import REGIONS


async def level_counts(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(REGIONS.c.level, func.count()).group_by(REGIONS.c.level))
        return dict(rows.all())


async def test_full_hierarchy_is_loaded(engine: AsyncEngine) -> None:
    assert await level_counts(engine) == {1: 38, 2: 514, 3: 7285, 4: 83762}


async def test_loading_again_changes_nothing(engine: AsyncEngine) -> None:
    result = await load_regions(engine, lokal_regions())
    assert (result.added, result.renamed, result.unchanged) == (0, 0, 91599)


async def test_newer_csv_adds_and_renames(engine: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "newer.csv"
    path.write_text("code,name\n32.01.01.9001,Desa Baru Test\n32.01.01.9001,Desa Baru Test\n", encoding="utf-8")
    with pytest.raises(RegionListError, match="listed twice"):
        await load_regions(engine, csv_regions(path))
    path.write_text("code,name\n32.01.01.9001,Desa Baru Test\n32.01,Kabupaten Bogor (baru)\n", encoding="utf-8")
    try:
        result = await load_regions(engine, csv_regions(path))
        assert (result.added, result.renamed) == (1, 1)
        async with engine.connect() as conn:
            name = (await conn.execute(select(REGIONS.c.name).where(REGIONS.c.code == "32.01"))).scalar_one()
        assert name == "Kabupaten Bogor (baru)"
    finally:
        await load_regions(engine, [("32.01", "Kabupaten Bogor")])
        async with engine.begin() as conn:
            await conn.execute(REGIONS.delete().where(REGIONS.c.code == "32.01.01.9001"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "header"),
        (b"kode,nama\n32,Jawa Barat\n", "header 'code,name'"),
        (b"code,name\n", "no regions"),
        (b"code,name\n32.01.01.9001,Desa,extra\n", "expected 2 columns"),
        ("code,name\n32.01.01.9001,Désa\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_csv_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "regions.csv"
    path.write_bytes(content)
    with pytest.raises(RegionListError, match=message):
        csv_regions(path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("3201019001", "Desa")], "not a dotted Kemendagri code"),
        ([("77.01", "Kabupaten Hilang")], "no parent 77"),
        ([("32.01.01.9002", "")], "empty name"),
    ],
)
async def test_bad_rows_write_nothing(engine: AsyncEngine, rows: list[tuple[str, str]], message: str) -> None:
    before = await level_counts(engine)
    with pytest.raises(RegionListError, match=message):
        await load_regions(engine, [("32.01.01.9003", "Desa Sah"), *rows])
    assert await level_counts(engine) == before


async def test_scope_range_never_matches_a_longer_code(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        codes = (await conn.execute(select(REGIONS.c.code).where(within(REGIONS.c.code, "32.01.01")))).scalars().all()
    assert "32.01.01" in codes and "32.01.01.1001" in codes
    assert all(code == "32.01.01" or code.startswith("32.01.01.") for code in codes)
    assert "32.01.010" not in codes
