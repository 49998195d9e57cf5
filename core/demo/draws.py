"""Vectorised random draws shared by the demo modules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

_NORMAL = NormalDist()


def ordered_draw(rng: np.random.Generator, signal: Floats, shares: Sequence[float], loading: float) -> Ints:
    """An ordered-probit category per row: 0 = the first share (the poorest answer) upward.

    ``signal`` is roughly standard normal; ``loading`` (0 to 1) is how strongly it drives the answer.
    With a standard normal signal the categories keep ``shares`` overall.
    """
    total = float(sum(shares))
    cumulative = np.cumsum(shares)[:-1] / total
    cuts = np.array([_NORMAL.inv_cdf(min(max(c, 1e-9), 1 - 1e-9)) for c in cumulative])
    latent = loading * signal + np.sqrt(1 - loading**2) * rng.standard_normal(len(signal))
    return np.searchsorted(cuts, latent).astype(np.int64)


def has_item(rng: np.random.Generator, signal: Floats, share: float, loading: float) -> Bools:
    """True for about ``share`` of rows, more often where ``signal`` is high."""
    return ordered_draw(rng, signal, (1 - share, share), loading) == 1


def weighted_choice(rng: np.random.Generator, weights: Floats) -> Ints:
    """One column index per row of ``weights`` (rows need not sum to 1)."""
    cumulative = np.cumsum(weights, axis=1)
    point = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative <= point[:, None]).sum(axis=1), weights.shape[1] - 1).astype(np.int64)


def pick(values: Sequence[str], index: Ints) -> list[str]:
    """``values[i]`` for each index, as a plain list."""
    table = np.array(values, dtype=object)
    return table[index].tolist()  # type: ignore[no-any-return]


def group_max(groups: Ints, values: NDArray[np.int64] | Floats, size: int, initial: float) -> Floats:
    """The largest value per group index (``initial`` for empty groups)."""
    result = np.full(size, initial, dtype=np.float64)
    np.maximum.at(result, groups, values)
    return result


def calendar(days: Ints) -> tuple[Ints, Ints, Ints]:
    """Year, month and day of each day number (days since 1970-01-01)."""
    stamp = days.astype("datetime64[D]")
    months = stamp.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (stamp - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return int(np.datetime64(day, "D").astype(np.int64))
