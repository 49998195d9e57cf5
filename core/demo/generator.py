"""The deterministic demo population: households over real villages, batch by batch.

The same region list, household count, seed, batch size and reference date always give the
same households and members (KK numbers, NIKs, names, answers); only row ids differ. Each
household gets a latent log consumption per capita (its province's level, a regency and a
village effect, and its own noise); that welfare level drives its size, its members' schooling
and work, and its housing and asset answers, so a welfare model has signal to find.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np

from core.demo.draws import Bools, Floats, Ints, day_number, group_max
from core.demo.housing import housing
from core.demo.names import (
    HAMLETS,
    MARGA_PROVINCES,
    OTHER_SINGLE_NAME_SHARE,
    SINGLE_NAME_PROVINCES,
    SINGLE_NAME_SHARE,
    STREETS,
)
from core.demo.people import HouseholdTraits, Members, draw_members
from core.demo.regional import HOUSEHOLD_SD, TOTAL_SD, national_mean_log_consumption
from core.demo.serials import SerialBook, prefixes
from core.demo.villages import RegionCodes, VillagePlan, plan_villages
from core.foundation.enums import (
    CookingFuel,
    Disability,
    DrinkingWater,
    Education,
    FloorMaterial,
    HomeOwnership,
    LightingSource,
    Occupation,
    Relationship,
    RoofMaterial,
    Sex,
    ToiletFacility,
    WallMaterial,
)
from core.households.data import HOUSEHOLD_COLUMNS, HouseholdData, MemberData
from core.households.rules import LATITUDE_RANGE, LONGITUDE_RANGE

DEFAULT_BATCH_SIZE = 10_000
DEFAULT_SURVEY_SHARE = 0.10
KK_REISSUE_YEARS = 15  # a family card is reissued at most this long ago, and after the latest birth
HOUSEHOLD_GPS_SD = 0.01  # degrees around the village point
_PLAN_STREAM, _BATCH_STREAM = 0, 1
_ENUM_COLUMNS = {
    "floor_material": FloorMaterial,
    "wall_material": WallMaterial,
    "roof_material": RoofMaterial,
    "toilet": ToiletFacility,
    "drinking_water": DrinkingWater,
    "lighting": LightingSource,
    "cooking_fuel": CookingFuel,
    "ownership": HomeOwnership,
}


@dataclass(frozen=True, slots=True)
class Span:
    """Households ``start`` to ``stop`` (global order) make batch ``index``."""

    index: int
    start: int
    stop: int
    first_regency: int
    last_regency: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True, slots=True)
class DemoBatch:
    """One batch of generated households (columns) with their members and welfare."""

    households: dict[str, list[object]]  # every column of HOUSEHOLD_COLUMNS
    members: Members
    member_niks: list[str]
    consumption_per_capita: Floats  # Rupiah per person per month
    surveyed: Bools

    @property
    def size(self) -> int:
        return len(self.surveyed)

    def household_data(self) -> list[HouseholdData]:
        """The batch as typed household data, for validation by the household rules."""
        members: list[list[MemberData]] = [[] for _ in range(self.size)]
        m = self.members
        rows = zip(
            m.household.tolist(),
            self.member_niks,
            m.name,
            m.sex,
            m.birth_date,
            m.relationship,
            m.education,
            m.in_school,
            m.occupation,
            m.disability,
            m.pregnant,
            strict=True,
        )
        for household, nik, name, sex, born, relation, education, in_school, occupation, disability, pregnant in rows:
            members[household].append(
                MemberData(
                    nik=nik,
                    name=name,
                    sex=Sex(sex),
                    birth_date=born,
                    relationship=Relationship(relation),
                    education=Education(education),
                    in_school=in_school,
                    occupation=Occupation(occupation),
                    disability=Disability(disability),
                    pregnant=pregnant,
                )
            )
        result = []
        for index in range(self.size):
            values = {name: self.households[name][index] for name in HOUSEHOLD_COLUMNS}
            for name, enum in _ENUM_COLUMNS.items():
                values[name] = enum(values[name])
            result.append(HouseholdData(**values, members=members[index]))  # type: ignore[arg-type]
        return result


class DemoGenerator:
    """Draws the village plan once, then any batch of the population on demand."""

    def __init__(
        self,
        codes: RegionCodes,
        households: int,
        seed: int,
        *,
        as_of: date,
        survey_share: float = DEFAULT_SURVEY_SHARE,
    ) -> None:
        if households < 1:
            raise ValueError("the demo needs at least one household")
        if not 0 <= survey_share <= 1:
            raise ValueError("the survey share must be between 0 and 1")
        self.seed = seed
        self.as_of = as_of
        self.survey_share = survey_share
        self.plan: VillagePlan = plan_villages(codes, households, np.random.default_rng([_PLAN_STREAM, seed]))
        self._centre = national_mean_log_consumption()
        provinces = self.plan.provinces
        self._clan_names = np.array([p in MARGA_PROVINCES for p in provinces])
        self._single_name_share = np.array(
            [SINGLE_NAME_SHARE if p in SINGLE_NAME_PROVINCES else OTHER_SINGLE_NAME_SHARE for p in provinces]
        )

    def spans(self, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Span]:
        """The batches in order; each says which regencies its households lie in."""
        total = self.plan.households
        for index, start in enumerate(range(0, total, batch_size)):
            stop = min(start + batch_size, total)
            first, last = self.plan.village_of(np.array([start, stop - 1]))
            yield Span(index, start, stop, int(self.plan.regency[first]), int(self.plan.regency[last]))

    def generate(self, span: Span, niks: SerialBook, kks: SerialBook) -> DemoBatch:
        """The households of ``span``; ``niks`` and ``kks`` hand out the serials."""
        plan = self.plan
        rng = np.random.default_rng([_BATCH_STREAM, self.seed, span.index])
        village = plan.village_of(np.arange(span.start, span.stop, dtype=np.int64))
        n = span.size
        latent = plan.mean_log_consumption[village] + rng.normal(0, HOUSEHOLD_SD, n)
        welfare = (latent - self._centre) / TOTAL_SD
        urban = plan.urban[village]
        traits = HouseholdTraits(
            welfare=welfare,
            urban=urban,
            district=plan.district[village],
            regency_first=plan.regency_first[village],
            regency_size=plan.regency_size[village],
            district_table=plan.district_table,
            clan_names=self._clan_names[village],
            single_name_share=self._single_name_share[village],
        )
        members = draw_members(rng, traits, self.as_of)
        size = np.bincount(members.household, minlength=n)
        columns: dict[str, list[object]] = housing(rng, welfare, urban, size)
        columns["village_code"] = [plan.codes[v] for v in village.tolist()]
        columns["address"] = self._addresses(rng, urban)
        columns["rw"] = [f"{v:03d}" for v in rng.integers(1, 9, n).tolist()]
        columns["rt"] = [f"{v:03d}" for v in rng.integers(1, 11, n).tolist()]
        latitude = plan.latitude[village] + rng.normal(0, HOUSEHOLD_GPS_SD, n)
        longitude = plan.longitude[village] + rng.normal(0, HOUSEHOLD_GPS_SD, n)
        columns["latitude"] = np.round(np.clip(latitude, *LATITUDE_RANGE), 6).tolist()
        columns["longitude"] = np.round(np.clip(longitude, *LONGITUDE_RANGE), 6).tolist()
        kk_prefix = self._kk_prefixes(rng, plan.district[village], members)

        surveyed = np.zeros(n, dtype=bool)
        surveyed[rng.choice(n, round(n * self.survey_share), replace=False)] = True
        kk_serials = kks.assign(kk_prefix)
        nik_serials = niks.assign(members.nik_prefix)
        for book in (kks, niks):
            book.close_regencies_before(span.last_regency)
        columns["kk_number"] = [str(v) for v in (kk_prefix * 10_000 + kk_serials).tolist()]
        return DemoBatch(
            households=columns,
            members=members,
            member_niks=[str(v) for v in (members.nik_prefix * 10_000 + nik_serials).tolist()],
            consumption_per_capita=np.round(np.exp(latent)),
            surveyed=surveyed,
        )

    def _addresses(self, rng: np.random.Generator, urban: Bools) -> list[str]:
        """A street and house number in a kelurahan, a hamlet (dusun) in a desa."""
        n = len(urban)
        street = rng.integers(len(STREETS), size=n).tolist()
        number = rng.integers(1, 151, size=n).tolist()
        hamlet = rng.integers(len(HAMLETS), size=n).tolist()
        return [
            f"{STREETS[s]} No. {k}" if is_urban else HAMLETS[h]
            for is_urban, s, k, h in zip(urban.tolist(), street, number, hamlet, strict=True)
        ]

    def _kk_prefixes(self, rng: np.random.Generator, district: Ints, members: Members) -> Ints:
        """District of the village and the card's issue date, after the youngest member's birth."""
        today = day_number(self.as_of)
        oldest_card = today - 365 * KK_REISSUE_YEARS
        earliest = group_max(members.household, members.birth_day, len(district), oldest_card).astype(np.int64)
        issued = earliest + np.floor(rng.random(len(district)) * (today - earliest + 1)).astype(np.int64)
        return prefixes(district, issued)
