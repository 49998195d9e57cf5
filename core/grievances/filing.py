"""Filing a grievance from SIKS-Dataku: the recipient a citizen names, folding a repeated objection, the case.

The recipient is found as Cek Bansos finds people (``core.public.lookup``): an active member of an
active household of the village whose name equals the one typed (case and spacing aside), and
whose household currently receives aid — enrolled by an approved cycle for a period that has not
ended. Nothing about them is returned beyond what Cek Bansos shows (the masked name).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo, record
from core.foundation.enums import (
    GrievanceEventKind,
    GrievanceReason,
    GrievanceStatus,
    MemberStatus,
    RecordStatus,
    VerificationLevel,
)
from core.foundation.ids import ids
from core.grievances.cases import EVENTS, GRIEVANCES, UNRESOLVED, grievance_by_id
from core.public.lookup import ENROLLMENTS, received
from core.public.names import mask_name, normalise_name, search_key
from core.storage.records import HOUSEHOLDS, MEMBERS


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person of the village who receives aid, as far as filing needs (never shown but masked)."""

    member_id: int
    household_id: int
    masked_name: str


async def recipients_named(
    conn: AsyncConnection, village_code: str, full_name: str, rt: str | None, today: date
) -> list[Recipient]:
    """The recipients of the village with this name (and RT, when given), one per household."""
    receiving = exists().where(
        ENROLLMENTS.c.household_id == HOUSEHOLDS.c.id, received(), ENROLLMENTS.c.period_end > today
    )
    query = (
        select(MEMBERS.c.id, MEMBERS.c.name, MEMBERS.c.household_id, HOUSEHOLDS.c.rt)
        .join(HOUSEHOLDS, HOUSEHOLDS.c.id == MEMBERS.c.household_id)
        .where(
            HOUSEHOLDS.c.village_code == village_code,
            HOUSEHOLDS.c.status == RecordStatus.ACTIVE.value,
            MEMBERS.c.status == MemberStatus.ACTIVE.value,
            func.upper(func.replace(MEMBERS.c.name, " ", "")) == search_key(full_name),
            receiving,
        )
        .order_by(MEMBERS.c.id)
    )
    wanted = normalise_name(full_name)
    found: dict[int, Recipient] = {}
    for member_id, name, household_id, household_rt in await conn.execute(query):
        if normalise_name(name) != wanted:
            continue
        if rt is not None and household_rt.lstrip("0") != rt.lstrip("0"):
            continue
        found.setdefault(household_id, Recipient(member_id, household_id, mask_name(name)))
    return list(found.values())


def reporter_key(secret: str, address: str) -> str:
    """A keyed hash of the reporter's address: folds a repeated objection, keeps no address."""
    return hmac.new(secret.encode(), f"sanggah\x1f{address}".encode(), hashlib.sha256).hexdigest()[:32]


async def open_case_of(conn: AsyncConnection, household_id: int, reason: GrievanceReason, reporter: str) -> int | None:
    """An unresolved case about this household, for this reason, from this reporter's address."""
    query = select(GRIEVANCES.c.id).where(
        GRIEVANCES.c.household_id == household_id,
        GRIEVANCES.c.reason == reason.value,
        GRIEVANCES.c.reporter_key == reporter,
        GRIEVANCES.c.status.in_(UNRESOLVED),
    )
    return (await conn.execute(query.order_by(GRIEVANCES.c.id).limit(1))).scalar()


@dataclass(frozen=True, slots=True)
class Objection:
    """What a citizen objects to, checked: the recipient, why, in their words, and how to call back."""

    village_code: str
    recipient: Recipient
    reason: GrievanceReason
    text: str
    phone: str | None


async def file_grievance(
    conn: AsyncConnection,
    request: RequestInfo,
    objection: Objection,
    reporter: str,
    deadline_days: int,
    at: datetime,
) -> Any:
    """File the case at the village level (deadline ``at`` + ``deadline_days``), its first event, and audit it."""
    grievance_id = ids.next_id()
    principal = request.principal
    await conn.execute(
        insert(GRIEVANCES).values(
            id=grievance_id,
            village_code=objection.village_code,
            household_id=objection.recipient.household_id,
            member_id=objection.recipient.member_id,
            reason=objection.reason.value,
            text=objection.text,
            reporter_phone=objection.phone,
            reporter_key=reporter,
            status=GrievanceStatus.OPEN.value,
            level=VerificationLevel.VILLAGE.value,
            assignee=None,
            deadline=at + timedelta(days=deadline_days),
            created_by=principal.username[:64],
            created_at=at,
            updated_at=at,
            version=1,
        )
    )
    await conn.execute(
        insert(EVENTS).values(
            id=ids.next_id(),
            grievance_id=grievance_id,
            kind=GrievanceEventKind.FILED.value,
            public=True,
            text="",
            level=VerificationLevel.VILLAGE.value,
            actor=principal.username[:64],
            role=principal.role[:32],
            at=at,
        )
    )
    made = await grievance_by_id(conn, grievance_id, "")
    await record(conn, request, operation="fileGrievance", entity="grievance", entity_id=grievance_id, after=made)
    return made
