"""Reading proposals, their steps and proposed values, and DTKS editions, always within a scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, make_dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.models import HOUSEHOLD_VALUE_COLUMNS, MEMBER_VALUE_COLUMNS, PROPOSED_HOUSEHOLDS, PROPOSED_MEMBERS
from core.regions.codes import within
from core.storage.keyset import Slice, Window, settle
from core.verification.determination import EDITION_COUNTS, EDITIONS, EditionRecord
from core.verification.drafts import PROPOSALS
from core.verification.proposals import STEPS, ProposalRecord

StepRecord: Any = make_dataclass("StepRecord", [(c.name, Any) for c in STEPS.columns], slots=True)


@dataclass(frozen=True, slots=True)
class ProposalFilter:
    scope: str
    region_code: str | None = None
    stage: str | None = None
    status: str | None = None
    kind: str | None = None
    round_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = []
        if self.scope:
            conditions.append(within(PROPOSALS.c.village_code, self.scope))
        if self.region_code:
            conditions.append(within(PROPOSALS.c.village_code, self.region_code))
        for column, value in (
            (PROPOSALS.c.stage, self.stage),
            (PROPOSALS.c.status, self.status),
            (PROPOSALS.c.kind, self.kind),
            (PROPOSALS.c.round_id, self.round_id),
        ):
            if value is not None:
                conditions.append(column == value)
        return conditions


async def proposal_page(conn: AsyncConnection, where: ProposalFilter, window: Window) -> Slice:
    """One page of proposals in id order (keyset pagination, either direction); ``rows`` are ProposalRecords."""
    query = window.apply(select(PROPOSALS).where(*where.conditions()), PROPOSALS.c.id)
    return settle(window, [ProposalRecord(*row) for row in await conn.execute(query)])


async def proposals_by_id(conn: AsyncConnection, ids: Sequence[int], scope: str) -> dict[int, Any]:
    """Proposals by id whose village lies in ``scope``; one statement."""
    if not ids:
        return {}
    conditions = [PROPOSALS.c.id.in_(list(set(ids)))]
    if scope:
        conditions.append(within(PROPOSALS.c.village_code, scope))
    return {row.id: ProposalRecord(*row) for row in await conn.execute(select(PROPOSALS).where(*conditions))}


async def count_proposals(conn: AsyncConnection, where: ProposalFilter) -> int:
    query = select(func.count()).select_from(PROPOSALS).where(*where.conditions())
    return int((await conn.execute(query)).scalar_one())


async def steps_of(conn: AsyncConnection, proposal_ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {p: [] for p in proposal_ids}
    rows = await conn.execute(
        select(STEPS).where(STEPS.c.proposal_id.in_(list(proposal_ids))).order_by(STEPS.c.at, STEPS.c.id)
    )
    for row in rows:
        found[row.proposal_id].append(StepRecord(*row))
    return found


@dataclass(slots=True)
class ProposedValue:
    """One value the proposal changes: the household's or one member's, before and after."""

    entity: str  # household or member
    field: str
    current: str | None
    proposed: str | None
    member_id: int | None = None
    nik: str | None = None


@dataclass(slots=True)
class Proposed:
    household: dict[str, Any] | None = None
    members: list[dict[str, Any]] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def proposed_of(conn: AsyncConnection, proposal_ids: Sequence[int]) -> dict[int, Proposed]:
    found = {p: Proposed() for p in proposal_ids}
    wanted = list(proposal_ids)
    for row in await conn.execute(select(PROPOSED_HOUSEHOLDS).where(PROPOSED_HOUSEHOLDS.c.proposal_id.in_(wanted))):
        found[row.proposal_id].household = dict(row._mapping)
    members = select(PROPOSED_MEMBERS).where(PROPOSED_MEMBERS.c.proposal_id.in_(wanted)).order_by(PROPOSED_MEMBERS.c.id)
    for row in await conn.execute(members):
        found[row.proposal_id].members.append(dict(row._mapping))
    return found


def proposed_values(proposal: Any, proposed: Proposed) -> list[ProposedValue]:
    """What the proposal changes, value by value (every value for a new household; none for a removal)."""
    current = proposal.current or {"household": {}, "members": []}
    values: list[ProposedValue] = []
    if proposed.household is not None:
        before = current["household"]
        for name in HOUSEHOLD_VALUE_COLUMNS:
            old, new = _text(before.get(name)), _text(proposed.household[name])
            if old != new:
                values.append(ProposedValue("household", name, old, new))
    old_members = {m["id"]: m for m in current["members"]}
    for member in proposed.members:
        before = old_members.get(member["member_id"], {})
        for name in (*MEMBER_VALUE_COLUMNS, "status"):
            old = _text(before.get(name, "active" if before and name == "status" else None))
            new = _text(member[name])
            if old != new:
                values.append(ProposedValue("member", name, old, new, member["member_id"], member["nik"]))
    return values


async def editions(conn: AsyncConnection, limit: int) -> list[Any]:
    rows = await conn.execute(
        select(EDITIONS).order_by(EDITIONS.c.determined_at.desc(), EDITIONS.c.id.desc()).limit(limit)
    )
    return [EditionRecord(*row) for row in rows]


async def editions_by_id(conn: AsyncConnection, edition_ids: Sequence[int]) -> dict[int, Any]:
    rows = await conn.execute(select(EDITIONS).where(EDITIONS.c.id.in_(list(edition_ids))))
    return {row.id: EditionRecord(*row) for row in rows}


async def edition_counts(conn: AsyncConnection, edition_id: int, region_code: str, scope: str) -> tuple[int, int]:
    """Active households and members as of the edition, in ``region_code`` and ``scope``."""
    query = select(
        func.coalesce(func.sum(EDITION_COUNTS.c.households), 0), func.coalesce(func.sum(EDITION_COUNTS.c.members), 0)
    ).where(EDITION_COUNTS.c.edition_id == edition_id)
    for code in (region_code, scope):
        if code:
            query = query.where(within(EDITION_COUNTS.c.village_code, code))
    households, members = (await conn.execute(query)).one()
    return int(households), int(members)
