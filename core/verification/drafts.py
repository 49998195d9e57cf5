"""Drafts: the household as a proposal would leave it, checked with the registry's own rules.

A draft is validated when the proposal is made (and again when it is revised), with errors that
name the input field. Determination later re-checks only what can change meanwhile (the
household's version, a KK or NIK taken since), set-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import MemberStatus, ProposalStatus, RemovalReason
from core.foundation.ids import ids
from core.households.data import (
    HOUSEHOLD_COLUMNS,
    MEMBER_COLUMNS,
    HouseholdData,
    MemberData,
    household_values,
    member_values,
)
from core.households.rules import (
    FieldError,
    codes_to_check,
    composition_errors,
    full_household_errors,
    household_errors,
    member_errors,
)
from core.households.service import (
    LOCATION_FIELDS,
    Invalid,
    as_household_data,
    as_member_data,
    destination_refusal,
    kk_taken,
    niks_active_elsewhere,
    point_errors,
)
from core.models import PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS, Proposal
from core.regions.codes import district_of_nik
from core.regions.queries import existing_codes
from core.storage.records import HouseholdRecord

PROPOSALS = Proposal.__table__
OPEN = (ProposalStatus.PENDING.value, ProposalStatus.RETURNED.value)


@dataclass(frozen=True, slots=True)
class MemberChange:
    """Changes to one existing member (keys are MemberData field names)."""

    member_id: int
    changes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MemberRemoval:
    member_id: int
    reason: RemovalReason


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """What a change proposal asks for: household variables, member changes, new and removed members."""

    household: Mapping[str, Any] = field(default_factory=dict)
    member_changes: Sequence[MemberChange] = ()
    new_members: Sequence[MemberData] = ()
    removed_members: Sequence[MemberRemoval] = ()


@dataclass(slots=True)
class ProposedMember:
    member_id: int
    is_new: bool
    status: str
    data: MemberData
    origin: str = ""  # the input path its values came from, e.g. "newMembers.0."; "" if unchanged


@dataclass(slots=True)
class Draft:
    """The household and all its members as the proposal would leave them."""

    household_id: int
    household: HouseholdData
    members: list[ProposedMember]

    def active(self) -> list[MemberData]:
        return [m.data for m in self.members if m.status == MemberStatus.ACTIVE.value]


def _today() -> Any:
    return datetime.now(UTC).date()


async def open_claims(
    conn: AsyncConnection, kk_numbers: Iterable[str], niks: Iterable[str], household_id: int
) -> tuple[set[str], set[str]]:
    """KK numbers and NIKs that open proposals of *other* households already propose."""
    kk_list, nik_list = sorted(set(kk_numbers)), sorted(set(niks))
    others = and_(PROPOSALS.c.status.in_(OPEN), PROPOSALS.c.household_id != household_id)
    kks: set[str] = set()
    if kk_list:
        query = (
            select(PROPOSED_HOUSEHOLDS.c.kk_number)
            .join(PROPOSALS, PROPOSALS.c.id == PROPOSED_HOUSEHOLDS.c.proposal_id)
            .where(others, PROPOSED_HOUSEHOLDS.c.kk_number.in_(kk_list))
        )
        kks = set((await conn.execute(query)).scalars())
    taken: set[str] = set()
    if nik_list:
        query = (
            select(PROPOSED_MEMBERS.c.nik)
            .join(PROPOSALS, PROPOSALS.c.id == PROPOSED_MEMBERS.c.proposal_id)
            .where(
                others,
                PROPOSED_MEMBERS.c.status == MemberStatus.ACTIVE.value,
                PROPOSED_MEMBERS.c.nik.in_(nik_list),
            )
        )
        taken = set((await conn.execute(query)).scalars())
    return kks, taken


async def _identity_errors(
    conn: AsyncConnection,
    household_id: int,
    kk_number: str | None,
    niks: Sequence[tuple[str, str]],
    registry_household: int | None,
) -> list[FieldError]:
    """A KK or NIK (field, value) already active in another household or claimed by another open proposal."""
    errors: list[FieldError] = []
    kk_claims, nik_claims = await open_claims(
        conn, [kk_number] if kk_number else [], [n for _f, n in niks], household_id
    )
    if kk_number is not None:
        if await kk_taken(conn, kk_number, registry_household):
            errors.append(FieldError("kkNumber", f"KK number {kk_number} is already registered to an active household"))
        elif kk_number in kk_claims:
            errors.append(FieldError("kkNumber", f"KK number {kk_number} is already proposed by another open proposal"))
    active = await niks_active_elsewhere(conn, [n for _f, n in niks], registry_household)
    for field_name, nik in niks:
        if nik in active:
            errors.append(FieldError(field_name, f"NIK {nik} is already a member of another active household"))
        elif nik in nik_claims:
            errors.append(FieldError(field_name, f"NIK {nik} is already proposed by another open proposal"))
    return errors


async def draft_new_household(
    conn: AsyncConnection, data: HouseholdData, scope: str, household_id: int
) -> Draft | Invalid:
    """A new household with its members, if every rule holds and its village lies in ``scope``."""
    if refused := destination_refusal(data.village_code, scope):
        return refused
    known = await existing_codes(conn, codes_to_check(data))
    errors = full_household_errors(data, known.__contains__, _today())
    if not errors:
        errors = await point_errors(conn, data, None)
    if not errors:
        niks = [(f"members.{i}.nik", m.nik) for i, m in enumerate(data.members)]
        errors = await _identity_errors(conn, household_id, data.kk_number, niks, None)
    if errors:
        return Invalid(errors)
    members = [
        ProposedMember(ids.next_id(), True, MemberStatus.ACTIVE.value, m, f"members.{i}.")
        for i, m in enumerate(data.members)
    ]
    return Draft(household_id, data, members)


def _member_ids_errors(current: HouseholdRecord, request: ChangeRequest) -> list[FieldError]:
    present = {m.id for m in current.members}
    errors: list[FieldError] = []
    touched: set[int] = set()
    pairs = [(f"memberChanges.{i}.memberId", c.member_id) for i, c in enumerate(request.member_changes)]
    pairs += [(f"removedMembers.{i}.memberId", r.member_id) for i, r in enumerate(request.removed_members)]
    for field_name, member_id in pairs:
        if member_id not in present:
            errors.append(FieldError(field_name, f"no active member {member_id} in household {current.id}"))
        elif member_id in touched:
            errors.append(FieldError(field_name, f"member {member_id} is named twice; change or remove it once"))
        touched.add(member_id)
    return errors


def _changed_members(current: HouseholdRecord, request: ChangeRequest) -> list[ProposedMember]:
    changes = {c.member_id: (i, c.changes) for i, c in enumerate(request.member_changes)}
    removals = {r.member_id: r.reason for r in request.removed_members}
    members = []
    for record in current.members:
        index, values = changes.get(record.id, (None, {}))
        data = replace(as_member_data(record), **values)
        status = MemberStatus(removals[record.id].value).value if record.id in removals else MemberStatus.ACTIVE.value
        origin = f"memberChanges.{index}.changes." if index is not None else ""
        members.append(ProposedMember(record.id, False, status, data, origin))
    members += [
        ProposedMember(ids.next_id(), True, MemberStatus.ACTIVE.value, m, f"newMembers.{i}.")
        for i, m in enumerate(request.new_members)
    ]
    return members


async def draft_change(
    conn: AsyncConnection, current: HouseholdRecord, request: ChangeRequest, scope: str
) -> Draft | Invalid:
    """The household after ``request``, if every rule holds; ``current`` is the active household with its members."""
    unknown = (set(request.household) - set(HOUSEHOLD_COLUMNS)) | {
        k for c in request.member_changes for k in c.changes if k not in MEMBER_COLUMNS
    }
    if unknown:
        raise ValueError(f"not household or member fields: {sorted(unknown)}")
    household = replace(as_household_data(current), **request.household)
    if refused := destination_refusal(household.village_code, scope, current.id, "household.villageCode"):
        return refused
    errors = _member_ids_errors(current, request)
    if errors:
        return Invalid(errors)
    members = _changed_members(current, request)
    draft = Draft(current.id, household, members)
    draft.household.members = draft.active()
    niks = {m.nik for m in draft.active()}
    codes = {household.village_code, district_of_nik(household.kk_number)}
    codes.update(district_of_nik(n) for n in niks if len(n) >= 6)
    known = (await existing_codes(conn, codes)).__contains__
    household_found = household_errors(household, known)
    errors += [FieldError(f"household.{e.field}", e.message) for e in household_found]
    if LOCATION_FIELDS & set(request.household) and not household_found:
        errors += await point_errors(conn, household, current.id, "household.")
    for member in members:
        if member.origin:
            errors += member_errors(member.data, known, _today(), prefix=member.origin)
    errors += [FieldError("members", e.message) for e in composition_errors(draft.active())]
    if not errors and not _changes_anything(current, draft):
        errors.append(FieldError("changes", "the proposal changes nothing; give at least one new value"))
    if errors:
        return Invalid(errors)
    previous = {m.id: m.nik for m in current.members}
    fresh = [
        (f"{m.origin}nik", m.data.nik)
        for m in members
        if m.status == MemberStatus.ACTIVE.value and (m.is_new or previous.get(m.member_id) != m.data.nik)
    ]
    kk = household.kk_number if household.kk_number != current.kk_number else None
    errors = await _identity_errors(conn, current.id, kk, fresh, current.id)
    errors = [FieldError(f"household.{e.field}", e.message) if e.field == "kkNumber" else e for e in errors]
    return Invalid(errors) if errors else draft


def _changes_anything(current: HouseholdRecord, draft: Draft) -> bool:
    if household_values(as_household_data(current)) != household_values(draft.household):
        return True
    before = {m.id: member_values(as_member_data(m)) for m in current.members}
    return any(
        m.is_new or m.status != MemberStatus.ACTIVE.value or member_values(m.data) != before[m.member_id]
        for m in draft.members
    )


async def store_draft(conn: AsyncConnection, proposal_id: int, draft: Draft) -> None:
    """Write the proposed household and the members it adds, changes or removes (replacing earlier rows)."""
    await conn.execute(PROPOSED_MEMBERS.delete().where(PROPOSED_MEMBERS.c.proposal_id == proposal_id))
    await conn.execute(PROPOSED_HOUSEHOLDS.delete().where(PROPOSED_HOUSEHOLDS.c.proposal_id == proposal_id))
    await conn.execute(
        insert(PROPOSED_HOUSEHOLDS).values(
            proposal_id=proposal_id, household_id=draft.household_id, **household_values(draft.household)
        )
    )
    rows = [
        {
            "id": ids.next_id(),
            "proposal_id": proposal_id,
            "member_id": m.member_id,
            "is_new": m.is_new,
            "status": m.status,
            **member_values(m.data),
        }
        for m in draft.members
        if m.is_new or m.origin or m.status != MemberStatus.ACTIVE.value  # members left as they are: no row
    ]
    if rows:
        await conn.execute(insert(PROPOSED_MEMBERS), rows)
