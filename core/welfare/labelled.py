"""Labelled households (features plus measured consumption) for training and evaluation, and their split.

Two sources, one result: the registry's survey sample (households with a ``welfare_surveys`` row)
or a CSV file in the layout of docs/welfare-ranking.md — the input columns of ``features``, the
label ``consumption_per_capita`` (Rupiah per person per month, above zero) and optionally
``household_id``. The held-out split is decided per household by a seeded hash of its key, so a
household stays on the same side when more surveys arrive.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.foundation.spreadsheet import safe_cell
from core.storage.records import HOUSEHOLDS
from core.welfare.errors import WelfareDataError
from core.welfare.features import (
    BY_NAME,
    CATEGORICAL_NAMES,
    INPUT_COLUMNS,
    KEY,
    LABEL,
    NUMERIC_NAMES,
    FeatureFrame,
    FeatureInputError,
    build_frame,
    feature_select,
    frame_from_rows,
)

MIN_TRAINING_ROWS = 200
DEFAULT_HOLDOUT_SHARE = 0.25
DEFAULT_SPLIT_SEED = 20240601
READ_BATCH = 50_000
DATABASE_SOURCE = "survey sample in the registry"


@dataclass(slots=True)
class LabelledData:
    frame: FeatureFrame
    target: np.ndarray  # natural log of consumption per capita
    source: str
    checksum: str  # sha256 of what was read, recorded with every model trained on it

    def __len__(self) -> int:
        return len(self.frame)

    def take(self, rows: np.ndarray) -> LabelledData:
        return LabelledData(self.frame.take(rows), self.target[rows], self.source, self.checksum)

    def split(self, holdout_share: float, seed: int) -> tuple[LabelledData, LabelledData]:
        """(training, held-out): each household's side follows from its key and ``seed`` alone."""
        held_out = held_out_mask(self.frame.keys, holdout_share, seed)
        return self.take(np.flatnonzero(~held_out)), self.take(np.flatnonzero(held_out))


def held_out_mask(keys: np.ndarray, share: float, seed: int) -> np.ndarray:
    """True for the keys on the held-out side: a splitmix64 hash of (key, seed) below ``share``."""
    if not 0 < share < 1:
        raise WelfareDataError(f"the held-out share must be between 0 and 1, not {share}")
    with np.errstate(over="ignore"):
        x = keys.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53) < share


def require_rows(data: LabelledData, minimum: int = MIN_TRAINING_ROWS, purpose: str = "training") -> None:
    if len(data) < minimum:
        raise WelfareDataError(
            f"{purpose} needs at least {minimum} labelled households, but the {data.source} has {len(data)}; "
            "add survey results or use a larger file"
        )


def _log_label(values: Any, source: str) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers) | (numbers <= 0))
    if len(bad):
        raise WelfareDataError(
            f"{source}: {LABEL} must be a positive number of Rupiah per person per month; row {int(bad[0]) + 1} "
            f"holds {str(values[int(bad[0])])[:20]!r} ({len(bad)} such row(s))"
        )
    return np.log(numbers)


def _checksum(frame: FeatureFrame, target: np.ndarray) -> str:
    digest = frame.fingerprint()
    digest.update(np.ascontiguousarray(target).tobytes())
    return digest.hexdigest()


async def labelled_batches(
    conn: AsyncConnection, as_of: date, where: list[ColumnElement[bool]], batch_size: int
) -> AsyncIterator[tuple[list[str], list[Any]]]:
    """Surveyed households' feature rows in id order, ``batch_size`` at a time (keyset pages)."""
    after = None
    while True:
        query = feature_select(as_of, labelled=True).where(*where).limit(batch_size)
        if after is not None:
            query = query.where(HOUSEHOLDS.c.id > after)
        result = await conn.execute(query)
        names, rows = list(result.keys()), result.all()
        if not rows:
            return
        yield names, rows
        after = rows[-1][0]


async def survey_sample(
    engine: AsyncEngine, as_of: date, batch_size: int = READ_BATCH, limit: int | None = None
) -> LabelledData:
    """Every active surveyed household (the first ``limit`` by id if given) with its features (ages as of
    ``as_of``) and log consumption."""
    frames, labels = [], []
    read = 0
    async with engine.connect() as conn:
        async for names, rows in labelled_batches(conn, as_of, [], batch_size):
            rows = rows if limit is None else rows[: limit - read]
            frames.append(frame_from_rows(names, rows))
            labels.append(np.log(np.asarray([row[-1] for row in rows], dtype=np.float64)))
            read += len(rows)
            if limit is not None and read >= limit:
                break
    frame = FeatureFrame.concat(frames)
    target = np.concatenate(labels) if labels else np.empty(0)
    return LabelledData(frame, target, DATABASE_SOURCE, _checksum(frame, target))


def read_labelled_csv(path: Path) -> LabelledData:
    """A labelled file in the documented layout; WelfareDataError names the first problem found."""
    source = path.name
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise WelfareDataError(f"cannot read {source} as CSV: {str(exc).splitlines()[0][:200]}") from None
    missing = [name for name in (*INPUT_COLUMNS, LABEL) if name not in table.columns]
    if missing:
        raise WelfareDataError(
            f"{source} lacks column(s) {', '.join(missing)}; see docs/welfare-ranking.md for the layout"
        )
    columns: dict[str, Any] = {}
    for name in INPUT_COLUMNS:
        values = table[name].to_numpy(dtype=object)
        columns[name] = values if BY_NAME[name].categorical else _file_numbers(source, name, values)
    keys = _file_keys(source, table[KEY]) if KEY in table.columns else None
    try:
        frame = build_frame(columns, keys=keys)
    except FeatureInputError as exc:
        raise WelfareDataError(f"{source}: {exc}") from None
    target = _log_label(table[LABEL].to_numpy(dtype=object), source)
    return LabelledData(frame, target, source, hashlib.sha256(path.read_bytes()).hexdigest())


def labelled_table(data: LabelledData) -> pd.DataFrame:
    """``data`` in the CSV layout: ``household_id``, the input columns and ``consumption_per_capita``."""
    table: dict[str, Any] = {KEY: data.frame.keys}
    for name in INPUT_COLUMNS:
        feature = BY_NAME[name]
        if feature.categorical:
            table[name] = np.asarray(data.frame.categorical[CATEGORICAL_NAMES.index(name)], dtype=object)
        else:
            values = data.frame.numeric[:, NUMERIC_NAMES.index(name)]
            table[name] = values.astype(np.int64) if feature.boolean or np.all(values == np.round(values)) else values
    table[LABEL] = np.round(np.exp(data.target), 2)
    return pd.DataFrame(table)


def write_labelled_csv(data: LabelledData, path: Path) -> None:
    """``data`` as a CSV file whose text cells a spreadsheet never runs as formulas
    (``core.foundation.spreadsheet``)."""
    table = labelled_table(data)
    text = [name for name in INPUT_COLUMNS if BY_NAME[name].categorical]
    table[text] = table[text].map(safe_cell)
    table.to_csv(path, index=False)


def _file_numbers(source: str, name: str, values: np.ndarray) -> np.ndarray:
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if len(bad):
        first = int(bad[0])
        shown = "empty" if values[first] is None or pd.isna(values[first]) else repr(str(values[first])[:20])
        raise WelfareDataError(
            f"{source}: column {name} must hold numbers, but row {first + 1} is {shown} ({len(bad)} such row(s)); "
            "fill in or remove those rows"
        )
    return numbers


def _file_keys(source: str, values: pd.Series) -> np.ndarray:
    """Household ids as exact 64-bit integers (SIKS ids do not fit a float)."""
    keys = pd.to_numeric(values, errors="coerce")
    if keys.dtype.kind != "i" or keys.duplicated().any():
        raise WelfareDataError(
            f"{source}: {KEY} must be distinct whole numbers when present; remove the column or fix it"
        )
    return keys.to_numpy(dtype=np.int64)
