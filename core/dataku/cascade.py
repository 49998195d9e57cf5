"""Choosing a village without JavaScript: province → regency → district → village, one GET step a level.

The query string names the codes chosen so far (``provinsi``, ``kabupaten``, ``kecamatan``, ``desa``);
the longest chain in which each code exists and lies directly under the one before is kept, the rest
dropped (so changing the province forgets the regency of another province), and the choices of the
next level are listed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.dataku.i18n import N_
from core.regions.queries import list_regions, regions_by_code
from core.storage.records import RegionRecord

#: The query parameter of each level, top down, and the label of its select.
LEVELS: tuple[tuple[str, str], ...] = (
    ("provinsi", N_("Province")),
    ("kabupaten", N_("Regency or city")),
    ("kecamatan", N_("District")),
    ("desa", N_("Village")),
)


@dataclass(frozen=True, slots=True)
class Level:
    param: str
    label: str
    options: list[RegionRecord]
    chosen: str | None


@dataclass(slots=True)
class Cascade:
    levels: list[Level] = field(default_factory=list)
    dropped: bool = False  # a code asked for was not a region under the one before

    @property
    def village(self) -> RegionRecord | None:
        if len(self.levels) == len(LEVELS) and self.levels[-1].chosen:
            return next(r for r in self.levels[-1].options if r.code == self.levels[-1].chosen)
        return None

    def chosen_codes(self) -> dict[str, str]:
        return {level.param: level.chosen for level in self.levels if level.chosen}


class RegionLists:
    """The regions directly under each region (the provinces under None), read from the database once
    and kept ``seconds`` (at most ``size`` lists): the region steps show the same few lists to everyone,
    and regions change only when a new list is loaded (then the pages show it within ``seconds``)."""

    def __init__(self, seconds: float = 300, size: int = 4096) -> None:
        self._kept: TTLCache[str, list[RegionRecord]] = TTLCache(maxsize=size, ttl=seconds)

    async def under(self, engine: AsyncEngine, parent: str | None) -> list[RegionRecord]:
        found = self._kept.get(parent or "")
        if found is None:
            async with engine.connect() as conn:
                found = await _under(conn, parent)
            self._kept[parent or ""] = found
        return found


async def _under(conn: AsyncConnection, parent: str | None) -> list[RegionRecord]:
    return await list_regions(conn, parent_code=parent) if parent else await list_regions(conn, level=1)


async def _walk(asked: Mapping[str, str], under: Callable[[str | None], Awaitable[list[RegionRecord]]]) -> Cascade:
    result = Cascade()
    parent: str | None = None
    for param, label in LEVELS:
        options = await under(parent)
        code = asked.get(param, "").strip()
        chosen = code if code and any(r.code == code for r in options) else None
        if code and chosen is None:
            result.dropped = True
        result.levels.append(Level(param, label, options, chosen))
        if chosen is None:
            break
        parent = chosen
    return result


async def cascade(conn: AsyncConnection, asked: Mapping[str, str]) -> Cascade:
    """The levels to show for the codes ``asked`` (query parameters), with the options of each, read now."""
    return await _walk(asked, lambda parent: _under(conn, parent))


async def kept_cascade(lists: RegionLists, engine: AsyncEngine, asked: Mapping[str, str]) -> Cascade:
    """As ``cascade``, the options from ``lists`` (a connection is opened only for a list not kept)."""
    return await _walk(asked, lambda parent: lists.under(engine, parent))


def codes_of(village: str) -> dict[str, str]:
    """The cascade's query parameters for a village code ``32.01.01.2001`` (its four ancestors' codes)."""
    parts = village.strip().split(".")
    return {param: ".".join(parts[: i + 1]) for i, (param, _label) in enumerate(LEVELS) if len(parts) > i}


async def village_named(conn: AsyncConnection, code: str) -> RegionRecord | None:
    """The village (level 4) of ``code``, or None."""
    region = (await regions_by_code(conn, [code])).get(code)
    return region if region is not None and region.level_number == 4 else None


async def chosen_village(
    engine: AsyncEngine, form: Mapping[str, str], lists: RegionLists | None = None
) -> RegionRecord | None:
    """The village a form's ``desa`` field names, or None when it names none (from ``lists`` when given)."""
    code = form.get("desa", "").strip()
    if not code:
        return None
    if lists is not None:
        village = (await kept_cascade(lists, engine, codes_of(code))).village
        return village if village is not None and village.code == code else None
    async with engine.connect() as conn:
        return await village_named(conn, code)
