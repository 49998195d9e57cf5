"""GraphQL: the regional hierarchy."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from core.regions.codes import LEVELS
from core.regions.queries import list_regions
from core.schema.access import require
from core.schema.arguments import checked_code
from core.schema.authorization import guarded
from core.schema.context import Context
from core.schema.enums import RegionLevel
from core.schema.global_ids import global_id
from core.schema.node import Node, fetched_by
from core.storage.records import RegionRecord


async def _regions_by_code(info: Info[Context, None], codes: list[str]) -> dict[str, RegionRecord]:
    """Regions for node()/nodes(): the hierarchy is readable by everyone who may read regions, in any scope."""
    found = [await region for region in [info.context.loaders.region.load(code) for code in codes]]
    return {code: record for code, record in zip(codes, found, strict=True) if record is not None}


@fetched_by(_regions_by_code)
@guarded("region")
@strawberry.type(description="A province, regency/city, district (kecamatan) or village (desa/kelurahan).")
class Region(Node):
    id: strawberry.ID = global_id("Region", "code")
    code: str = strawberry.field(description="Dotted Kemendagri code, e.g. 32.01.01.2001. Never a BPS code.")
    name: str

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, RegionRecord)

    level: RegionLevel

    @strawberry.field(description="The region one level up; null for a province.")
    async def parent(self: RegionRecord, info: Info[Context, None]) -> Region | None:  # type: ignore[misc]
        if self.parent_code is None:
            return None
        return await info.context.loaders.region.load(self.parent_code)  # type: ignore[return-value]

    @strawberry.field(description="The regions one level down, by code.")
    async def children(self: RegionRecord, info: Info[Context, None]) -> list[Region]:  # type: ignore[misc]
        return await info.context.loaders.children.load(self.code)  # type: ignore[return-value]


@strawberry.type
class RegionQuery:
    @strawberry.field(
        description="The direct children of parentCode; with level, every region at that level (below parentCode "
        "when given; villages need a parentCode); with neither, the 38 provinces."
    )
    async def regions(
        self, info: Info[Context, None], parent_code: str | None = None, level: RegionLevel | None = None
    ) -> list[Region]:
        require(info.context, "region", "read")
        parent = checked_code(parent_code, "parentCode") if parent_code is not None else None
        level_number = LEVELS.index(level) + 1 if level is not None else None
        if level_number == 4 and parent is None:
            raise GraphQLError("regions: listing villages needs a parentCode (a province, regency or district)")
        async with info.context.engine.connect() as conn:
            return await list_regions(conn, parent_code=parent, level=level_number)  # type: ignore[return-value]

    @strawberry.field(description="One region by its dotted Kemendagri code.")
    async def region(self, info: Info[Context, None], code: str) -> Region | None:
        require(info.context, "region", "read")
        return await info.context.loaders.region.load(checked_code(code, "code"))  # type: ignore[return-value]
