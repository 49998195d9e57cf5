"""Why a household got its score: the answers that raised or lowered it, in words an officer can show a family.

For a CatBoost model the effects are SHAP values (CatBoost's ``ShapValues``); for the PMT they
are weight × (answer − average answer), which is the same thing for a linear model. Either way
the effects add up, with the model's average score, to the household's score. A score is a
natural log of Rupiah per person per month, so an effect of +0.10 means the answer raised the
estimated spending per person by about 10.5%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import lazy_loader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.storage.records import HOUSEHOLDS, REGIONS
from core.welfare.features import (
    BY_NAME,
    CATEGORICAL_NAMES,
    FEATURE_NAMES,
    UNKNOWN,
    FeatureFrame,
    feature_select,
    frame_from_rows,
)
from core.welfare.model import WelfareModel

# imported when first used (a fast cold start, docs/operations.md)
np = lazy_loader.load("numpy")

SHARE_FEATURES = frozenset({"share_children", "share_working"})
ANSWER_WORDS: dict[str, str] = {  # answers whose stored code does not read well with underscores as spaces
    "pln_metered": "PLN electricity with a meter",
    "pln_unmetered": "PLN electricity without a meter",
    "non_pln": "electricity not from PLN",
    "lpg": "LPG",
    "cement_brick": "cement or brick",
    "tile_terrazzo": "tile or terrazzo",
    "parquet_vinyl": "parquet or vinyl",
    "marble_granite": "marble or granite",
    "high_quality_wood": "good-quality wood",
    "low_quality_wood": "low-quality wood",
    "rent_free": "lives rent-free",
    "official": "official housing (rumah dinas)",
    "primary": "primary school (SD)",
    "junior_high": "junior high school (SMP)",
    "senior_high": "senior high school (SMA)",
    "self_employed": "self-employed",
    "private_employee": "private-sector employee",
    "urban": "urban (kelurahan)",
    "rural": "rural (desa)",
}
SMALLEST_EFFECT = 1e-4  # smaller effects are left out: they would not change the decile


class Direction(StrEnum):
    RAISED = "raised"
    LOWERED = "lowered"


@dataclass(frozen=True, slots=True)
class Factor:
    feature: str  # the feature's name, e.g. floor_material
    label: str  # how an officer says it: "main floor material"
    value: str  # the household's answer in words: "earth"
    effect: float  # change of the score (log consumption per capita)

    @property
    def direction(self) -> Direction:
        return Direction.RAISED if self.effect > 0 else Direction.LOWERED

    @property
    def percent(self) -> float:
        """The effect as a change of the estimated spending per person, in percent."""
        return 100.0 * math.expm1(self.effect)

    @property
    def sentence(self) -> str:
        return (
            f"{self.label[0].upper()}{self.label[1:]}: {self.value}. This {self.direction.value} the welfare score "
            f"(estimated spending per person {self.percent:+.0f}%)."
        )


@dataclass(frozen=True, slots=True)
class Explanation:
    household_id: int
    score: float  # what the model gives for the household's answers today
    average: float  # the model's average score: where every household starts
    factors: tuple[Factor, ...]  # largest effect first


def _number(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{text} {unit}".strip()


def describe(name: str, value: float | str, province_names: dict[str, str]) -> str:
    """A feature value in words: answers without underscores, yes/no, shares as percent, units."""
    feature = BY_NAME[name]
    if feature.categorical:
        text = str(value)
        if name == "province":
            return province_names.get(text, text)
        if text == UNKNOWN:
            return "not recorded"
        return ANSWER_WORDS.get(text, text.replace("_", " "))
    number = float(value)
    if feature.boolean:
        return "yes" if number else "no"
    if name in SHARE_FEATURES:
        return f"{100 * number:.0f}%"
    return _number(number, feature.unit)


async def province_names(conn: AsyncConnection, codes: Sequence[str]) -> dict[str, str]:
    rows = await conn.execute(select(REGIONS.c.code, REGIONS.c.name).where(REGIONS.c.code.in_(sorted(set(codes)))))
    return {code: name for code, name in rows}


async def household_frame(conn: AsyncConnection, household_ids: Sequence[int], as_of: date) -> FeatureFrame:
    """The features of the given active households (one grouped SELECT), in id order."""
    result = await conn.execute(feature_select(as_of).where(HOUSEHOLDS.c.id.in_(list(household_ids))))
    return frame_from_rows(list(result.keys()), result.all())


async def explain(
    conn: AsyncConnection, model: WelfareModel, household_ids: Sequence[int], as_of: date
) -> dict[int, Explanation]:
    """Explanations for the given households (inactive or unknown ones are left out), one model call for all."""
    frame = await household_frame(conn, household_ids, as_of)
    if not len(frame):
        return {}
    contributions = model.contributions(frame)
    provinces = frame.categorical[CATEGORICAL_NAMES.index("province")]
    names = await province_names(conn, [str(code) for code in provinces.categories])
    found: dict[int, Explanation] = {}
    for row, household_id in enumerate(frame.keys.tolist()):
        effects = contributions.effects[row]
        order = np.argsort(-np.abs(effects), kind="stable")
        factors = tuple(
            Factor(
                feature=FEATURE_NAMES[i],
                label=BY_NAME[FEATURE_NAMES[i]].label,
                value=describe(FEATURE_NAMES[i], frame.value(row, FEATURE_NAMES[i]), names),
                effect=float(effects[i]),
            )
            for i in order.tolist()
            if abs(effects[i]) >= SMALLEST_EFFECT
        )
        base = float(contributions.base[row])
        found[household_id] = Explanation(household_id, base + float(effects.sum()), base, factors)
    return found
