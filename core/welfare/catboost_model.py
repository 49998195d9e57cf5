"""The CatBoost welfare model: gradient-boosted trees on the same features, categoricals handled natively.

Categorical answers go to CatBoost as pandas categoricals, which it hashes once per distinct
answer instead of once per row; an answer never seen in training is simply a category without
a learnt split (CatBoost's own handling). Training is seeded and single-process deterministic:
the same data and parameters give the same model. The feature set is written into the model
file's metadata and checked on load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostError, CatBoostRegressor, Pool

from core.welfare.errors import ModelFileError
from core.welfare.features import CATEGORICAL_NAMES, FEATURE_NAMES, FEATURE_SET, FeatureFrame
from core.welfare.model import Contributions, ModelKind, Prediction

FEATURE_SET_KEY = "siks_feature_set"


@dataclass(frozen=True, slots=True)
class CatBoostSettings:
    """Defaults that work without tuning on survey samples of a few thousand to a million households."""

    iterations: int = 300
    depth: int = 6
    learning_rate: float = 0.1
    l2_leaf_reg: float = 3.0
    one_hot_max_size: int = 40  # every unified-database answer list, and the 38 provinces, one-hot encoded
    border_count: int = 64  # 128 or 254 borders cost a quarter more time for no accuracy on the demo
    seed: int = 1

    def catboost_params(self) -> dict[str, Any]:
        values = asdict(self)
        seed = values.pop("seed")
        return {
            **values,
            "loss_function": "RMSE",
            "random_seed": seed,
            "thread_count": -1,
            "allow_writing_files": False,
            "verbose": False,
        }


@dataclass(slots=True)
class CatBoostWelfare:
    model: CatBoostRegressor
    settings: CatBoostSettings
    kind: ModelKind = ModelKind.CATBOOST

    @classmethod
    def fit(cls, frame: FeatureFrame, target: np.ndarray, settings: CatBoostSettings | None = None) -> CatBoostWelfare:
        settings = settings or CatBoostSettings()
        model = CatBoostRegressor(**settings.catboost_params())
        model.fit(Pool(frame.to_pandas(), label=target, cat_features=list(CATEGORICAL_NAMES)))
        return cls(model=model, settings=settings)

    def _pool(self, frame: FeatureFrame) -> Pool:
        return Pool(frame.to_pandas(), cat_features=list(CATEGORICAL_NAMES))

    def predict(self, frame: FeatureFrame) -> Prediction:
        if not len(frame):
            return Prediction(scores=np.empty(0))
        return Prediction(scores=np.asarray(self.model.predict(frame.to_pandas()), dtype=np.float64))

    def contributions(self, frame: FeatureFrame) -> Contributions:
        """SHAP values: each feature's share of the distance between this household's score and the average."""
        shap = np.asarray(self.model.get_feature_importance(self._pool(frame), type="ShapValues"), dtype=np.float64)
        return Contributions(base=shap[:, -1], effects=shap[:, :-1])

    def parameters(self) -> dict[str, Any]:
        return asdict(self.settings)

    def save(self, path: Path) -> None:
        self.model.get_metadata()[FEATURE_SET_KEY] = FEATURE_SET
        self.model.save_model(str(path), format="cbm")

    @classmethod
    def load(cls, path: Path) -> CatBoostWelfare:
        model = CatBoostRegressor()
        try:
            model.load_model(str(path), format="cbm")
        except (CatBoostError, OSError) as exc:
            raise ModelFileError(
                f"cannot read the CatBoost file {path.name}: {str(exc).splitlines()[0][:200]}"
            ) from None
        feature_set = dict(model.get_metadata()).get(FEATURE_SET_KEY)
        if feature_set != FEATURE_SET or tuple(model.feature_names_ or ()) != FEATURE_NAMES:
            raise ModelFileError(
                f"{path.name} was made for another feature set ({feature_set or 'not a SIKS model'}), but this SIKS "
                f"uses {FEATURE_SET!r}; train a new model"
            )
        params = model.get_all_params()
        known = {name: params[name] for name in CatBoostSettings.__dataclass_fields__ if name in params}
        if "random_seed" in params:
            known["seed"] = params["random_seed"]
        return cls(model=model, settings=CatBoostSettings(**known))
