"""What every kind of welfare model offers: predict, explain, save; and how a saved one is loaded back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import lazy_loader

from core.welfare.features import FeatureFrame

# imported when first used (a fast cold start, docs/operations.md)
np = lazy_loader.load("numpy")


class ModelKind(StrEnum):
    PMT = "pmt"  # Proxy Means Test: a ridge regression with readable weights
    CATBOOST = "catboost"  # gradient-boosted trees, categoricals handled natively


SUFFIX: dict[ModelKind, str] = {ModelKind.PMT: ".json", ModelKind.CATBOOST: ".cbm"}


@dataclass(frozen=True, slots=True)
class Prediction:
    """Scores (predicted log consumption per capita) and, per feature, how many answers the model never saw."""

    scores: np.ndarray
    unseen: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Contributions:
    """Per household and feature (FEATURES order), how much the feature moved the score from ``base``."""

    base: np.ndarray  # shape (rows,)
    effects: np.ndarray  # shape (rows, len(FEATURES))


class WelfareModel(Protocol):
    kind: ModelKind

    def predict(self, frame: FeatureFrame) -> Prediction: ...

    def contributions(self, frame: FeatureFrame) -> Contributions: ...

    def parameters(self) -> dict[str, Any]: ...

    def save(self, path: Path) -> None: ...


def load_model(kind: ModelKind, path: Path) -> WelfareModel:
    """The model saved at ``path``; ModelFileError if it is unreadable or made for another feature set."""
    if kind is ModelKind.PMT:
        from core.welfare.pmt import ProxyMeansTest

        return ProxyMeansTest.load(path)
    from core.welfare.catboost_model import CatBoostWelfare

    return CatBoostWelfare.load(path)
