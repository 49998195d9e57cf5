"""Per-request context: the engine, settings, the application's plugin registry, this request's DataLoaders
and what its answer disclosed.

Loaders are made anew for every request and never shared, so no cached row crosses requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from core.access.enforcer import AccessControl
from core.audit.log import RequestInfo
from core.auth.principal import PUBLIC, Principal
from core.foundation.settings import Settings
from core.households.queries import Include, households_by_id
from core.programs.queries import EnrollmentRecord, enrollments_by_household
from core.programs.registry import ProgramRegistry
from core.regions.queries import children_by_parent, regions_by_code
from core.schema.loader import SharedLoader
from core.storage.records import HouseholdRecord, RegionRecord
from core.welfare.explain import Explanation
from core.welfare.queries import ExplanationKey, WelfareRankRecord, explanations, ranks_by_household

if TYPE_CHECKING:
    from core.runtime.guards import Guards


@dataclass
class Loaders:
    engine: AsyncEngine
    scope: str = ""  # the caller's region scope: loaders never return rows outside it
    region: DataLoader[str, RegionRecord | None] = field(init=False)
    children: DataLoader[str, list[RegionRecord]] = field(init=False)
    household: DataLoader[int, HouseholdRecord | None] = field(init=False)
    enrollments: DataLoader[int, list[EnrollmentRecord]] = field(init=False)
    model_dir: Path = Path("models")
    welfare: DataLoader[int, WelfareRankRecord | None] = field(init=False)
    welfare_explanation: DataLoader[ExplanationKey, Explanation | None] = field(init=False)
    extra: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.region = SharedLoader(self._regions)
        self.children = SharedLoader(self._children)
        self.household = SharedLoader(self._households)
        self.enrollments = SharedLoader(self._enrollments)
        self.welfare = SharedLoader(self._welfare)
        self.welfare_explanation = SharedLoader(self._welfare_explanations)

    def named(self, name: str, load: Callable[[list[Any]], Awaitable[list[Any]]]) -> DataLoader[Any, Any]:
        """This request's loader called ``name`` (plugins prefix it with their slug), made on first use."""
        if name not in self.extra:
            self.extra[name] = SharedLoader(load)
        return self.extra[name]

    async def _enrollments(self, keys: list[int]) -> list[list[EnrollmentRecord]]:
        async with self.engine.connect() as conn:
            found = await enrollments_by_household(conn, keys)
        return [found[key] for key in keys]

    async def _welfare(self, keys: list[int]) -> list[WelfareRankRecord | None]:
        found = await ranks_by_household(self.engine, keys)
        return [found.get(key) for key in keys]

    async def _welfare_explanations(self, keys: list[ExplanationKey]) -> list[Any]:
        return await explanations(self.engine, self.model_dir, keys)  # an error instance fails its key only

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
            found = await households_by_id(conn, keys, Include(), scope=self.scope)
        return [found.get(key) for key in keys]


@dataclass
class Disclosure:
    """The records of this request's answer whose selected fields are personal data, noted while the answer is
    built and summed up once by the read audit (``core.schema.disclosure``): per kind of record, its field
    labels, the attributes naming its household and person, and the records."""

    noted: list[tuple[tuple[str, ...], str | None, str | None, list[Any]]] = field(default_factory=list)


@dataclass
class Context:
    engine: AsyncEngine
    settings: Settings
    loaders: Loaders
    access: AccessControl
    #: The programs and plugin contributions of the application serving this request.
    registry: ProgramRegistry
    principal: Principal = PUBLIC
    request_info: RequestInfo = field(default_factory=lambda: RequestInfo(PUBLIC))
    request: Any = None
    response: Any = None
    guards: Guards | None = None  # the application's limits (login throttle, aggregated refusals)
    disclosure: Disclosure = field(default_factory=Disclosure)
    #: The application's read replica (``core.storage.replica.ReplicaRouter``), if any: ``core.schema.routing``
    #: points ``engine`` and the loaders at it for a query.
    replicas: Any = None

    def read_from(self, engine: AsyncEngine) -> None:
        """Answer this operation's reads from ``engine`` (a replica's, whose writes still reach the primary)."""
        self.engine = engine
        self.loaders = Loaders(engine, scope=self.principal.scope, model_dir=self.settings.model_dir)

    def callers(self) -> list[str]:
        """Who this request's caller is, for read-your-writes: their address, and their account when they have one."""
        found = [f"address:{self.request_info.client}"]
        if not self.principal.is_public:
            found.append(f"{self.principal.via}:{self.principal.username}")
        return found

    @classmethod
    def create(
        cls,
        engine: AsyncEngine,
        settings: Settings,
        access: AccessControl,
        principal: Principal = PUBLIC,
        request_info: RequestInfo | None = None,
        request: Any = None,
        response: Any = None,
        guards: Guards | None = None,
        *,
        registry: ProgramRegistry,
    ) -> Context:
        return cls(
            engine=engine,
            settings=settings,
            loaders=Loaders(engine, scope=principal.scope, model_dir=settings.model_dir),
            access=access,
            registry=registry,
            principal=principal,
            request_info=request_info or RequestInfo(principal),
            request=request,
            response=response,
            guards=guards,
        )
