"""What officers do with a grievance case: assign it, reply (to the citizen or internally), resolve it,
and escalate the undecided ones past their deadline.

Every action takes the case's ``version`` as read and fails with ``Conflict`` when it moved on; a
case outside the caller's scope is ``Missing`` (as if it did not exist); a case handled at a level
above the caller's, or already resolved, is ``GrievanceRefused``. Resolving UPHELD proposes the
household's removal through the verification chain (``core.verification.proposals.propose_removal``)
in the same transaction: if the chain refuses the proposal, the case is not resolved and the refusal
says why. Nothing is written unless the function returns the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import AuditItem, RequestInfo, record_many
from core.auth.principal import Role
from core.foundation.enums import (
    GrievanceEventKind,
    GrievanceReason,
    GrievanceStatus,
    HouseholdRemovalReason,
    RecordStatus,
)
from core.foundation.ids import ids
from core.foundation.refusals import Conflict, FieldError, Invalid, Missing
from core.grievances.cases import (
    ESCALATION,
    EVENTS,
    FINAL,
    GRIEVANCES,
    LEVEL_DEPTH,
    UNRESOLVED,
    GrievanceRecord,
    grievance_by_id,
    may_act,
    now,
    scope_depth,
)
from core.models import User
from core.regions.codes import region_within, within
from core.storage.records import HOUSEHOLDS
from core.verification import proposals

USERS = User.__table__
TEXT_LIMIT = 500
#: The roles a case may be assigned to: the officers of the verification chain.
HANDLERS = (
    Role.VILLAGE_OPERATOR.value,
    Role.DISTRICT_OFFICER.value,
    Role.REGENCY_OFFICE.value,
    Role.PROVINCE_OFFICE.value,
    Role.DATA_CENTRE.value,
)
#: The removal an upheld objection proposes, by its reason (``other`` needs the officer to say).
REMOVAL_FOR = {
    GrievanceReason.NO_LONGER_POOR: HouseholdRemovalReason.NO_LONGER_POOR,
    GrievanceReason.DECEASED: HouseholdRemovalReason.DECEASED,
    GrievanceReason.MOVED: HouseholdRemovalReason.MOVED,
    GrievanceReason.DUPLICATE: HouseholdRemovalReason.DUPLICATE,
    GrievanceReason.CIVIL_SERVANT: HouseholdRemovalReason.NO_LONGER_POOR,
}


class Outcome(StrEnum):
    UPHELD = "upheld"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class GrievanceRefused(proposals.Refused):
    """The action cannot be taken on the case as it stands (or the chain refused its proposal); nothing written."""


async def _event(
    conn: AsyncConnection,
    request: RequestInfo,
    grievance_id: int,
    kind: GrievanceEventKind,
    public: bool,
    text: str,
    level: str,
    at: datetime,
) -> None:
    principal = request.principal
    await conn.execute(
        insert(EVENTS).values(
            id=ids.next_id(),
            grievance_id=grievance_id,
            kind=kind.value,
            public=public,
            text=text,
            level=level,
            actor=principal.username[:64],
            role=principal.role[:32],
            at=at,
        )
    )


async def _actionable(conn: AsyncConnection, request: RequestInfo, grievance_id: int, version: int) -> Any:
    """The case, if the caller may act on it at this version; else the refusal."""
    scope = request.principal.scope
    case = await grievance_by_id(conn, grievance_id, scope)
    if case is None:
        return Missing("grievance", str(grievance_id))
    if case.status in FINAL:
        return GrievanceRefused(f"grievance {grievance_id} was already resolved ({case.status}); nothing was changed")
    if not may_act(scope, case.level):
        return GrievanceRefused(
            f"grievance {grievance_id} is handled at the {case.level} level now (escalated past its deadline); "
            "its officers act on it"
        )
    if case.version != version:
        return Conflict(case.version, "grievance")
    return case


async def _claim(conn: AsyncConnection, case: Any, at: datetime, **values: Any) -> Conflict | None:
    """Write ``values`` if the case is still at the version read; a Conflict when someone was first."""
    claimed = await conn.execute(
        update(GRIEVANCES)
        .where(GRIEVANCES.c.id == case.id, GRIEVANCES.c.version == case.version, GRIEVANCES.c.status.in_(UNRESOLVED))
        .values(updated_at=at, version=GRIEVANCES.c.version + 1, **values)
    )
    return None if claimed.rowcount == 1 else Conflict(case.version + 1, "grievance")


def _text_errors(field: str, text: str, required: bool) -> list[FieldError]:
    if required and not text.strip():
        return [FieldError(field, f"{field} is required: say it in a sentence")]
    if len(text) > TEXT_LIMIT:
        return [FieldError(field, f"{field} is longer than {TEXT_LIMIT} characters")]
    return []


async def assign(conn: AsyncConnection, request: RequestInfo, grievance_id: int, version: int, username: str) -> Any:
    """Give the case to an active officer whose region covers its village and lies within the caller's."""
    case = await _actionable(conn, request, grievance_id, version)
    if not isinstance(case, GrievanceRecord):
        return case
    user = (
        await conn.execute(
            select(USERS.c.username, USERS.c.role, USERS.c.region_code, USERS.c.active).where(
                USERS.c.username == username
            )
        )
    ).first()
    scope = request.principal.scope
    if user is None or not user.active or not region_within(user.region_code, scope):
        return Invalid([FieldError("assignee", f"no active officer {username[:64]!r} in your region")])
    if user.role not in HANDLERS or not region_within(case.village_code, user.region_code):
        return Invalid(
            [FieldError("assignee", f"{username[:64]} ({user.role}, region {user.region_code or 'national'}) does not "
                                    f"cover village {case.village_code}; choose an officer of that village or above")]
        )  # fmt: skip
    if scope_depth(user.region_code) > LEVEL_DEPTH[case.level]:
        return Invalid(
            [FieldError("assignee", f"the case is handled at the {case.level} level; {username[:64]} works below it")]
        )
    at = now()
    if refused := await _claim(conn, case, at, assignee=user.username, status=GrievanceStatus.ASSIGNED.value):
        return refused
    await _event(conn, request, case.id, GrievanceEventKind.ASSIGNED, True, "", case.level, at)
    return await grievance_by_id(conn, case.id, "")


async def reply(
    conn: AsyncConnection, request: RequestInfo, grievance_id: int, version: int, text: str, public: bool
) -> Any:
    """Add a reply: public (shown to the citizen on Lacak) or an internal note for officers."""
    if errors := _text_errors("text", text, required=True):
        return Invalid(errors)
    case = await _actionable(conn, request, grievance_id, version)
    if not isinstance(case, GrievanceRecord):
        return case
    at = now()
    if refused := await _claim(conn, case, at):
        return refused
    await _event(conn, request, case.id, GrievanceEventKind.REPLIED, public, text.strip(), case.level, at)
    return await grievance_by_id(conn, case.id, "")


async def _removal(
    conn: AsyncConnection, request: RequestInfo, case: Any, reason: HouseholdRemovalReason, note: str
) -> Any:
    """The removal proposal of the case's household, or why the chain refused it (as a GrievanceRefused)."""
    household = (
        await conn.execute(
            select(HOUSEHOLDS.c.version, HOUSEHOLDS.c.status).where(
                HOUSEHOLDS.c.id == case.household_id, within(HOUSEHOLDS.c.village_code, request.principal.scope)
            )
        )
    ).first()
    if household is None or household.status != RecordStatus.ACTIVE.value:
        return GrievanceRefused(
            f"household {case.household_id} is no longer active in your region; nothing to remove: resolve REJECTED "
            "saying so"
        )
    made = await proposals.propose_removal(conn, request, case.household_id, household.version, reason, note)
    if isinstance(made, Invalid):
        said = "; ".join(error.message for error in made.errors)
        return GrievanceRefused(f"the removal proposal was refused: {said}")
    if isinstance(made, (Missing, Conflict)):
        return GrievanceRefused(f"the removal proposal was refused: household {case.household_id} changed meanwhile")
    return made


async def resolve(
    conn: AsyncConnection,
    request: RequestInfo,
    grievance_id: int,
    version: int,
    outcome: Outcome,
    reason: str,
    removal_reason: HouseholdRemovalReason | None = None,
) -> Any:
    """Decide the case. UPHELD proposes the household's removal (``removal_reason``, or the one the
    objection's reason implies); REJECTED needs ``reason``. ``reason`` is public: Lacak shows it."""
    errors = _text_errors("reason", reason, required=outcome is Outcome.REJECTED)
    if outcome is Outcome.REJECTED and removal_reason is not None:
        errors.append(FieldError("removalReason", "removalReason is given only with outcome UPHELD"))
    if errors:
        return Invalid(errors)
    case = await _actionable(conn, request, grievance_id, version)
    if not isinstance(case, GrievanceRecord):
        return case
    values: dict[str, Any] = {}
    if outcome is Outcome.UPHELD:
        removal = removal_reason or REMOVAL_FOR.get(GrievanceReason(case.reason))
        if removal is None:
            return Invalid(
                [
                    FieldError(
                        "removalReason", "the objection's reason is 'other': say why the household leaves the DTKS"
                    )
                ]
            )
        note = f"sanggah (grievance {case.id}): {reason.strip()}"[: proposals.NOTE_LIMIT]
        made = await _removal(conn, request, case, removal, note)
        if not isinstance(made, proposals.ProposalRecord):
            return made
        values["proposal_id"] = made.id
    at = now()
    status = GrievanceStatus.UPHELD if outcome is Outcome.UPHELD else GrievanceStatus.REJECTED
    principal = request.principal
    refused = await _claim(
        conn,
        case,
        at,
        status=status.value,
        resolution=reason.strip(),
        resolved_by=principal.username[:64],
        resolved_at=at,
        **values,
    )
    if refused:
        return refused
    await _event(conn, request, case.id, GrievanceEventKind.RESOLVED, True, reason.strip(), case.level, at)
    return await grievance_by_id(conn, case.id, "")


@dataclass(frozen=True, slots=True)
class Escalated:
    """The cases moved a level up, by the level they left."""

    by_level: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_level.values())


async def escalate_overdue(
    conn: AsyncConnection, request: RequestInfo, deadline_days: int, at: datetime | None = None
) -> Escalated:
    """Move every undecided case of the caller's region whose deadline passed one level up (unassigned,
    ``ESCALATED``, a new deadline ``deadline_days`` later), each with a public event and an audit row.
    One UPDATE per level left; cases at the national level stay."""
    at = at or now()
    scope = request.principal.scope
    moved: dict[str, int] = {}
    for level, above in ESCALATION.items():
        rows = (
            await conn.execute(
                select(GRIEVANCES.c.id, GRIEVANCES.c.version).where(
                    within(GRIEVANCES.c.village_code, scope),
                    GRIEVANCES.c.level == level,
                    GRIEVANCES.c.status.in_(UNRESOLVED),
                    GRIEVANCES.c.deadline < at,
                )
            )
        ).all()
        if not rows:
            continue
        chosen = [row.id for row in rows]
        for start in range(0, len(chosen), 5_000):
            await conn.execute(
                update(GRIEVANCES)
                .where(GRIEVANCES.c.id.in_(chosen[start : start + 5_000]), GRIEVANCES.c.status.in_(UNRESOLVED))
                .values(
                    level=above,
                    status=GrievanceStatus.ESCALATED.value,
                    assignee=None,
                    deadline=at + timedelta(days=deadline_days),
                    updated_at=at,
                    version=GRIEVANCES.c.version + 1,
                )
            )
        principal = request.principal
        await conn.execute(
            insert(EVENTS),
            [
                {
                    "id": ids.next_id(),
                    "grievance_id": grievance_id,
                    "kind": GrievanceEventKind.ESCALATED.value,
                    "public": True,
                    "text": "",
                    "level": above,
                    "actor": principal.username[:64],
                    "role": principal.role[:32],
                    "at": at,
                }
                for grievance_id in chosen
            ],
        )
        await record_many(
            conn,
            request,
            [
                AuditItem(
                    "escalateGrievance", "grievance", row.id, before={"level": level, "version": row.version},
                    after={"level": above, "version": row.version + 1},
                )
                for row in rows
            ],
        )  # fmt: skip
        moved[level] = len(chosen)
    return Escalated(moved)
