"""GraphQL for KUBe: the group type, a household's group, a village's groups, and the group mutations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy.exc import IntegrityError
from strawberry.types import Info

from core.access.enforcer import region_within
from core.audit.log import record
from core.db import write_transaction
from core.households.service import Conflict, Invalid, Missing
from core.programs.eligibility import current_period
from core.programs.periods import PeriodKind
from core.regions.codes import is_region_code
from core.schema.access import Forbidden, allowed, audit_denied, require
from core.schema.arguments import checked_code, parse_id
from core.schema.context import Context
from core.schema.errors import NotFound, ValidationError, VersionConflict
from core.schema.list_sizes import Items, sized
from plugins.kube import groups
from plugins.kube.program import load_settings

#: How many groups ``kubeGroups`` answers at most, for the query cost estimate (core/schema/list_sizes.py).
VILLAGE_GROUPS = sized(Items(200, "active groups of one village: a large desa has a few thousand families"))


@strawberry.type(description="A KUBe joint-business group of 5-20 families of one village.")
class KubeGroup:
    id: strawberry.ID
    village_code: str
    name: str
    business: str
    status: str
    version: int
    dissolve_reason: str | None
    created_at: datetime
    household_ids: list[strawberry.ID]

    @classmethod
    def is_type_of(cls, obj: object, _info: object) -> bool:
        return isinstance(obj, groups.GroupRecord)


KubeGroupResult = Annotated[
    KubeGroup | ValidationError | VersionConflict | NotFound,
    strawberry.union("KubeGroupResult", description="The group as changed, or why nothing changed."),
]


def _settings() -> dict[str, Any]:
    year = current_period(PeriodKind.YEAR, date.today()).year
    table = load_settings()
    return table[max(y for y in table if y <= year)]


def _ids(values: list[strawberry.ID] | None, argument: str) -> list[int]:
    return [parse_id(value, argument) for value in values or []]


async def _change(info: Info[Context, None], operation: str, work: Any, region: str | None = None) -> object:
    """Check the role (in ``region`` when known), run ``work(conn, scope)`` in one audited write transaction."""
    context = info.context
    if not allowed(context, "kube_group", "write", region):
        await audit_denied(context, operation, "kube_group", "-", f"role {context.principal.role} may not write groups")
        raise Forbidden(context.principal, "kube_group", "write")
    try:
        async with write_transaction(context.engine) as conn:
            outcome = await work(conn, context.principal.scope)
            if isinstance(outcome, Invalid | Conflict | Missing):
                raise _Refused(outcome)
            await record(
                conn,
                context.request_info,
                operation=operation,
                entity="kube_group",
                entity_id=outcome.id,
                after=outcome,
            )
    except _Refused as refused:
        outcome = refused.outcome
        if isinstance(outcome, Invalid):
            return ValidationError.of(outcome)
        if isinstance(outcome, Conflict):
            return VersionConflict.of(outcome)
        return NotFound.of(outcome)
    except IntegrityError:
        return ValidationError.single("householdIds", "a household joined another KUBe group just now; read again")
    return outcome


class _Refused(Exception):
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome


async def form_kube_group(
    info: Info[Context, None], village_code: str, name: str, business: str, household_ids: list[strawberry.ID]
) -> KubeGroupResult:
    members = _ids(household_ids, "householdIds")
    region = village_code if is_region_code(village_code) else None
    return await _change(  # type: ignore[return-value]
        info,
        "formKubeGroup",
        lambda conn, _scope: groups.form_group(conn, village_code, name, business, members, _settings()),
        region,
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
    target = parse_id(group_id, "groupId")
    add, remove = _ids(add_household_ids, "addHouseholdIds"), _ids(remove_household_ids, "removeHouseholdIds")
    return await _change(  # type: ignore[return-value]
        info,
        "changeKubeGroup",
        lambda conn, scope: groups.change_group(
            conn,
            target,
            version,
            name=name,
            business=business,
            add=add,
            remove=remove,
            settings=_settings(),
            scope=scope,
        ),
    )


async def dissolve_kube_group(
    info: Info[Context, None], group_id: strawberry.ID, version: int, reason: str
) -> KubeGroupResult:
    target = parse_id(group_id, "groupId")
    return await _change(  # type: ignore[return-value]
        info, "dissolveKubeGroup", lambda conn, scope: groups.dissolve_group(conn, target, version, reason, scope)
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
