"""Progress of a verification round, per region: households due, visited, proposed, approved at each
level, determined. Counted in SQL, grouped by the regions one level below the one asked about."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.foundation.enums import ProposalStatus, VerificationLevel
from core.regions.codes import level_number, within
from core.verification.drafts import PROPOSALS
from core.verification.proposals import STEPS
from core.verification.rounds import PRELIST, VISITS

CODE_LENGTH = {1: 2, 2: 5, 3: 8, 4: 13}  # province, regency, district, village


@dataclass(slots=True)
class ProgressRow:
    region_code: str
    due: int = 0
    visited: int = 0
    proposed: int = 0
    approved_by_district: int = 0
    approved_by_regency: int = 0
    approved_by_province: int = 0
    determined: int = 0
    returned: int = 0
    rejected: int = 0
    conflicts: int = 0

    def add(self, other: ProgressRow) -> None:
        for f in fields(self):
            if f.name != "region_code":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class Progress:
    region_code: str  # '' for the whole country
    total: ProgressRow
    regions: list[ProgressRow] = field(default_factory=list)


def _group(column: Any, region_code: str) -> Any:
    length = CODE_LENGTH[min(level_number(region_code) + 1, 4)] if region_code else CODE_LENGTH[1]
    return func.substr(column, 1, length)


async def round_progress(conn: AsyncConnection, round_id: int, region_code: str) -> Progress:
    """Counts for ``region_code`` ('' = national; already checked against the caller's scope)."""
    rows: dict[str, ProgressRow] = {}

    def row(code: str) -> ProgressRow:
        return rows.setdefault(code, ProgressRow(code))

    async def grouped(column: Any, query: Any) -> list[Any]:
        part = _group(column, region_code).label("part")
        if region_code:
            query = query.where(within(column, region_code))
        return list(await conn.execute(query.add_columns(part).group_by(part)))

    for count, code in await grouped(
        PRELIST.c.village_code, select(func.count()).select_from(PRELIST).where(PRELIST.c.round_id == round_id)
    ):
        row(code).due = count
    for count, code in await grouped(
        VISITS.c.village_code, select(func.count()).select_from(VISITS).where(VISITS.c.round_id == round_id)
    ):
        row(code).visited = count
    statuses = await grouped(
        PROPOSALS.c.village_code,
        select(func.count(), PROPOSALS.c.status).where(PROPOSALS.c.round_id == round_id).group_by(PROPOSALS.c.status),
    )
    by_status = {
        ProposalStatus.DETERMINED.value: "determined",
        ProposalStatus.RETURNED.value: "returned",
        ProposalStatus.REJECTED.value: "rejected",
        ProposalStatus.CONFLICT.value: "conflicts",
    }
    for count, status, code in statuses:
        target = row(code)
        target.proposed += count
        if status in by_status:
            setattr(target, by_status[status], getattr(target, by_status[status]) + count)
    approvals = await grouped(
        PROPOSALS.c.village_code,
        select(func.count(distinct(STEPS.c.proposal_id)), STEPS.c.level)
        .select_from(STEPS.join(PROPOSALS, PROPOSALS.c.id == STEPS.c.proposal_id))
        .where(PROPOSALS.c.round_id == round_id, STEPS.c.action == "approve")
        .group_by(STEPS.c.level),
    )
    names = {
        VerificationLevel.DISTRICT.value: "approved_by_district",
        VerificationLevel.REGENCY.value: "approved_by_regency",
        VerificationLevel.PROVINCE.value: "approved_by_province",
    }
    for count, level, code in approvals:
        if level in names:
            setattr(row(code), names[level], count)
    total = ProgressRow(region_code)
    for part in rows.values():
        total.add(part)
    return Progress(region_code, total, sorted(rows.values(), key=lambda r: r.region_code))
