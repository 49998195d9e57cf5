"""The rules for changing households and members: validate, check concurrency, write.

Every function runs inside the caller's write transaction (``core.storage.db.write_transaction``) and
writes nothing unless it returns a record; a change it makes writes its DCI event
(``core.dci.events``) in that transaction. The household's ``version`` is the concurrency
token for the household and its members: each change names the version it was based on and
bumps it, so a stale change is refused instead of overwriting a newer one.

Where a household may be put is decided here for every write: ``destination_refusal`` (the
village lies in the caller's region) and ``point_errors`` (its GPS point is plausible for that
village). Registering and updating here, and proposals, their revisions and field visits online
or offline (``core.verification.drafts``) call both; determination applies only drafts checked
that way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.dci.events import Event, EventKind, record_event
from core.foundation.enums import (
    Disability,
    Education,
    MemberStatus,
    Occupation,
    RecordStatus,
    Relationship,
    RemovalReason,
    Sex,
)
from core.foundation.ids import ids
from core.foundation.refusals import Conflict, Invalid, Missing, OutsideScope
from core.households.data import (
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
    HouseholdData,
    MemberData,
    household_values,
    member_values,
)
from core.households.queries import Include, household_by_id
from core.households.rules import (
    FieldError,
    codes_to_check,
    composition_errors,
    full_household_errors,
    household_errors,
    member_errors,
)
from core.regions.codes import district_of_nik, is_region_code, region_within
from core.regions.queries import existing_codes
from core.storage.records import HOUSEHOLDS, MEMBERS, HouseholdRecord, MemberRecord
from core.verification.gps import gps_errors

Outcome = HouseholdRecord | Invalid | Conflict | Missing


def _now() -> datetime:
    return datetime.now(UTC)


def _today() -> date:
    return _now().date()


async def _region_lookup(conn: AsyncConnection, codes: set[str]) -> set[str]:
    return await existing_codes(conn, codes)


async def niks_active_elsewhere(conn: AsyncConnection, niks: Sequence[str], household_id: int | None) -> set[str]:
    if not niks:
        return set()
    query = select(MEMBERS.c.nik).where(MEMBERS.c.nik.in_(list(niks)), MEMBERS.c.status == MemberStatus.ACTIVE.value)
    if household_id is not None:
        query = query.where(MEMBERS.c.household_id != household_id)
    return set((await conn.execute(query)).scalars())


async def kk_taken(conn: AsyncConnection, kk_number: str, household_id: int | None) -> bool:
    query = select(HOUSEHOLDS.c.id).where(
        HOUSEHOLDS.c.kk_number == kk_number, HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value
    )
    if household_id is not None:
        query = query.where(HOUSEHOLDS.c.id != household_id)
    return (await conn.execute(query.limit(1))).first() is not None


def destination_refusal(
    village_code: str, scope: str, household_id: int | None = None, field: str = "villageCode"
) -> OutsideScope | None:
    """The refusal of a write that would put a household in ``village_code`` outside ``scope``, or None.

    Every write that registers a household or sets its village asks this, before any other rule:
    the source of a change is already confined to the scope by reading it there, the destination
    is confined here. A malformed code is left to the village-code rule (``household_errors``).
    """
    if not is_region_code(village_code) or region_within(village_code, scope):
        return None
    message = f"village {village_code} is outside your region {scope}; register or move households only within it"
    return OutsideScope([FieldError(field, message)], village_code, household_id)


LOCATION_FIELDS = frozenset({"village_code", "latitude", "longitude"})


async def point_errors(
    conn: AsyncConnection, data: HouseholdData, household_id: int | None, prefix: str = ""
) -> list[FieldError]:
    """Why the household's GPS point is not a plausible place in its village (the field-visit check).

    Judged against the village's other households only, so a wrong point can be corrected; call it
    once the village code and the point have passed ``household_errors``.
    """
    if data.latitude is None or data.longitude is None:
        return []
    found = await gps_errors(conn, data.village_code, household_id, data.latitude, data.longitude, own_point=False)
    return [FieldError(f"{prefix}{e.field}", e.message) for e in found]


def _location_valid(errors: Sequence[FieldError]) -> bool:
    """No error on the village code or the point: the GPS check can run."""
    return not any(e.field in {"villageCode", "latitude", "longitude"} for e in errors)


def _nik_errors(members: Sequence[MemberData | MemberRecord], taken: set[str], prefix: str) -> list[FieldError]:
    return [
        FieldError(f"{prefix}{index}.nik", f"NIK {member.nik} is already a member of another active household")
        for index, member in enumerate(members)
        if member.nik in taken
    ]


async def register_household(conn: AsyncConnection, data: HouseholdData, scope: str = "") -> HouseholdRecord | Invalid:
    """Register a new household with its members (exactly one of them the head) in a village of ``scope``."""
    if refused := destination_refusal(data.village_code, scope):
        return refused
    known = await _region_lookup(conn, codes_to_check(data))
    errors = full_household_errors(data, known.__contains__, _today())
    if _location_valid(errors):
        errors.extend(await point_errors(conn, data, None))
    if not any(e.field == "kkNumber" for e in errors) and await kk_taken(conn, data.kk_number, None):
        errors.append(
            FieldError("kkNumber", f"KK number {data.kk_number} is already registered to an active household")
        )
    taken = await niks_active_elsewhere(conn, [m.nik for m in data.members], None)
    errors.extend(_nik_errors(data.members, taken, "members."))
    if errors:
        return Invalid(errors)
    now = _now()
    household_id = ids.next_id()
    await conn.execute(
        insert(HOUSEHOLDS).values(
            id=household_id,
            status=RecordStatus.ACTIVE.value,
            version=1,
            created_at=now,
            updated_at=now,
            **household_values(data),
        )
    )
    await conn.execute(
        insert(MEMBERS),
        [
            {
                "id": ids.next_id(),
                "household_id": household_id,
                "status": MemberStatus.ACTIVE.value,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                **member_values(member),
            }
            for member in data.members
        ],
    )
    await record_event(
        conn,
        Event(EventKind.HOUSEHOLD_REGISTERED, household_id, identifier=data.kk_number, village_code=data.village_code),
    )
    return await _reload(conn, household_id)


def _changed(record: HouseholdRecord, moved_from: str | None = None) -> Event:
    """The event of a change to ``record`` (as it is after the change)."""
    left = moved_from if moved_from is not None and moved_from != record.village_code else None
    return Event(
        EventKind.HOUSEHOLD_CHANGED,
        record.id,
        identifier=record.kk_number,
        village_code=record.village_code,
        moved_from=left,
    )


async def _reload(conn: AsyncConnection, household_id: int) -> HouseholdRecord:
    record = await household_by_id(conn, household_id, Include())
    assert record is not None
    return record


async def _current(
    conn: AsyncConnection, household_id: int, version: int, scope: str
) -> HouseholdRecord | Conflict | Missing:
    record = await household_by_id(conn, household_id, Include(members=True, region=False), scope=scope)
    if record is None or record.status != RecordStatus.ACTIVE.value:
        return Missing("household", str(household_id))
    if record.version != version:
        return Conflict(record.version)
    return record


async def _claim(conn: AsyncConnection, household_id: int, version: int, now: datetime, **values: Any) -> bool:
    """Bump the household's version if it is still ``version``; False when someone else got there first."""
    result = await conn.execute(
        update(HOUSEHOLDS)
        .where(HOUSEHOLDS.c.id == household_id, HOUSEHOLDS.c.version == version)
        .values(version=HOUSEHOLDS.c.version + 1, updated_at=now, **values)
    )
    return result.rowcount == 1


def as_household_data(record: HouseholdRecord) -> HouseholdData:
    return HouseholdData(**{name: getattr(record, name) for name in HOUSEHOLD_COLUMNS})


def as_member_data(record: MemberRecord) -> MemberData:
    return MemberData(
        nik=record.nik,
        name=record.name,
        sex=Sex(record.sex),
        birth_date=record.birth_date,
        relationship=Relationship(record.relationship),
        education=Education(record.education),
        in_school=record.in_school,
        occupation=Occupation(record.occupation),
        disability=Disability(record.disability),
        pregnant=record.pregnant,
    )


async def update_household(
    conn: AsyncConnection, household_id: int, version: int, changes: Mapping[str, Any], scope: str = ""
) -> Outcome:
    """Change a household's own variables (``changes`` keys are HouseholdData field names).

    The household is found in ``scope`` and may only be moved to a village of ``scope``.
    """
    unknown = set(changes) - set(HOUSEHOLD_COLUMNS)
    if unknown:
        raise ValueError(f"not household fields: {sorted(unknown)}")
    current = await _current(conn, household_id, version, scope)
    if not isinstance(current, HouseholdRecord):
        return current
    proposed = replace(as_household_data(current), **changes)
    if refused := destination_refusal(proposed.village_code, scope, household_id):
        return refused
    codes = {proposed.village_code, district_of_nik(proposed.kk_number)}
    errors = household_errors(proposed, (await _region_lookup(conn, codes)).__contains__)
    if LOCATION_FIELDS & set(changes) and _location_valid(errors):
        errors.extend(await point_errors(conn, proposed, household_id))
    if (
        "kk_number" in changes
        and not any(e.field == "kkNumber" for e in errors)
        and await kk_taken(conn, proposed.kk_number, household_id)
    ):
        errors.append(
            FieldError("kkNumber", f"KK number {proposed.kk_number} is already registered to an active household")
        )
    if errors:
        return Invalid(errors)
    if not await _claim(conn, household_id, version, _now(), **{k: getattr(proposed, k) for k in changes}):
        return await _conflict_or_missing(conn, household_id)
    record = await _reload(conn, household_id)
    await record_event(conn, _changed(record, moved_from=current.village_code))
    return record


async def _conflict_or_missing(conn: AsyncConnection, household_id: int) -> Conflict | Missing:
    row = (
        await conn.execute(select(HOUSEHOLDS.c.version, HOUSEHOLDS.c.status).where(HOUSEHOLDS.c.id == household_id))
    ).first()
    if row is None or row.status != RecordStatus.ACTIVE.value:
        return Missing("household", str(household_id))
    return Conflict(row.version)


async def add_member(
    conn: AsyncConnection, household_id: int, version: int, member: MemberData, scope: str = ""
) -> Outcome:
    """Add a person to a household."""
    current = await _current(conn, household_id, version, scope)
    if not isinstance(current, HouseholdRecord):
        return current
    known = await _region_lookup(conn, {district_of_nik(member.nik)} if len(member.nik) >= 6 else set())
    errors = member_errors(member, known.__contains__, _today(), prefix="member.")
    errors.extend(e for e in composition_errors([*current.members, member]) if e.field == "members")
    if any(m.nik == member.nik for m in current.members):
        errors.append(FieldError("member.nik", f"NIK {member.nik} is already a member of this household"))
    elif await niks_active_elsewhere(conn, [member.nik], household_id):
        errors.append(FieldError("member.nik", f"NIK {member.nik} is already a member of another active household"))
    if errors:
        return Invalid(errors)
    now = _now()
    if not await _claim(conn, household_id, version, now):
        return await _conflict_or_missing(conn, household_id)
    await conn.execute(
        insert(MEMBERS).values(
            id=ids.next_id(),
            household_id=household_id,
            status=MemberStatus.ACTIVE.value,
            version=1,
            created_at=now,
            updated_at=now,
            **member_values(member),
        )
    )
    return await _reloaded_with_event(conn, household_id)


async def _reloaded_with_event(conn: AsyncConnection, household_id: int, *deaths: MemberRecord) -> HouseholdRecord:
    """The household as changed, its change event written (with one event per member who died)."""
    record = await _reload(conn, household_id)
    died = [
        Event(EventKind.MEMBER_DECEASED, household_id, m.id, identifier=m.nik, village_code=record.village_code)
        for m in deaths
    ]
    await record_event(conn, _changed(record), *died)
    return record


def _find_member(current: HouseholdRecord, member_id: int) -> MemberRecord | None:
    return next((m for m in current.members if m.id == member_id), None)


async def update_member(
    conn: AsyncConnection,
    household_id: int,
    version: int,
    member_id: int,
    changes: Mapping[str, Any],
    scope: str = "",
) -> Outcome:
    """Change one member's data (``changes`` keys are MemberData field names)."""
    unknown = set(changes) - set(MEMBER_COLUMNS)
    if unknown:
        raise ValueError(f"not member fields: {sorted(unknown)}")
    current = await _current(conn, household_id, version, scope)
    if not isinstance(current, HouseholdRecord):
        return current
    target = _find_member(current, member_id)
    if target is None:
        return Missing("member", str(member_id))
    proposed = replace(as_member_data(target), **changes)
    known = await _region_lookup(conn, {district_of_nik(proposed.nik)} if len(proposed.nik) >= 6 else set())
    errors = member_errors(proposed, known.__contains__, _today(), prefix="member.")
    others = [m for m in current.members if m.id != member_id]
    errors.extend(e for e in composition_errors([*others, proposed]) if e.field == "members")
    if proposed.nik != target.nik:
        if any(m.nik == proposed.nik for m in others):
            errors.append(FieldError("member.nik", f"NIK {proposed.nik} is already a member of this household"))
        elif await niks_active_elsewhere(conn, [proposed.nik], household_id):
            errors.append(
                FieldError("member.nik", f"NIK {proposed.nik} is already a member of another active household")
            )
    if errors:
        return Invalid(errors)
    now = _now()
    if not await _claim(conn, household_id, version, now):
        return await _conflict_or_missing(conn, household_id)
    await conn.execute(
        update(MEMBERS)
        .where(MEMBERS.c.id == member_id)
        .values(version=MEMBERS.c.version + 1, updated_at=now, **{k: getattr(proposed, k) for k in changes})
    )
    return await _reloaded_with_event(conn, household_id)


async def remove_member(
    conn: AsyncConnection,
    household_id: int,
    version: int,
    member_id: int,
    reason: RemovalReason,
    new_head_id: int | None = None,
    scope: str = "",
) -> Outcome:
    """Take a member out of the household for ``reason``; removing the head names the new head."""
    current = await _current(conn, household_id, version, scope)
    if not isinstance(current, HouseholdRecord):
        return current
    target = _find_member(current, member_id)
    if target is None:
        return Missing("member", str(member_id))
    errors: list[FieldError] = []
    others = [m for m in current.members if m.id != member_id]
    new_head = next((m for m in others if m.id == new_head_id), None) if new_head_id is not None else None
    if not others:
        errors.append(FieldError("memberId", "the last member cannot be removed; a household needs a head"))
    elif target.relationship == Relationship.HEAD and new_head is None:
        errors.append(
            FieldError(
                "newHeadId",
                "the head is being removed: give newHeadId, another active member of this household, as the new head",
            )
        )
    elif target.relationship != Relationship.HEAD and new_head_id is not None:
        errors.append(FieldError("newHeadId", "newHeadId is only given when the head is removed"))
    if errors:
        return Invalid(errors)
    now = _now()
    if not await _claim(conn, household_id, version, now):
        return await _conflict_or_missing(conn, household_id)
    await conn.execute(
        update(MEMBERS)
        .where(MEMBERS.c.id == member_id)
        .values(status=MemberStatus(reason.value).value, version=MEMBERS.c.version + 1, updated_at=now)
    )
    if new_head is not None:
        await conn.execute(
            update(MEMBERS)
            .where(MEMBERS.c.id == new_head.id)
            .values(relationship=Relationship.HEAD.value, version=MEMBERS.c.version + 1, updated_at=now)
        )
    deaths = [target] if reason is RemovalReason.DECEASED else []
    return await _reloaded_with_event(conn, household_id, *deaths)
