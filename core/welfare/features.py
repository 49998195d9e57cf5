"""What a welfare model sees of a household: one feature list for training, apply, explain and evaluate.

Features come from two places that go through the same code:

* the database: one grouped SELECT over households and their active members
  (:func:`feature_select`) gives the *input columns* of a page of households in id order;
* a labelled CSV in the documented layout (docs/welfare-ranking.md): the same input columns.

:func:`build_frame` checks the input columns and derives the rest (floor area per person, shares,
dependency ratio, asset count), so a model trained on a file and applied to the registry sees the
same thing. Categorical answers stay text (CatBoost handles them natively; the PMT dummy-codes
them); ``FEATURE_SET`` names this exact list, and a model made for another list is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import lazy_loader
from sqlalchemy import ColumnElement, Float, Integer, Select, and_, case, extract, func, literal, select, type_coerce

from core.foundation.enums import Education, MemberStatus, Occupation, RecordStatus, Relationship
from core.households.data import ASSET_FIELDS
from core.models import WelfareSurvey
from core.storage.records import HOUSEHOLDS, MEMBERS

# imported when first used (a fast cold start, docs/operations.md)
np = lazy_loader.load("numpy")
pd = lazy_loader.load("pandas")

SURVEYS = WelfareSurvey.__table__
LABEL = "consumption_per_capita"  # Rupiah per person per month; models predict its natural log
KEY = "household_id"
UNKNOWN = "unknown"  # a head-of-household answer for a household without an active head
CHILD_AGE, ELDERLY_AGE = 15, 65


@dataclass(frozen=True, slots=True)
class Feature:
    """One model input. ``label`` is how an officer names it to a family."""

    name: str
    label: str
    categorical: bool = False
    boolean: bool = False
    unit: str = ""
    derived: bool = False  # computed from other columns, not part of the input layout


def _asset_label(name: str) -> str:
    return "owns " + {"has_air_conditioner": "an air conditioner"}.get(name, "a " + name.removeprefix("has_"))


CATEGORICAL: tuple[Feature, ...] = (
    Feature("floor_material", "main floor material", categorical=True),
    Feature("wall_material", "main wall material", categorical=True),
    Feature("roof_material", "main roof material", categorical=True),
    Feature("toilet", "toilet facility", categorical=True),
    Feature("drinking_water", "drinking water source", categorical=True),
    Feature("lighting", "lighting source", categorical=True),
    Feature("cooking_fuel", "cooking fuel", categorical=True),
    Feature("ownership", "ownership of the house", categorical=True),
    Feature("province", "province", categorical=True),
    Feature("area_type", "urban or rural village (kelurahan or desa)", categorical=True),
    Feature("head_sex", "sex of the head of household", categorical=True),
    Feature("head_education", "schooling of the head of household", categorical=True),
    Feature("head_occupation", "work of the head of household", categorical=True),
)
NUMERIC: tuple[Feature, ...] = (
    Feature("floor_area", "floor area", unit="m²"),
    Feature("livestock_count", "livestock kept"),
    *(Feature(name, _asset_label(name), boolean=True) for name in ASSET_FIELDS),
    Feature("household_size", "household members"),
    Feature("children", f"children under {CHILD_AGE}"),
    Feature("elderly", f"members aged {ELDERLY_AGE} or more"),
    Feature("working_members", "members who work"),
    Feature("formal_workers", "members with a salaried job"),
    Feature("members_in_school", "members in school"),
    Feature("disabled_members", "members with a disability"),
    Feature("top_education_years", "years of schooling of the most schooled member", unit="years"),
    Feature("head_age", "age of the head of household", unit="years"),
    Feature("floor_area_per_person", "floor area per person", unit="m²", derived=True),
    Feature("share_children", f"share of children under {CHILD_AGE}", derived=True),
    Feature("share_working", "share of members who work", derived=True),
    Feature("dependency_ratio", "dependants per working-age member", derived=True),
    Feature("asset_count", "assets owned", derived=True),
)
FEATURES: tuple[Feature, ...] = NUMERIC + CATEGORICAL  # the order models see them in
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
NUMERIC_NAMES: tuple[str, ...] = tuple(f.name for f in NUMERIC)
CATEGORICAL_NAMES: tuple[str, ...] = tuple(f.name for f in CATEGORICAL)
BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
INPUT_COLUMNS: tuple[str, ...] = tuple(f.name for f in FEATURES if not f.derived)
FEATURE_SET = (
    "siks-welfare-1:"
    + hashlib.sha256(",".join(f"{f.name}:{'cat' if f.categorical else 'num'}" for f in FEATURES).encode()).hexdigest()[
        :12
    ]
)

EDUCATION_YEARS: dict[Education, int] = {
    Education.NONE: 0,
    Education.PRIMARY: 6,
    Education.JUNIOR_HIGH: 9,
    Education.SENIOR_HIGH: 12,
    Education.DIPLOMA: 15,
    Education.BACHELOR: 16,
    Education.POSTGRADUATE: 18,
}
NOT_WORKING = (Occupation.NOT_WORKING, Occupation.STUDENT, Occupation.HOUSEKEEPING)
SALARIED = (Occupation.PRIVATE_EMPLOYEE, Occupation.CIVIL_SERVANT)


class FeatureInputError(ValueError):
    """Input columns that cannot become features; the message names the column and the first bad row."""


@dataclass(slots=True)
class FeatureFrame:
    """Features of ``len(keys)`` households: a float matrix in NUMERIC order and one categorical per CATEGORICAL."""

    keys: np.ndarray  # int64: household ids, or row numbers for a file without them
    numeric: np.ndarray  # float64, shape (rows, len(NUMERIC))
    categorical: tuple[pd.Categorical, ...]

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: np.ndarray) -> FeatureFrame:
        return FeatureFrame(self.keys[rows], self.numeric[rows], tuple(c[rows] for c in self.categorical))

    def to_pandas(self) -> pd.DataFrame:
        """The frame as CatBoost reads it fastest: float columns, then pandas categoricals (hashed once per level)."""
        columns: dict[str, Any] = {name: self.numeric[:, i] for i, name in enumerate(NUMERIC_NAMES)}
        columns.update(zip(CATEGORICAL_NAMES, self.categorical, strict=True))
        return pd.DataFrame(columns, copy=False)

    def value(self, row: int, name: str) -> float | str:
        """One household's value of one feature."""
        if name in NUMERIC_NAMES:
            return float(self.numeric[row, NUMERIC_NAMES.index(name)])
        return str(self.categorical[CATEGORICAL_NAMES.index(name)][row])

    def fingerprint(self) -> hashlib._Hash:
        """A hash of the keys and every value, for the training-data checksum."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.keys).tobytes())
        digest.update(np.ascontiguousarray(self.numeric).tobytes())
        for column in self.categorical:
            digest.update("\x1f".join(map(str, column)).encode())
        return digest

    @staticmethod
    def concat(frames: Sequence[FeatureFrame]) -> FeatureFrame:
        if not frames:
            return empty_frame()
        categorical = tuple(
            pd.Categorical(np.concatenate([np.asarray(f.categorical[i], dtype=object) for f in frames]))
            for i in range(len(CATEGORICAL))
        )
        return FeatureFrame(
            np.concatenate([f.keys for f in frames]), np.vstack([f.numeric for f in frames]), categorical
        )


def empty_frame() -> FeatureFrame:
    return FeatureFrame(
        np.empty(0, dtype=np.int64),
        np.empty((0, len(NUMERIC)), dtype=np.float64),
        tuple(pd.Categorical([]) for _ in CATEGORICAL),
    )


def _numbers(name: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(array))
        row = int(bad[0]) if len(bad) else 0
        raise FeatureInputError(f"column {name}: row {row + 1} holds {str(values[row])[:20]!r}, not a number") from None
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        raise FeatureInputError(
            f"column {name}: {len(bad)} row(s) are empty, NaN or infinite (first: row {int(bad[0]) + 1}); "
            "fill them in or leave those households out"
        )
    return array


def _answers(name: str, values: Any) -> pd.Categorical:
    """The answers as a categorical; work is done per distinct answer, not per row."""
    seen: dict[Any, int] = {}
    codes = np.fromiter((seen.setdefault(value, len(seen)) for value in values), dtype=np.int32, count=len(values))
    levels = ["" if _missing(level) else str(level).strip() for level in seen]
    if "" in levels:
        blank = np.isin(codes, [i for i, level in enumerate(levels) if level == ""])
        first = int(np.flatnonzero(blank)[0])
        raise FeatureInputError(f"column {name}: {int(blank.sum())} row(s) have no answer (first: row {first + 1})")
    distinct = list(dict.fromkeys(levels))
    if len(distinct) < len(levels):  # padded answers: merge " earth" into "earth"
        codes = np.asarray([distinct.index(level) for level in levels], dtype=np.int32)[codes]
    return pd.Categorical.from_codes(codes, categories=pd.Index(distinct, dtype=object))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _safe_ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return top / np.maximum(bottom, 1.0)


def build_frame(columns: Mapping[str, Any], keys: Any | None = None) -> FeatureFrame:
    """Check the input columns and derive the rest; raises FeatureInputError on a missing column or bad value."""
    missing = [name for name in INPUT_COLUMNS if name not in columns]
    if missing:
        raise FeatureInputError(f"missing column(s): {', '.join(missing)}")
    raw = {name: _numbers(name, columns[name]) for name in INPUT_COLUMNS if not BY_NAME[name].categorical}
    size = raw["household_size"]
    working_age = size - raw["children"] - raw["elderly"]
    raw["floor_area_per_person"] = _safe_ratio(raw["floor_area"], size)
    raw["share_children"] = _safe_ratio(raw["children"], size)
    raw["share_working"] = _safe_ratio(raw["working_members"], size)
    raw["dependency_ratio"] = _safe_ratio(raw["children"] + raw["elderly"], working_age)
    raw["asset_count"] = np.sum([raw[name] for name in ASSET_FIELDS], axis=0)
    numeric = np.column_stack([raw[name] for name in NUMERIC_NAMES]) if len(size) else np.empty((0, len(NUMERIC)))
    categorical = tuple(_answers(name, columns[name]) for name in CATEGORICAL_NAMES)
    row_keys = np.arange(len(size), dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
    return FeatureFrame(row_keys, numeric.astype(np.float64, copy=False), categorical)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _values(members: Sequence[Any]) -> list[str]:
    return [m.value for m in members]


def member_columns(as_of: date) -> list[ColumnElement[Any]]:
    """The member aggregates of one household (over its active members, joined to ``households``)."""
    m = MEMBERS.c
    head = m.relationship == Relationship.HEAD.value
    schooling = case(*((m.education == level.value, years) for level, years in EDUCATION_YEARS.items()), else_=0)
    head_birth_year = func.max(case((head, extract("year", m.birth_date))))
    return [
        func.coalesce(func.max(case((head, m.sex))), UNKNOWN).label("head_sex"),
        func.coalesce(func.max(case((head, m.education))), UNKNOWN).label("head_education"),
        func.coalesce(func.max(case((head, m.occupation))), UNKNOWN).label("head_occupation"),
        func.count(m.id).label("household_size"),
        _count(m.birth_date > years_before(as_of, CHILD_AGE)).label("children"),
        _count(m.birth_date <= years_before(as_of, ELDERLY_AGE)).label("elderly"),
        _count(and_(m.id.is_not(None), m.occupation.not_in(_values(NOT_WORKING)))).label("working_members"),
        _count(m.occupation.in_(_values(SALARIED))).label("formal_workers"),
        _count(m.in_school.is_(True)).label("members_in_school"),
        _count(and_(m.id.is_not(None), m.disability != "none")).label("disabled_members"),
        func.coalesce(func.max(schooling), 0).label("top_education_years"),
        (literal(as_of.year) - func.coalesce(head_birth_year, as_of.year)).label("head_age"),
    ]


def feature_select(as_of: date, *, labelled: bool = False) -> Select[Any]:
    """One row per active household in id order: ``household_id``, the input columns, and the label if ``labelled``.

    ``labelled`` keeps only households with a welfare survey (the training sample). Callers add
    conditions on ``households`` (a region, ``id > after``) and a LIMIT for keyset batches.
    """
    h = HOUSEHOLDS.c
    village = h.village_code  # 32.01.01.2001: the first digit of the last part is 1 for a kelurahan
    household = [
        *(h[f.name] for f in CATEGORICAL if f.name in h),
        func.substr(village, 1, 2).label("province"),
        case((func.substr(village, 10, 1) == "1", "urban"), else_="rural").label("area_type"),
        # read as plain numbers: no per-value Boolean conversion on the way out
        *(
            type_coerce(h[f.name], Float if f.name == "floor_area" else Integer).label(f.name)
            for f in NUMERIC
            if f.name in h
        ),
    ]
    joined = HOUSEHOLDS.outerjoin(
        MEMBERS, and_(MEMBERS.c.household_id == h.id, MEMBERS.c.status == MemberStatus.ACTIVE.value)
    )
    label: list[ColumnElement[Any]] = []
    if labelled:  # one survey row a household: max() reads it without grouping by it, so pages stream by id
        joined = joined.join(SURVEYS, SURVEYS.c.household_id == h.id)
        label = [func.max(SURVEYS.c.consumption_per_capita).label(LABEL)]
    return (
        select(h.id.label(KEY), *household, *member_columns(as_of), *label)
        .select_from(joined)
        .where(h.status == RecordStatus.ACTIVE.value)
        # households.id is the primary key, so its other columns may be read ungrouped (SQL:1999 T301).
        .group_by(h.id)
        .order_by(h.id)
    )


def frame_from_rows(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> FeatureFrame:
    """A frame from rows of :func:`feature_select` (column ``names`` as the result reports them)."""
    if not rows:
        return empty_frame()
    columns = dict(zip(names, zip(*rows, strict=True), strict=True))
    return build_frame(columns, keys=columns[KEY])
