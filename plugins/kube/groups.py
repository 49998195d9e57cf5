"""Forming, changing and dissolving KUBe groups: 5-20 families of one village, each in one group at most."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.plugin_api import (
    Conflict,
    FieldError,
    Include,
    Invalid,
    Missing,
    RecordStatus,
    existing_codes,
    households_by_id,
    is_region_code,
    level_number,
    line_problem,
    next_id,
    region_within,
)
from plugins.kube.tables import GROUPS, MEMBERSHIPS


class GroupStatus(StrEnum):
    """Where a KUBe group stands (stored lowercase)."""

    ACTIVE = "active"
    DISSOLVED = "dissolved"


ACTIVE, DISSOLVED = (status.value for status in GroupStatus)


@dataclass(slots=True)
class GroupRecord:
    id: int
    village_code: str
    name: str
    business: str
    status: str
    version: int
    dissolve_reason: str | None
    created_at: datetime
    updated_at: datetime
    household_ids: list[int] = field(default_factory=list)


async def groups_by_id(conn: AsyncConnection, group_ids: Sequence[int]) -> dict[int, GroupRecord]:
    if not group_ids:
        return {}
    rows = await conn.execute(select(GROUPS).where(GROUPS.c.id.in_(list(set(group_ids)))))
    groups = {row.id: GroupRecord(*row) for row in rows}
    if groups:
        members = await conn.execute(
            select(MEMBERSHIPS.c.group_id, MEMBERSHIPS.c.household_id)
            .where(MEMBERSHIPS.c.group_id.in_(list(groups)), MEMBERSHIPS.c.active == 1)
            .order_by(MEMBERSHIPS.c.id)
        )
        for group_id, household_id in members:
            groups[group_id].household_ids.append(household_id)
    return groups


async def groups_in_village(conn: AsyncConnection, village_code: str) -> list[GroupRecord]:
    rows = await conn.execute(
        select(GROUPS.c.id)
        .where(GROUPS.c.village_code == village_code, GROUPS.c.status == ACTIVE)
        .order_by(GROUPS.c.id)
    )
    found = await groups_by_id(conn, list(rows.scalars()))
    return list(found.values())


async def group_of_households(conn: AsyncConnection, household_ids: Sequence[int]) -> dict[int, int]:
    """The active group of each household that has one."""
    rows = await conn.execute(
        select(MEMBERSHIPS.c.household_id, MEMBERSHIPS.c.group_id).where(
            MEMBERSHIPS.c.household_id.in_(list(household_ids)), MEMBERSHIPS.c.active == 1
        )
    )
    return dict(rows.all())


def _text_errors(name: str | None, business: str | None) -> list[FieldError]:
    errors = []
    for label, value in (("name", name), ("business", business)):
        if value is None:
            continue
        problem = line_problem(value)
        if problem:
            errors.append(FieldError(label, f"{label} {problem}"))
        elif not value.strip():
            errors.append(FieldError(label, f"{label} is required"))
        elif len(value) > 120:
            errors.append(FieldError(label, f"{label} is longer than 120 characters"))
    return errors


async def _household_errors(
    conn: AsyncConnection, village_code: str, household_ids: Sequence[int], group_id: int | None, field_name: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(set(household_ids)) != len(household_ids):
        errors.append(FieldError(field_name, "a household is listed twice"))
    wanted = list(set(household_ids))
    found = await households_by_id(conn, wanted, Include(members=False, region=False))
    active = RecordStatus.ACTIVE.value
    villages = {key: household.village_code for key, household in found.items() if household.status == active}
    for household_id in wanted:
        if household_id not in villages:
            errors.append(FieldError(field_name, f"household {household_id} does not exist or is not active"))
        elif villages[household_id] != village_code:
            errors.append(
                FieldError(
                    field_name,
                    f"household {household_id} lives in village {villages[household_id]}, not {village_code}",
                )
            )
    for household_id, other in (await group_of_households(conn, wanted)).items():
        if other != group_id:
            errors.append(FieldError(field_name, f"household {household_id} already belongs to KUBe group {other}"))
    return errors


def _size_errors(count: int, settings: Mapping[str, Any]) -> list[FieldError]:
    low, high = settings["min_families"], settings["max_families"]
    if not low <= count <= high:
        return [FieldError("householdIds", f"a KUBe group has {low} to {high} families, not {count}")]
    return []


async def form_group(
    conn: AsyncConnection,
    village_code: str,
    name: str,
    business: str,
    household_ids: Sequence[int],
    settings: Mapping[str, Any],
) -> GroupRecord | Invalid:
    """Form a group in one village; nothing is written unless every rule holds."""
    errors = _text_errors(name, business)
    if not is_region_code(village_code) or level_number(village_code) != 4:
        errors.append(FieldError("villageCode", f"'{village_code[:20]}' is not a village code such as 32.01.01.2001"))
    elif not await existing_codes(conn, [village_code]):
        errors.append(FieldError("villageCode", f"village {village_code} does not exist"))
    else:
        errors.extend(await _household_errors(conn, village_code, household_ids, None, "householdIds"))
    errors.extend(_size_errors(len(set(household_ids)), settings))
    if errors:
        return Invalid(errors)
    now = datetime.now(UTC)
    group_id = next_id()
    await conn.execute(
        insert(GROUPS).values(
            id=group_id,
            village_code=village_code,
            name=name.strip(),
            business=business.strip(),
            status=ACTIVE,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    await conn.execute(
        insert(MEMBERSHIPS),
        [
            {"id": next_id(), "group_id": group_id, "household_id": h, "active": 1, "joined_at": now}
            for h in dict.fromkeys(household_ids)
        ],
    )
    return (await groups_by_id(conn, [group_id]))[group_id]


async def _current(conn: AsyncConnection, group_id: int, version: int, scope: str) -> GroupRecord | Conflict | Missing:
    group = (await groups_by_id(conn, [group_id])).get(group_id)
    if group is None or group.status != ACTIVE or not region_within(group.village_code, scope):
        return Missing("KUBe group", str(group_id))
    if group.version != version:
        return Conflict(group.version, "KUBe group")
    return group


async def _claim(conn: AsyncConnection, group: GroupRecord, now: datetime, **values: Any) -> bool:
    result = await conn.execute(
        update(GROUPS)
        .where(GROUPS.c.id == group.id, GROUPS.c.version == group.version, GROUPS.c.status == ACTIVE)
        .values(version=GROUPS.c.version + 1, updated_at=now, **values)
    )
    return result.rowcount == 1


async def change_group(
    conn: AsyncConnection,
    group_id: int,
    version: int,
    *,
    name: str | None,
    business: str | None,
    add: Sequence[int],
    remove: Sequence[int],
    settings: Mapping[str, Any],
    scope: str = "",
) -> GroupRecord | Invalid | Conflict | Missing:
    """Rename a group or change its families; the result must still be a valid group."""
    group = await _current(conn, group_id, version, scope)
    if not isinstance(group, GroupRecord):
        return group
    errors = _text_errors(name, business)
    if not (name or business or add or remove):
        errors.append(FieldError("changes", "no change was given"))
    not_members = [h for h in remove if h not in group.household_ids]
    if not_members:
        errors.append(FieldError("removeHouseholdIds", f"households {not_members} are not in this group"))
    already = [h for h in add if h in group.household_ids]
    if already:
        errors.append(FieldError("addHouseholdIds", f"households {already} are already in this group"))
    else:
        errors.extend(await _household_errors(conn, group.village_code, add, group.id, "addHouseholdIds"))
    remaining = (set(group.household_ids) - set(remove)) | set(add)
    errors.extend(_size_errors(len(remaining), settings))
    if errors:
        return Invalid(errors)
    now = datetime.now(UTC)
    values = {k: v.strip() for k, v in (("name", name), ("business", business)) if v is not None}
    if not await _claim(conn, group, now, **values):
        current = await _current(conn, group_id, version, scope)
        return current if not isinstance(current, GroupRecord) else Conflict(current.version, "KUBe group")
    if remove:
        await conn.execute(
            update(MEMBERSHIPS)
            .where(
                MEMBERSHIPS.c.group_id == group.id,
                MEMBERSHIPS.c.household_id.in_(list(remove)),
                MEMBERSHIPS.c.active == 1,
            )
            .values(active=0, left_at=now)
        )
    if add:
        await conn.execute(
            insert(MEMBERSHIPS),
            [
                {"id": next_id(), "group_id": group.id, "household_id": h, "active": 1, "joined_at": now}
                for h in dict.fromkeys(add)
            ],
        )
    return (await groups_by_id(conn, [group.id]))[group.id]


async def dissolve_group(
    conn: AsyncConnection, group_id: int, version: int, reason: str, scope: str = ""
) -> GroupRecord | Invalid | Conflict | Missing:
    """Dissolve a group: its families are free to join another."""
    group = await _current(conn, group_id, version, scope)
    if not isinstance(group, GroupRecord):
        return group
    if not reason.strip():
        return Invalid([FieldError("reason", "say why the group is dissolved")])
    now = datetime.now(UTC)
    if not await _claim(conn, group, now, status=DISSOLVED, dissolve_reason=reason.strip()[:200]):
        current = await _current(conn, group_id, version, scope)
        return current if not isinstance(current, GroupRecord) else Conflict(current.version, "KUBe group")
    await conn.execute(
        update(MEMBERSHIPS)
        .where(MEMBERSHIPS.c.group_id == group.id, MEMBERSHIPS.c.active == 1)
        .values(active=0, left_at=now)
    )
    return (await groups_by_id(conn, [group.id]))[group.id]
