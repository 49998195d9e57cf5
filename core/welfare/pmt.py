"""The Proxy Means Test: a ridge regression of log consumption per capita with weights anyone can read.

As the official PMT, the score is a constant plus one weight per numeric variable and one weight
per answer of each categorical variable. Each categorical's most common training answer is its
*reference* (weight 0); an answer the model never saw in training is scored as the reference and
counted in ``Prediction.unseen``, so the operator is told. The saved file is plain JSON.

Numeric columns are standardised for the fit (so the ridge penalty treats them alike) and the
weights are converted back to the original units before they are stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.welfare.errors import ModelFileError
from core.welfare.features import CATEGORICAL_NAMES, FEATURE_SET, NUMERIC_NAMES, FeatureFrame
from core.welfare.model import Contributions, ModelKind, Prediction

DEFAULT_RIDGE = 1.0
FIT_CHUNK = 100_000


def _dummy_plan(column: pd.Categorical) -> tuple[str, np.ndarray]:
    """The reference answer (the most common) and the codes of the other answers present."""
    counts = np.bincount(column.codes, minlength=len(column.categories))
    reference = int(np.argmax(counts))
    others = np.flatnonzero(counts > 0)
    return str(column.categories[reference]), others[others != reference]


def _design(
    frame: FeatureFrame, rows: slice, means: np.ndarray, scale: np.ndarray, plan: list[tuple[str, np.ndarray]]
) -> np.ndarray:
    """Standardised numeric columns, then one 0/1 column per non-reference answer, for ``rows``."""
    blocks = [(frame.numeric[rows] - means) / scale]
    for column, (_, codes) in zip(frame.categorical, plan, strict=True):
        blocks.append((column.codes[rows][:, None] == codes[None, :]).astype(np.float64))
    return np.hstack(blocks)


@dataclass(slots=True)
class CategoryWeights:
    reference: str
    weights: dict[str, float]  # every training answer, the reference at 0.0
    mean: float  # average weight over the training households (the explanation's baseline)

    def lookup(self, column: pd.Categorical) -> tuple[np.ndarray, int]:
        """Each row's weight, and how many rows hold an answer never seen in training."""
        levels = list(column.categories)
        known = np.array([level in self.weights for level in levels] + [False], dtype=bool)
        table = np.array([self.weights.get(level, 0.0) for level in levels] + [0.0])
        codes = column.codes  # -1 never occurs (features refuse blanks) but indexes the trailing 0.0 safely
        return table[codes], int((~known[codes]).sum())


@dataclass(slots=True)
class ProxyMeansTest:
    intercept: float
    numeric: dict[str, float]  # weight per unit of each numeric feature
    numeric_means: dict[str, float]
    categorical: dict[str, CategoryWeights]
    ridge: float
    kind: ModelKind = ModelKind.PMT

    @classmethod
    def fit(cls, frame: FeatureFrame, target: np.ndarray, ridge: float = DEFAULT_RIDGE) -> ProxyMeansTest:
        means = frame.numeric.mean(axis=0)
        spread = frame.numeric.std(axis=0)
        scale = np.where(spread > 0, spread, 1.0)
        plan = [_dummy_plan(column) for column in frame.categorical]
        # The normal equations of the centred design, accumulated a chunk of rows at a time so that a
        # million households never need the whole dummy-coded matrix in memory.
        width = len(NUMERIC_NAMES) + sum(len(codes) for _, codes in plan)
        gram = np.zeros((width, width))
        moment = np.zeros(width)
        totals = np.zeros(width)
        goal = target - target.mean()
        for start in range(0, len(frame), FIT_CHUNK):
            rows = slice(start, start + FIT_CHUNK)
            design = _design(frame, rows, means, scale, plan)
            gram += design.T @ design
            moment += design.T @ goal[rows]
            totals += design.sum(axis=0)
        centre = totals / len(frame)
        gram -= len(frame) * np.outer(centre, centre)  # the Gram matrix of (design - centre); goal sums to 0
        solution = np.linalg.solve(gram + ridge * np.eye(width), moment)
        dummy_plan = [
            (name, reference, [str(column.categories[code]) for code in codes])
            for name, column, (reference, codes) in zip(CATEGORICAL_NAMES, frame.categorical, plan, strict=True)
        ]

        numeric_weights = solution[: len(NUMERIC_NAMES)] / scale
        categorical: dict[str, CategoryWeights] = {}
        offset = len(NUMERIC_NAMES)
        for (name, reference, others), column in zip(dummy_plan, frame.categorical, strict=True):
            fitted = solution[offset : offset + len(others)]
            weights = {reference: 0.0, **{lvl: float(w) for lvl, w in zip(others, fitted, strict=True)}}
            offset += len(others)
            rows, _ = CategoryWeights(reference, weights, 0.0).lookup(column)
            categorical[name] = CategoryWeights(reference, weights, float(rows.mean()))
        # The fit predicted target.mean() + (design - centre) @ solution; in original units that is:
        intercept = float(target.mean() - numeric_weights @ means - sum(c.mean for c in categorical.values()))
        return cls(
            intercept=intercept,
            numeric=dict(zip(NUMERIC_NAMES, map(float, numeric_weights), strict=True)),
            numeric_means=dict(zip(NUMERIC_NAMES, map(float, means), strict=True)),
            categorical=categorical,
            ridge=ridge,
        )

    def _numeric_weights(self) -> np.ndarray:
        return np.array([self.numeric[name] for name in NUMERIC_NAMES])

    def predict(self, frame: FeatureFrame) -> Prediction:
        scores = self.intercept + frame.numeric @ self._numeric_weights()
        unseen: dict[str, int] = {}
        for name, column in zip(CATEGORICAL_NAMES, frame.categorical, strict=True):
            weights, missing = self.categorical[name].lookup(column)
            scores = scores + weights
            if missing:
                unseen[name] = missing
        return Prediction(scores=scores, unseen=unseen)

    def contributions(self, frame: FeatureFrame) -> Contributions:
        """Exact for a linear model: each weight times the household's distance from the training average."""
        means = np.array([self.numeric_means[name] for name in NUMERIC_NAMES])
        numeric = (frame.numeric - means) * self._numeric_weights()
        categorical = [
            self.categorical[name].lookup(column)[0] - self.categorical[name].mean
            for name, column in zip(CATEGORICAL_NAMES, frame.categorical, strict=True)
        ]
        effects = np.column_stack([numeric, *categorical]) if len(frame) else np.empty((0, len(NUMERIC_NAMES)))
        base = self.intercept + means @ self._numeric_weights() + sum(c.mean for c in self.categorical.values())
        return Contributions(base=np.full(len(frame), base), effects=effects)

    def parameters(self) -> dict[str, Any]:
        return {"ridge": self.ridge}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "feature_set": FEATURE_SET,
            "ridge": self.ridge,
            "intercept": self.intercept,
            "numeric": {
                name: {"weight": self.numeric[name], "mean": self.numeric_means[name]} for name in NUMERIC_NAMES
            },
            "categorical": {
                name: {"reference": c.reference, "mean": c.mean, "weights": c.weights}
                for name, c in self.categorical.items()
            },
        }

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ProxyMeansTest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read the PMT file {path.name}: {exc}") from None
        if not isinstance(data, dict) or data.get("kind") != ModelKind.PMT.value:
            raise ModelFileError(f"{path.name} is not a SIKS PMT model file")
        if data.get("feature_set") != FEATURE_SET:
            raise ModelFileError(
                f"{path.name} was made for feature set {data.get('feature_set')!r}, but this SIKS uses "
                f"{FEATURE_SET!r}; train a new model"
            )
        try:
            return cls(
                intercept=float(data["intercept"]),
                numeric={name: float(data["numeric"][name]["weight"]) for name in NUMERIC_NAMES},
                numeric_means={name: float(data["numeric"][name]["mean"]) for name in NUMERIC_NAMES},
                categorical={
                    name: CategoryWeights(
                        reference=str(data["categorical"][name]["reference"]),
                        weights={str(k): float(v) for k, v in data["categorical"][name]["weights"].items()},
                        mean=float(data["categorical"][name]["mean"]),
                    )
                    for name in CATEGORICAL_NAMES
                },
                ridge=float(data["ridge"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(f"{path.name} is damaged: missing or bad entry {exc}") from None
