"""GraphQL for KUBe: the group type, a household's group, a village's groups, and the group mutations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from core.plugin_api import (
    Context,
    FieldError,
    Items,
    Node,
    NotFound,
    ValidationError,
    VersionConflict,
    by_row_id,
    checked_code,
    enum_twin,
    fetched_by,
    global_id,
    global_ids,
    guarded,
    is_region_code,
    parse_id,
    region_within,
    require,
    run_write,
    sized,
)
from plugins.kube import groups
from plugins.kube.program import SLUG

#: Answered when a unique index finds a family joining two groups at the same moment.
RACE = FieldError("householdIds", "a household joined another KUBe group just now; read again")

#: How many groups ``kubeGroups`` answers at most, for the query cost estimate (core/schema/list_sizes.py).
VILLAGE_GROUPS = sized(Items(200, "active groups of one village: a large desa has a few thousand families"))


async def _groups_in_scope(conn: Any, group_ids: Any, scope: str) -> dict[int, groups.GroupRecord]:
    """Groups by id whose village lies in the caller's scope, for node(id)."""
    found = await groups.groups_by_id(conn, group_ids)
    return {key: group for key, group in found.items() if region_within(group.village_code, scope)}


# Registers the StrEnum itself as the GraphQL enum KubeGroupStatus.
strawberry.enum(groups.GroupStatus, name="KubeGroupStatus", description="Where a KUBe group stands.")


@fetched_by(by_row_id(_groups_in_scope))
@guarded("kube_group")
@strawberry.type(description="A KUBe joint-business group of 5-20 families of one village.")
class KubeGroup(Node):
    id: strawberry.ID = global_id("KubeGroup")
    village_code: str
    name: str
    business: str
    status: str = strawberry.field(
        deprecation_reason="The stored spelling: read groupStatus, an enum as the rest of the API spells it."
    )
    group_status: groups.GroupStatus = enum_twin(groups.GroupStatus, "status", "ACTIVE, or DISSOLVED with a reason.")
    version: int
    dissolve_reason: str | None
    created_at: datetime
    household_ids: list[strawberry.ID] = global_ids("Household", "household_ids")

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, groups.GroupRecord)


KubeGroupResult = Annotated[
    KubeGroup | ValidationError | VersionConflict | NotFound,
    strawberry.union("KubeGroupResult", description="The group as changed, or why nothing changed."),
]


def _settings(info: Info[Context, None]) -> Mapping[str, Any]:
    """KUBe's settings in force today, from the application's own registry."""
    return info.context.registry.program(SLUG).settings_on(date.today())


def _ids(values: list[strawberry.ID] | None, argument: str) -> list[int]:
    return [parse_id(value, argument, "Household") for value in values or []]


async def form_kube_group(
    info: Info[Context, None], village_code: str, name: str, business: str, household_ids: list[strawberry.ID]
) -> KubeGroupResult:
    members, settings = _ids(household_ids, "householdIds"), _settings(info)
    return await run_write(  # type: ignore[return-value]
        info,
        operation="formKubeGroup",
        obj="kube_group",
        act="write",
        change=lambda conn: groups.form_group(conn, village_code, name, business, members, settings),
        region=village_code if is_region_code(village_code) else None,
        audited="kube_group",
        race=RACE,
    )


async def change_kube_group(
    info: Info[Context, None],
    group_id: strawberry.ID,
    version: int,
    name: str | None = None,
    business: str | None = None,
    add_household_ids: list[strawberry.ID] | None = None,
    remove_household_ids: list[strawberry.ID] | None = None,
) -> KubeGroupResult:
    target = parse_id(group_id, "groupId", "KubeGroup")
    add, remove = _ids(add_household_ids, "addHouseholdIds"), _ids(remove_household_ids, "removeHouseholdIds")
    settings, scope = _settings(info), info.context.principal.scope
    return await run_write(  # type: ignore[return-value]
        info,
        operation="changeKubeGroup",
        obj="kube_group",
        act="write",
        change=lambda conn: groups.change_group(
            conn, target, version, name=name, business=business, add=add, remove=remove, settings=settings, scope=scope
        ),
        audited="kube_group",
        race=RACE,
    )


async def dissolve_kube_group(
    info: Info[Context, None], group_id: strawberry.ID, version: int, reason: str
) -> KubeGroupResult:
    target, scope = parse_id(group_id, "groupId", "KubeGroup"), info.context.principal.scope
    return await run_write(  # type: ignore[return-value]
        info,
        operation="dissolveKubeGroup",
        obj="kube_group",
        act="write",
        change=lambda conn: groups.dissolve_group(conn, target, version, reason, scope),
        audited="kube_group",
    )


async def _group_of(engine: Any, household_ids: list[int]) -> list[groups.GroupRecord | None]:
    async with engine.connect() as conn:
        membership = await groups.group_of_households(conn, household_ids)
        found = await groups.groups_by_id(conn, list(set(membership.values())))
    return [found.get(membership.get(household_id, -1)) for household_id in household_ids]


async def household_group(root: Any, info: Info[Context, None]) -> KubeGroup | None:
    engine = info.context.engine
    loader = info.context.loaders.named("kube.group", lambda keys: _group_of(engine, keys))
    return await loader.load(root.id)  # type: ignore[no-any-return]


async def village_groups(info: Info[Context, None], village_code: str) -> list[KubeGroup]:
    require(info.context, "kube_group", "read")
    code = checked_code(village_code, "villageCode")
    if not region_within(code, info.context.principal.scope):
        return []
    async with info.context.engine.connect() as conn:
        return await groups.groups_in_village(conn, code)  # type: ignore[return-value]
