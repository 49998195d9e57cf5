"""Reading stored ranks and explaining them, a batch of households at a time (for the API's loaders)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import WelfareRank
from core.welfare.errors import WelfareError
from core.welfare.explain import Explanation, explain
from core.welfare.registry import find_model, load_registered

RANKS = WelfareRank.__table__


@dataclass(slots=True)
class WelfareRankRecord:
    """A ``welfare_ranks`` row, columns in table order."""

    household_id: int
    model_version: str
    score: float
    decile: int
    regency_decile: int
    ranked_at: datetime

    @property
    def explanation_key(self) -> ExplanationKey:
        return (self.household_id, self.model_version, self.ranked_at.date())


ExplanationKey = tuple[int, str, date]  # household, the model that ranked it, the day it was ranked


async def ranks_by_household(engine: AsyncEngine, household_ids: Sequence[int]) -> dict[int, WelfareRankRecord]:
    if not household_ids:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(select(RANKS).where(RANKS.c.household_id.in_(list(set(household_ids)))))
        return {row[0]: WelfareRankRecord(*row) for row in rows}


async def explanations(
    engine: AsyncEngine, model_dir: Path, keys: Sequence[ExplanationKey]
) -> list[Explanation | WelfareError | None]:
    """For each key, the explanation by the model that ranked the household (ages as of the ranking day).

    One feature query and one model call per (model, day); a model whose file cannot be used gives
    its error for its keys only.
    """
    groups: dict[tuple[str, date], list[int]] = defaultdict(list)
    for household_id, version, as_of in keys:
        groups[(version, as_of)].append(household_id)
    found: dict[ExplanationKey, Explanation | WelfareError] = {}
    async with engine.connect() as conn:
        for (version, as_of), household_ids in groups.items():
            try:
                model = load_registered(model_dir, await find_model(conn, version))
            except WelfareError as exc:
                found.update({(household_id, version, as_of): exc for household_id in household_ids})
                continue
            for household_id, explanation in (await explain(conn, model, household_ids, as_of)).items():
                found[(household_id, version, as_of)] = explanation
    return [found.get(key) for key in keys]
