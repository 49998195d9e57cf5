"""Which real villages the demo population lives in, and their regional welfare level."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.demo.draws import Bools, Floats, Ints
from core.demo.regional import REGENCY_SD, SMALL_PROVINCES, URBAN_PREMIUM, VILLAGE_SD, province
from core.households.rules import LATITUDE_RANGE, LONGITUDE_RANGE
from core.models import Region

REGIONS = Region.__table__
HOUSEHOLDS_PER_VILLAGE = 40  # on average; each sampled village gets 20 to 60
PROVINCE_GPS_SD = 0.45  # degrees between regencies of a province
SMALL_PROVINCE_GPS_SD = 0.1
VILLAGE_GPS_SD = 0.08  # degrees between villages of a regency


class NoVillages(RuntimeError):
    """The regions table holds no villages to put demo households in."""


@dataclass(frozen=True, slots=True)
class RegionCodes:
    """Sorted dotted codes of every village and district in the database."""

    villages: list[str]
    districts: list[str]


async def read_region_codes(conn: AsyncConnection) -> RegionCodes:
    rows = await conn.execute(select(REGIONS.c.code, REGIONS.c.level).where(REGIONS.c.level >= 3))
    villages: list[str] = []
    districts: list[str] = []
    for code, level in rows:
        (villages if level == 4 else districts).append(code)
    if not villages:
        raise NoVillages("the database has no villages; load the region list first with `siks regions load`")
    return RegionCodes(sorted(villages), sorted(districts))


def _digits(codes: list[str], length: int) -> Ints:
    return np.array([int(code[:length].replace(".", "")) for code in codes], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class VillagePlan:
    """The sampled villages in code order, how many households each gets, and their traits.

    ``district`` and ``regency`` are the codes as numbers (``32.01.01`` is 320101); a regency's
    districts are ``district_table[regency_first : regency_first + regency_size]``, where a person
    who moved within the regency was first registered.
    """

    codes: list[str]
    provinces: list[str]
    district: Ints
    regency: Ints
    urban: Bools
    mean_log_consumption: Floats
    latitude: Floats
    longitude: Floats
    counts: Ints
    starts: Ints
    district_table: Ints
    regency_first: Ints
    regency_size: Ints

    @property
    def households(self) -> int:
        return int(self.counts.sum())

    def village_of(self, household_index: Ints) -> Ints:
        """The plan index of the village of each global household index."""
        return (np.searchsorted(self.starts, household_index, side="right") - 1).astype(np.int64)


def _sample(rng: np.random.Generator, weights: Floats, size: int) -> Ints:
    """``size`` distinct indices drawn with probability proportional to ``weights`` (exponential race)."""
    race = rng.exponential(size=len(weights)) / weights
    chosen = np.argpartition(race, size - 1)[:size] if size < len(weights) else np.arange(len(weights))
    return np.sort(chosen).astype(np.int64)


def _split(rng: np.random.Generator, total: int, parts: int) -> Ints:
    """``total`` split into ``parts`` counts of roughly equal size (0.5x to 1.5x the mean)."""
    share = rng.uniform(0.5, 1.5, parts)
    exact = share / share.sum() * total
    counts = np.floor(exact).astype(np.int64)
    remainder = total - int(counts.sum())
    counts[np.argsort(counts - exact, kind="stable")[:remainder]] += 1
    return counts


def plan_villages(codes: RegionCodes, households: int, rng: np.random.Generator) -> VillagePlan:
    """Sample villages (weighted toward populous provinces) and spread ``households`` over them."""
    all_provinces = [code[:2] for code in codes.villages]
    names, per_province = np.unique(all_provinces, return_counts=True)
    population = {name: province(name).population / count for name, count in zip(names, per_province, strict=True)}
    weights = np.array([population[p] for p in all_provinces])
    wanted = min(len(codes.villages), max(1, round(households / HOUSEHOLDS_PER_VILLAGE)))
    chosen = _sample(rng, weights, wanted)
    counts = _split(rng, households, wanted)
    keep = counts > 0
    chosen, counts = chosen[keep], counts[keep]

    village_codes = [codes.villages[i] for i in chosen.tolist()]
    provinces = [code[:2] for code in village_codes]
    district = _digits(village_codes, 8)
    regency = district // 100
    urban = np.array([code[9] == "1" for code in village_codes], dtype=bool)

    regencies, regency_index = np.unique(regency, return_inverse=True)
    regency_effect = rng.normal(0, REGENCY_SD, len(regencies))[regency_index]
    village_effect = rng.normal(0, VILLAGE_SD, len(chosen))
    base = np.array([province(p).mean_log_consumption for p in provinces])
    mean_log = base + regency_effect + village_effect + URBAN_PREMIUM * urban

    spread = np.array([SMALL_PROVINCE_GPS_SD if p in SMALL_PROVINCES else PROVINCE_GPS_SD for p in provinces])
    regency_lat = rng.normal(0, 1, len(regencies))[regency_index] * spread
    regency_lon = rng.normal(0, 1, len(regencies))[regency_index] * spread
    latitude = np.array([province(p).latitude for p in provinces]) + regency_lat
    longitude = np.array([province(p).longitude for p in provinces]) + regency_lon
    latitude = np.clip(latitude + rng.normal(0, VILLAGE_GPS_SD, len(chosen)), *LATITUDE_RANGE)
    longitude = np.clip(longitude + rng.normal(0, VILLAGE_GPS_SD, len(chosen)), *LONGITUDE_RANGE)

    district_table = _digits(codes.districts, 8)
    table_regency = district_table // 100
    first = np.searchsorted(table_regency, regency, side="left")
    last = np.searchsorted(table_regency, regency, side="right")
    starts = (np.cumsum(counts) - counts).astype(np.int64)
    return VillagePlan(
        codes=village_codes,
        provinces=provinces,
        district=district,
        regency=regency,
        urban=urban,
        mean_log_consumption=mean_log,
        latitude=latitude,
        longitude=longitude,
        counts=counts,
        starts=starts,
        district_table=district_table,
        regency_first=first.astype(np.int64),
        regency_size=(last - first).astype(np.int64),
    )
