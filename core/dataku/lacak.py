"""Lacak: a ticket code shows where its usul is in the verification chain, or where its sanggah (grievance)
stands, and nothing personal.

Shown for an usul: its status and stage in the catalogs' words, the day it was made and last moved,
and each step's day, action and level. Not shown: names, NIK, KK, addresses, and the officers' notes
and reasons (free text that may name people); the village tells the family those. For a sanggah:
its status and level, each public event (filed, taken up, replied, escalated, decided) with its day,
the officers' public replies and the public reason of the decision; never the officers' names, their
internal notes, nor who the objection is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.i18n import N_, Message
from core.dataku.usul import TICKET_ALPHABET, TICKET_LENGTH, TICKETS
from core.foundation.enums import GrievanceEventKind, GrievanceStatus, ProposalStatus, VerificationLevel
from core.grievances.cases import GRIEVANCES, events_of
from core.models import ProposalStep
from core.verification.drafts import PROPOSALS

STEPS = ProposalStep.__table__
_CODE = re.compile(f"[{TICKET_ALPHABET}]{{{TICKET_LENGTH}}}")

LEVEL_NAMES = {
    VerificationLevel.VILLAGE.value: N_("village"),
    VerificationLevel.DISTRICT.value: N_("district"),
    VerificationLevel.REGENCY.value: N_("regency or city"),
    VerificationLevel.PROVINCE.value: N_("province"),
    VerificationLevel.NATIONAL.value: N_("national"),
}
ACTION_NAMES = {
    "propose": N_("proposed"),
    "approve": N_("approved and sent on"),
    "return": N_("returned for correction"),
    "revise": N_("corrected and sent again"),
    "reject": N_("rejected"),
    "determine": N_("determined into the registry (DTKS)"),
    "conflict": N_("not applied: the data had changed"),
}
EVENT_NAMES = {
    GrievanceEventKind.FILED.value: N_("objection received"),
    GrievanceEventKind.ASSIGNED.value: N_("taken up by an officer"),
    GrievanceEventKind.REPLIED.value: N_("the officers replied"),
    GrievanceEventKind.ESCALATED.value: N_("escalated: not decided in time"),
    GrievanceEventKind.RESOLVED.value: N_("decided"),
}
NOT_FOUND = Message(N_("No usul or objection has that ticket code. Check the 10 letters and digits of your ticket."))
BAD_CODE = Message(N_("A ticket code is 10 letters and digits, such as ABCDE23456."))


@dataclass(frozen=True, slots=True)
class Step:
    day: date
    action: str  # a message id
    level: str  # a message id


@dataclass(frozen=True, slots=True)
class Reply:
    day: date
    text: str  # written by the officers for the citizen


@dataclass(frozen=True, slots=True)
class Tracked:
    code: str
    status: Message
    made_on: date
    moved_on: date
    steps: list[Step]
    closed: bool
    objection: bool = False  # a sanggah (grievance), not an usul
    replies: tuple[Reply, ...] = ()
    resolution: str | None = None  # the public reason of a decided sanggah


def normalised(code: str) -> str:
    """The code as stored: upper case, without the spaces or dashes a citizen may type."""
    return re.sub(r"[\s\-]", "", code).upper()


def _status(status: str, stage: str) -> Message:
    level = {"level": Message(LEVEL_NAMES.get(stage, stage))}
    if status == ProposalStatus.PENDING.value:
        return Message(N_("Being verified: waiting at the %(level)s level."), level)
    if status == ProposalStatus.RETURNED.value:
        return Message(N_("Returned to the %(level)s level to be corrected."), level)
    if status == ProposalStatus.REJECTED.value:
        return Message(N_("Not accepted: rejected at the %(level)s level. Ask the village office why."), level)
    if status == ProposalStatus.DETERMINED.value:
        return Message(N_("Accepted: the family is in the registry (DTKS)."))
    return Message(N_("Not applied: the family's data changed meanwhile; ask the village office."))


def _objection_status(status: str, level: str) -> Message:
    at = {"level": Message(LEVEL_NAMES.get(level, level))}
    if status == GrievanceStatus.OPEN.value:
        return Message(N_("Objection received: waiting at the %(level)s level."), at)
    if status == GrievanceStatus.ASSIGNED.value:
        return Message(N_("Being handled by an officer at the %(level)s level."), at)
    if status == GrievanceStatus.ESCALATED.value:
        return Message(N_("Escalated: not decided in time, now at the %(level)s level."), at)
    if status == GrievanceStatus.UPHELD.value:
        return Message(N_("Decided: the objection holds; removing the family from the registry is being verified."))
    return Message(N_("Decided: the objection was not upheld; the family keeps its aid."))


async def _track_objection(engine: AsyncEngine, code: str, grievance_id: int) -> Tracked:
    async with engine.connect() as conn:
        case = (
            await conn.execute(
                select(GRIEVANCES.c.status, GRIEVANCES.c.level, GRIEVANCES.c.resolution, GRIEVANCES.c.created_at).where(
                    GRIEVANCES.c.id == grievance_id
                )
            )
        ).one()
        events = (await events_of(conn, [grievance_id], public_only=True))[grievance_id]
    steps = [Step(e.at.date(), EVENT_NAMES.get(e.kind, N_("moved")), LEVEL_NAMES.get(e.level, e.level)) for e in events]
    replies = tuple(Reply(e.at.date(), e.text) for e in events if e.kind == GrievanceEventKind.REPLIED.value)
    closed = case.status in (GrievanceStatus.UPHELD.value, GrievanceStatus.REJECTED.value)
    return Tracked(
        code,
        _objection_status(case.status, case.level),
        case.created_at.date(),
        events[-1].at.date() if events else case.created_at.date(),
        steps,
        closed,
        objection=True,
        replies=replies,
        resolution=(case.resolution or None) if closed else None,
    )


def well_formed(code: str) -> str | None:
    """The code as stored, when it is one that could be a ticket's; else None."""
    code = normalised(code)
    return code if _CODE.fullmatch(code) else None


async def track(engine: AsyncEngine, code: str) -> Tracked | Message:
    """What the ticket ``code`` may show (an usul's or a sanggah's), or why nothing is shown."""
    code = well_formed(code) or ""
    if not code:
        return BAD_CODE
    async with engine.connect() as conn:
        ticket = (
            await conn.execute(select(TICKETS.c.proposal_id, TICKETS.c.grievance_id).where(TICKETS.c.code == code))
        ).first()
    if ticket is None:
        return NOT_FOUND
    if ticket.grievance_id is not None:
        return await _track_objection(engine, code, ticket.grievance_id)
    return await _track_usul(engine, code, ticket.proposal_id)


async def _track_usul(engine: AsyncEngine, code: str, proposal_id: int) -> Tracked:
    async with engine.connect() as conn:
        query = select(PROPOSALS.c.status, PROPOSALS.c.stage, PROPOSALS.c.created_at)
        row = (await conn.execute(query.where(PROPOSALS.c.id == proposal_id))).one()
        steps = (
            await conn.execute(
                select(STEPS.c.action, STEPS.c.level, STEPS.c.to_stage, STEPS.c.at)
                .where(STEPS.c.proposal_id == proposal_id)
                .order_by(STEPS.c.at, STEPS.c.id)
            )
        ).all()
    shown = [
        Step(step.at.date(), ACTION_NAMES.get(step.action, N_("moved")), LEVEL_NAMES.get(step.level, step.level))
        for step in steps
    ]
    stage = row.stage
    if row.status == ProposalStatus.REJECTED.value and steps:
        stage = steps[-1].level
    moved = steps[-1].at.date() if steps else row.created_at.date()
    return Tracked(
        code,
        _status(row.status, stage),
        row.created_at.date(),
        moved,
        shown,
        row.status not in (ProposalStatus.PENDING.value, ProposalStatus.RETURNED.value),
    )
