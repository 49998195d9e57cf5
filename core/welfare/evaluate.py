"""How well a model finds the poorest: rank correlation and targeting errors on held-out households.

At a coverage of ``c`` (10, 20, 30, 40% of the households), a program takes the ``k = round(c·n)``
households the model scores lowest; the truly poor are the ``k`` with the lowest measured
consumption. *Inclusion error* is the share of those taken who are not truly poor (leakage);
*exclusion error* is the share of the truly poor left out (undercoverage). With the same share on
both sides the two counts are equal, so the errors coincide; both are reported, as in the
literature (Alatas et al. 2012 quote exclusion against a poverty line).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import lazy_loader

# imported when first used (a fast cold start, docs/operations.md)
np = lazy_loader.load("numpy")

COVERAGES: tuple[float, ...] = (0.10, 0.20, 0.30, 0.40)


@dataclass(frozen=True, slots=True)
class Targeting:
    """Errors when a program covers ``coverage`` of the households by the model's ranking."""

    coverage: float
    households: int  # how many are taken (and how many are truly poor)
    inclusion_error: float
    exclusion_error: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A model's accuracy on ``rows`` held-out households (scores are log consumption per capita)."""

    rows: int
    spearman: float
    rmse: float
    r2: float
    targeting: tuple[Targeting, ...]

    def at(self, coverage: float) -> Targeting:
        return next(t for t in self.targeting if abs(t.coverage - coverage) < 1e-9)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the targeting as a list), as stored with the model."""
        return {**asdict(self), "targeting": [asdict(t) for t in self.targeting]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        return cls(
            rows=int(data["rows"]),
            spearman=float(data["spearman"]),
            rmse=float(data["rmse"]),
            r2=float(data["r2"]),
            targeting=tuple(Targeting(**t) for t in data["targeting"]),
        )


def _lowest(values: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` lowest values; ties go to the earlier row, so the choice is deterministic."""
    return np.argsort(values, kind="stable")[:count]


def targeting(truth: np.ndarray, predicted: np.ndarray, coverage: float) -> Targeting:
    count = max(1, round(coverage * len(truth)))
    taken = np.zeros(len(truth), dtype=bool)
    taken[_lowest(predicted, count)] = True
    poor = np.zeros(len(truth), dtype=bool)
    poor[_lowest(truth, count)] = True
    return Targeting(
        coverage=coverage,
        households=count,
        inclusion_error=float((taken & ~poor).sum() / taken.sum()),
        exclusion_error=float((poor & ~taken).sum() / poor.sum()),
    )


def evaluate(truth: np.ndarray, predicted: np.ndarray, coverages: tuple[float, ...] = COVERAGES) -> Evaluation:
    """Compare predicted with measured log consumption per capita of the same households."""
    from scipy.stats import spearmanr  # noqa: PLC0415  (scipy takes seconds to import: only when evaluating)

    truth = np.asarray(truth, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if truth.shape != predicted.shape or len(truth) < 2:
        raise ValueError("evaluation needs at least two households with both a measurement and a prediction")
    residual = truth - predicted
    spread = float(np.sum((truth - truth.mean()) ** 2))
    return Evaluation(
        rows=len(truth),
        spearman=float(spearmanr(truth, predicted).statistic),
        rmse=float(np.sqrt(np.mean(residual**2))),
        r2=1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 0.0,
        targeting=tuple(targeting(truth, predicted, c) for c in coverages),
    )


def relative_improvement(model: Evaluation, baseline: Evaluation, coverage: float = 0.40) -> float:
    """How much lower ``model``'s exclusion error is than ``baseline``'s, as a share of the baseline's (0.1 = 10%)."""
    base = baseline.at(coverage).exclusion_error
    return (base - model.at(coverage).exclusion_error) / base if base > 0 else 0.0
