"""Lacak: a ticket code shows where its proposal is in the verification chain, and nothing personal.

Shown: the kind of proposal, its status and stage in the catalogs' words, the day it was made and
last moved, and each step's day, action and level. Not shown: names, NIK, KK, addresses, and the
officers' notes and reasons (free text that may name people); the village tells the family those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.dataku.i18n import N_, Message
from core.dataku.usul import TICKET_ALPHABET, TICKET_LENGTH, TICKETS
from core.foundation.enums import ProposalStatus, VerificationLevel
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
NOT_FOUND = Message(N_("No usul has that ticket code. Check the 10 letters and digits of your ticket."))
BAD_CODE = Message(N_("A ticket code is 10 letters and digits, such as ABCDE23456."))


@dataclass(frozen=True, slots=True)
class Step:
    day: date
    action: str  # a message id
    level: str  # a message id


@dataclass(frozen=True, slots=True)
class Tracked:
    code: str
    status: Message
    made_on: date
    moved_on: date
    steps: list[Step]
    closed: bool


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


def well_formed(code: str) -> str | None:
    """The code as stored, when it is one that could be a ticket's; else None."""
    code = normalised(code)
    return code if _CODE.fullmatch(code) else None


async def track(engine: AsyncEngine, code: str) -> Tracked | Message:
    """What the ticket ``code`` may show, or why nothing is shown."""
    code = well_formed(code) or ""
    if not code:
        return BAD_CODE
    async with engine.connect() as conn:
        query = select(PROPOSALS.c.id, PROPOSALS.c.status, PROPOSALS.c.stage, PROPOSALS.c.created_at).join(
            TICKETS, TICKETS.c.proposal_id == PROPOSALS.c.id
        )
        row = (await conn.execute(query.where(TICKETS.c.code == code))).first()
        if row is None:
            return NOT_FOUND
        steps = (
            await conn.execute(
                select(STEPS.c.action, STEPS.c.level, STEPS.c.to_stage, STEPS.c.at)
                .where(STEPS.c.proposal_id == row.id)
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
