"""Choosing a village without JavaScript: province → regency → district → village, one GET step a level.

The query string names the codes chosen so far (``provinsi``, ``kabupaten``, ``kecamatan``, ``desa``);
the longest chain in which each code exists and lies directly under the one before is kept, the rest
dropped (so changing the province forgets the regency of another province), and the choices of the
next level are listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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


async def cascade(conn: AsyncConnection, asked: Mapping[str, str]) -> Cascade:
    """The levels to show for the codes ``asked`` (query parameters), with the options of each."""
    result = Cascade()
    parent: str | None = None
    for param, label in LEVELS:
        options = await list_regions(conn, parent_code=parent) if parent else await list_regions(conn, level=1)
        code = asked.get(param, "").strip()
        chosen = code if code and any(r.code == code for r in options) else None
        if code and chosen is None:
            result.dropped = True
        result.levels.append(Level(param, label, options, chosen))
        if chosen is None:
            break
        parent = chosen
    return result


async def village_named(conn: AsyncConnection, code: str) -> RegionRecord | None:
    """The village (level 4) of ``code``, or None."""
    region = (await regions_by_code(conn, [code])).get(code)
    return region if region is not None and region.level_number == 4 else None


async def chosen_village(engine: AsyncEngine, form: Mapping[str, str]) -> RegionRecord | None:
    """The village a form's ``desa`` field names, or None when it names none."""
    code = form.get("desa", "").strip()
    if not code:
        return None
    async with engine.connect() as conn:
        return await village_named(conn, code)
