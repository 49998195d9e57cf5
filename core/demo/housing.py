"""Housing and asset answers of demo households, driven by their welfare level.

Each answer list runs from the poorest to the richest answer with its rough national share;
an ordered-probit draw on the household's standardised welfare (plus noise) picks one, so richer
households tend to have better floors, walls and roofs and more assets, as in the unified-database
form, without any answer being a fixed function of welfare.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from core.demo.draws import Bools, Floats, Ints, has_item, ordered_draw, pick, weighted_choice
from core.foundation.enums import (
    CookingFuel,
    DrinkingWater,
    FloorMaterial,
    HomeOwnership,
    LightingSource,
    RoofMaterial,
    ToiletFacility,
    WallMaterial,
)

Answers = Sequence[tuple[StrEnum, float]]

FLOOR: Answers = (
    (FloorMaterial.EARTH, 0.06),
    (FloorMaterial.BAMBOO, 0.02),
    (FloorMaterial.LOW_QUALITY_WOOD, 0.07),
    (FloorMaterial.CEMENT_BRICK, 0.25),
    (FloorMaterial.HIGH_QUALITY_WOOD, 0.03),
    (FloorMaterial.TILE_TERRAZZO, 0.07),
    (FloorMaterial.PARQUET_VINYL, 0.01),
    (FloorMaterial.CERAMIC, 0.47),
    (FloorMaterial.MARBLE_GRANITE, 0.02),
)
WALL: Answers = (
    (WallMaterial.OTHER, 0.01),
    (WallMaterial.BAMBOO, 0.03),
    (WallMaterial.WOVEN_BAMBOO, 0.06),
    (WallMaterial.LOG, 0.02),
    (WallMaterial.WOOD, 0.14),
    (WallMaterial.PLASTERED_BAMBOO, 0.04),
    (WallMaterial.MASONRY, 0.70),
)
ROOF: Answers = (
    (RoofMaterial.THATCH, 0.02),
    (RoofMaterial.BAMBOO, 0.01),
    (RoofMaterial.OTHER, 0.01),
    (RoofMaterial.WOOD_SHINGLE, 0.02),
    (RoofMaterial.ZINC, 0.33),
    (RoofMaterial.ASBESTOS, 0.12),
    (RoofMaterial.CLAY_TILE, 0.45),
    (RoofMaterial.CONCRETE, 0.04),
)
TOILET: Answers = (
    (ToiletFacility.NONE, 0.07),
    (ToiletFacility.PUBLIC, 0.03),
    (ToiletFacility.SHARED, 0.10),
    (ToiletFacility.PRIVATE, 0.80),
)
WATER: Answers = (
    (DrinkingWater.SURFACE_WATER, 0.03),
    (DrinkingWater.UNPROTECTED_SPRING, 0.03),
    (DrinkingWater.UNPROTECTED_WELL, 0.06),
    (DrinkingWater.RAIN_WATER, 0.03),
    (DrinkingWater.OTHER, 0.01),
    (DrinkingWater.PROTECTED_SPRING, 0.07),
    (DrinkingWater.PROTECTED_WELL, 0.25),
    (DrinkingWater.PIPED, 0.12),
    (DrinkingWater.BOTTLED, 0.40),
)
LIGHTING: Answers = (
    (LightingSource.NONE, 0.005),
    (LightingSource.NON_PLN, 0.02),
    (LightingSource.PLN_UNMETERED, 0.06),
    (LightingSource.PLN_METERED, 0.915),
)
COOKING: Answers = (
    (CookingFuel.NONE, 0.01),
    (CookingFuel.FIREWOOD, 0.12),
    (CookingFuel.CHARCOAL, 0.005),
    (CookingFuel.KEROSENE, 0.01),
    (CookingFuel.LPG, 0.83),
    (CookingFuel.CITY_GAS, 0.01),
    (CookingFuel.ELECTRICITY, 0.015),
)
# (answer list, column, how strongly welfare drives it)
MATERIALS: tuple[tuple[Answers, str, float], ...] = (
    (FLOOR, "floor_material", 0.55),
    (WALL, "wall_material", 0.5),
    (ROOF, "roof_material", 0.4),
    (TOILET, "toilet", 0.45),
    (WATER, "drinking_water", 0.4),
    (LIGHTING, "lighting", 0.45),
    (COOKING, "cooking_fuel", 0.5),
)
# (column, national share, how strongly welfare drives it); land is also more common in desa.
ASSETS: tuple[tuple[str, float, float], ...] = (
    ("has_refrigerator", 0.55, 0.55),
    ("has_air_conditioner", 0.08, 0.6),
    ("has_television", 0.85, 0.45),
    ("has_computer", 0.18, 0.55),
    ("has_motorcycle", 0.80, 0.4),
    ("has_car", 0.09, 0.6),
    ("has_boat", 0.03, 0.1),
    ("has_gold", 0.25, 0.45),
    ("has_land", 0.45, 0.25),
)
OWNERSHIP = (
    HomeOwnership.OWNED,
    HomeOwnership.RENTED,
    HomeOwnership.RENT_FREE,
    HomeOwnership.OFFICIAL,
    HomeOwnership.OTHER,
)
OWNERSHIP_URBAN = np.array([0.62, 0.22, 0.12, 0.02, 0.02])
OWNERSHIP_RURAL = np.array([0.88, 0.03, 0.07, 0.01, 0.01])
OWNERSHIP_WELFARE_EFFECT = np.array([0.1, 0.2, -0.5, 0.3, 0.0])  # rent-free housing is for the poor
URBAN_ADVANTAGE = 0.3  # standard deviations of better services in kelurahan at equal welfare


def _answers(rng: np.random.Generator, answers: Answers, signal: Floats, loading: float) -> list[str]:
    index = ordered_draw(rng, signal, [share for _, share in answers], loading)
    return pick([answer.value for answer, _ in answers], index)


def housing(rng: np.random.Generator, welfare: Floats, urban: Bools, size: Ints) -> dict[str, list[object]]:
    """Housing, asset and livestock columns for households of standardised ``welfare``."""
    signal = welfare + URBAN_ADVANTAGE * urban
    columns: dict[str, list[object]] = {}
    for answers, column, loading in MATERIALS:
        columns[column] = list(_answers(rng, answers, signal, loading))

    weights = np.where(urban[:, None], OWNERSHIP_URBAN, OWNERSHIP_RURAL) * np.exp(
        np.outer(welfare, OWNERSHIP_WELFARE_EFFECT)
    )
    columns["ownership"] = list(pick([o.value for o in OWNERSHIP], weighted_choice(rng, weights)))

    log_area = np.log(48) + 0.25 * welfare + 0.06 * (size - 4) + rng.normal(0, 0.3, len(welfare))
    columns["floor_area"] = np.clip(np.round(np.exp(log_area)), 9, 600).tolist()

    for column, share, loading in ASSETS:
        asset_signal = welfare - 0.8 * urban if column == "has_land" else signal
        columns[column] = has_item(rng, asset_signal, share, loading).tolist()

    keeps_livestock = has_item(rng, 0.2 * welfare + np.where(urban, -1.0, 0.4), 0.25, 0.6)
    herd = 1 + rng.poisson(np.exp(0.5 + 0.2 * welfare))
    columns["livestock_count"] = np.where(keeps_livestock, herd, 0).tolist()
    return columns
