"""Per-request context: the engine, settings and this request's DataLoaders.

Loaders are made anew for every request and never shared, so no cached row crosses requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from core.households.queries import Include, households_by_id
from core.programs.queries import EnrollmentRecord, enrollments_by_household
from core.records import HouseholdRecord, RegionRecord
from core.regions.queries import children_by_parent, regions_by_code
from core.settings import Settings


@dataclass
class Loaders:
    engine: AsyncEngine
    region: DataLoader[str, RegionRecord | None] = field(init=False)
    children: DataLoader[str, list[RegionRecord]] = field(init=False)
    household: DataLoader[int, HouseholdRecord | None] = field(init=False)
    enrollments: DataLoader[int, list[EnrollmentRecord]] = field(init=False)
    extra: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.region = DataLoader(self._regions)
        self.children = DataLoader(self._children)
        self.household = DataLoader(self._households)
        self.enrollments = DataLoader(self._enrollments)

    def named(self, name: str, load: Callable[[list[Any]], Awaitable[list[Any]]]) -> DataLoader[Any, Any]:
        """This request's loader called ``name`` (plugins prefix it with their slug), made on first use."""
        if name not in self.extra:
            self.extra[name] = DataLoader(load)
        return self.extra[name]

    async def _enrollments(self, keys: list[int]) -> list[list[EnrollmentRecord]]:
        async with self.engine.connect() as conn:
            found = await enrollments_by_household(conn, keys)
        return [found[key] for key in keys]

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
