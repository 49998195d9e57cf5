"""The steps of the chain: approve (forward one level up), return (one level down), reject.

A level acts only on proposals waiting at its own level (``stage``) and inside its region; no
level can be skipped, and a step already taken cannot be taken again: each step is a
compare-and-set on the proposal's stage and status, so two officers acting at once cannot both
succeed. Proposals outside the caller's region answer as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.audit.log import RequestInfo
from core.foundation.enums import ProposalStatus, VerificationLevel
from core.foundation.refusals import FieldError, Invalid, Missing
from core.regions.codes import within
from core.verification.drafts import OPEN, PROPOSALS
from core.verification.levels import above, below, level_of_role
from core.verification.proposals import (
    CITIZEN_PROPOSER,
    NOTE_LIMIT,
    STEPS,
    ProposalRecord,
    Refused,
    add_steps,
    now,
)

MAX_BATCH = 1000


def why_not(proposal: Any, level: VerificationLevel) -> str | None:
    """Why ``level`` cannot act on ``proposal`` now, or None if it can."""
    if proposal.status not in OPEN:
        return f"proposal {proposal.id} is {proposal.status}; no further step can be taken"
    stage = VerificationLevel(proposal.stage)
    if stage is level:
        return None
    order = list(VerificationLevel)
    if order.index(stage) > order.index(level):
        return f"proposal {proposal.id} was already passed on by the {level.value} level; it now waits at {stage.value}"
    return f"proposal {proposal.id} waits at the {stage.value} level; the {level.value} level acts after it"


def _acting_level(request: RequestInfo) -> VerificationLevel | Refused:
    level = level_of_role(request.principal.role)
    if level is None:
        return Refused(f"role {request.principal.role} takes no step in verification and validation")
    return level


def _reason_errors(reason: str, name: str) -> list[FieldError]:
    if not reason.strip():
        return [FieldError(name, f"a {name} is required: say what must be corrected or why")]
    if len(reason) > NOTE_LIMIT:
        return [FieldError(name, f"{name} is longer than {NOTE_LIMIT} characters")]
    return []


async def _visible(conn: AsyncConnection, proposal_ids: Sequence[int], scope: str) -> dict[int, Any]:
    query = select(PROPOSALS.c.id, PROPOSALS.c.stage, PROPOSALS.c.status, PROPOSALS.c.created_by).where(
        PROPOSALS.c.id.in_(list(set(proposal_ids)))
    )
    if scope:
        query = query.where(within(PROPOSALS.c.village_code, scope))
    return {row.id: row for row in await conn.execute(query)}


async def _move(
    conn: AsyncConnection, proposal_ids: list[int], level: VerificationLevel, stage: str, status: str
) -> set[int]:
    """Move the proposals still waiting at ``level``; returns those moved (the rest changed meanwhile)."""
    if not proposal_ids:
        return set()
    result = await conn.execute(
        update(PROPOSALS)
        .where(PROPOSALS.c.id.in_(proposal_ids), PROPOSALS.c.stage == level.value, PROPOSALS.c.status.in_(OPEN))
        .values(stage=stage, status=status, updated_at=now(), version=PROPOSALS.c.version + 1)
        .returning(PROPOSALS.c.id)
    )
    return set(result.scalars())


async def _records(conn: AsyncConnection, proposal_ids: set[int]) -> dict[int, Any]:
    if not proposal_ids:
        return {}
    rows = await conn.execute(select(PROPOSALS).where(PROPOSALS.c.id.in_(list(proposal_ids))))
    return {row.id: ProposalRecord(*row) for row in rows}


async def _unsurveyed_citizen_proposals(conn: AsyncConnection, rows: dict[int, Any]) -> set[int]:
    """Citizens' proposals (SIKS-Dataku usul: the house not asked, placeholders stored) that the village
    has not yet revised: they may not be forwarded, so placeholder house data never reaches the DTKS."""
    citizens = [row.id for row in rows.values() if row.created_by == CITIZEN_PROPOSER]
    if not citizens:
        return set()
    revised = await conn.execute(
        select(STEPS.c.proposal_id).where(STEPS.c.proposal_id.in_(citizens), STEPS.c.action == "revise")
    )
    return set(citizens) - set(revised.scalars())


async def approve(
    conn: AsyncConnection, request: RequestInfo, proposal_ids: Sequence[int], note: str = ""
) -> list[ProposalRecord | Refused | Missing] | Invalid:
    """Forward each proposal one level up; one answer per id, in order. The national level determines
    instead (``core.verification.determination``)."""
    if len(proposal_ids) > MAX_BATCH:
        return Invalid([FieldError("ids", f"at most {MAX_BATCH} proposals at once; {len(proposal_ids)} were given")])
    if len(note) > NOTE_LIMIT:
        return Invalid([FieldError("note", f"note is longer than {NOTE_LIMIT} characters")])
    level = _acting_level(request)
    seen = await _visible(conn, proposal_ids, request.principal.scope)
    unsurveyed = await _unsurveyed_citizen_proposals(conn, seen)
    answers: dict[int, ProposalRecord | Refused | Missing] = {}
    ready = []
    for proposal_id in dict.fromkeys(proposal_ids):
        row = seen.get(proposal_id)
        if row is None:
            answers[proposal_id] = Missing("proposal", str(proposal_id))
        elif proposal_id in unsurveyed:
            answers[proposal_id] = Refused(
                f"proposal {proposal_id} is a citizen's usul whose house was not surveyed: return it to the "
                "village, whose operator revises it with the house as found on the visit, before it goes on"
            )
        elif isinstance(level, Refused):
            answers[proposal_id] = level
        elif level is VerificationLevel.NATIONAL:
            answers[proposal_id] = Refused(
                "the national level does not forward proposals: it determines them into a DTKS edition"
            )
        elif problem := why_not(row, level):
            answers[proposal_id] = Refused(problem)
        else:
            ready.append(proposal_id)
    if not ready or isinstance(level, Refused):
        return [answers[proposal_id] for proposal_id in proposal_ids]
    target = above(level)
    assert target is not None
    moved = await _move(conn, ready, level, target.value, ProposalStatus.PENDING.value)
    for proposal_id in set(ready) - moved:
        answers[proposal_id] = Refused(f"proposal {proposal_id} was acted on by someone else just now; read it again")
    if moved:
        await add_steps(conn, request, [(p, "approve", level, target.value) for p in ready if p in moved], note, now())
    answers.update(await _records(conn, moved))
    return [answers[proposal_id] for proposal_id in proposal_ids]


async def _single_step(
    conn: AsyncConnection,
    request: RequestInfo,
    proposal_id: int,
    reason: str,
    action: str,
    name: str,
) -> ProposalRecord | Refused | Missing | Invalid:
    if errors := _reason_errors(reason, name):
        return Invalid(errors)
    row = (await _visible(conn, [proposal_id], request.principal.scope)).get(proposal_id)
    if row is None:
        return Missing("proposal", str(proposal_id))
    level = _acting_level(request)
    if isinstance(level, Refused):
        return level
    if problem := why_not(row, level):
        return Refused(problem)
    if action == "return":
        target = below(level)
        if target is None:
            return Refused("the village level cannot return a proposal; revise it or reject (withdraw) it")
        stage, status = target.value, ProposalStatus.RETURNED.value
    else:
        stage, status = level.value, ProposalStatus.REJECTED.value
    if not await _move(conn, [proposal_id], level, stage, status):
        return Refused(f"proposal {proposal_id} was acted on by someone else just now; read it again")
    await add_steps(conn, request, [(proposal_id, action, level, stage)], reason, now())
    return (await _records(conn, {proposal_id}))[proposal_id]


async def send_back(
    conn: AsyncConnection, request: RequestInfo, proposal_id: int, reason: str
) -> ProposalRecord | Refused | Missing | Invalid:
    """Return a proposal to the level below with a reason."""
    return await _single_step(conn, request, proposal_id, reason, "return", "reason")


async def reject(
    conn: AsyncConnection, request: RequestInfo, proposal_id: int, reason: str
) -> ProposalRecord | Refused | Missing | Invalid:
    """Reject a proposal for good, with a reason (at the village: withdraw it)."""
    return await _single_step(conn, request, proposal_id, reason, "reject", "reason")
