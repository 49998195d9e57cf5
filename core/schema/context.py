"""Per-request context: the engine, settings and this request's DataLoaders.

Loaders are made anew for every request and never shared, so no cached row crosses requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from core.households.queries import Include, households_by_id
from core.records import HouseholdRecord, RegionRecord
from core.regions.queries import children_by_parent, regions_by_code
from core.settings import Settings


@dataclass
class Loaders:
    engine: AsyncEngine
    region: DataLoader[str, RegionRecord | None] = field(init=False)
    children: DataLoader[str, list[RegionRecord]] = field(init=False)
    household: DataLoader[int, HouseholdRecord | None] = field(init=False)

    def __post_init__(self) -> None:
        self.region = DataLoader(self._regions)
        self.children = DataLoader(self._children)
        self.household = DataLoader(self._households)

    async def _regions(self, codes: list[str]) -> list[RegionRecord | None]:
        async with self.engine.connect() as conn:
            found = await regions_by_code(conn, codes)
        return [found.get(code) for code in codes]

    async def _children(self, parents: list[str]) -> list[list[RegionRecord]]:
        async with self.engine.connect() as conn:
            found = await children_by_parent(conn, parents)
        return [found[code] for code in parents]

    async def _households(self, keys: list[int]) -> list[HouseholdRecord | None]:
        async with self.engine.connect() as conn:
            found = await households_by_id(conn, keys, Include())
        return [found.get(key) for key in keys]


@dataclass
class Context:
    engine: AsyncEngine
    settings: Settings
    loaders: Loaders
    request: Any = None
    response: Any = None

    @classmethod
    def create(cls, engine: AsyncEngine, settings: Settings, request: Any = None, response: Any = None) -> Context:
        return cls(engine=engine, settings=settings, loaders=Loaders(engine), request=request, response=response)
