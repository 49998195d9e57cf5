"""Welfare metrics, the PMT and the labelled-file checks on small hand-made data (no database)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.welfare.errors import WelfareDataError
from core.welfare.evaluate import evaluate, relative_improvement, targeting
from core.welfare.features import CATEGORICAL_NAMES, INPUT_COLUMNS, LABEL, NUMERIC_NAMES, build_frame
from core.welfare.labelled import held_out_mask, read_labelled_csv, require_rows
from core.welfare.pmt import ProxyMeansTest


def test_targeting_by_hand() -> None:
    truth = np.arange(1.0, 11.0)  # household i has measured consumption i: 1 and 2 are the poorest fifth
    predicted = np.array([2.0, 9.0, 1.0, 4.0, 5.0, 6.0, 7.0, 8.0, 3.0, 10.0])  # picks households 3 and 1 at 20%
    at_20 = targeting(truth, predicted, 0.20)
    assert at_20.households == 2
    assert at_20.exclusion_error == 0.5  # household 2 (predicted 9.0) is missed
    assert at_20.inclusion_error == 0.5  # household 3 is taken instead
    at_40 = targeting(truth, predicted, 0.40)  # poorest: 1-4; taken: 3, 1, 9, 4 -> 2 is missed
    assert at_40.households == 4 and at_40.exclusion_error == 0.25 and at_40.inclusion_error == 0.25
    at_10 = targeting(truth, predicted, 0.10)  # the poorest is 1; the model takes household 3
    assert at_10.exclusion_error == 1.0


def test_spearman_by_hand() -> None:
    truth = np.arange(1.0, 11.0)
    predicted = np.array([2.0, 9.0, 1.0, 4.0, 5.0, 6.0, 7.0, 8.0, 3.0, 10.0])
    d = np.argsort(np.argsort(predicted)) - np.argsort(np.argsort(truth))
    expected = 1 - 6 * float(np.sum(d**2)) / (10 * (10**2 - 1))
    result = evaluate(truth, predicted)
    assert result.spearman == pytest.approx(expected)
    assert result.rmse == pytest.approx(np.sqrt(np.mean((truth - predicted) ** 2)))
    assert [t.coverage for t in result.targeting] == [0.1, 0.2, 0.3, 0.4]
    perfect = evaluate(truth, truth * 3)
    assert perfect.spearman == pytest.approx(1.0) and all(t.exclusion_error == 0 for t in perfect.targeting)
    assert relative_improvement(perfect, result) == 1.0


def _columns(rows: int, rng: np.random.Generator) -> dict[str, object]:
    columns: dict[str, object] = {}
    for name in INPUT_COLUMNS:
        if name in CATEGORICAL_NAMES:
            columns[name] = rng.choice(["a", "b", "c"], rows).astype(object)
        else:
            columns[name] = rng.integers(1, 6, rows).astype(float)
    return columns


def test_pmt_recovers_weights_and_scores_unseen_answers_as_the_reference() -> None:
    rng = np.random.default_rng(5)
    columns = _columns(3000, rng)
    floor = np.asarray(columns["floor_material"])
    target = 12.0 + 0.1 * np.asarray(columns["floor_area"]) - 0.3 * (floor == "c") + rng.normal(0, 0.01, 3000)
    frame = build_frame(columns)
    pmt = ProxyMeansTest.fit(frame, target, ridge=0.0)
    assert pmt.numeric["floor_area"] == pytest.approx(0.1, abs=0.005)
    weights = pmt.categorical["floor_material"].weights
    assert weights["c"] - weights["a"] == pytest.approx(-0.3, abs=0.01)
    assert np.allclose(pmt.predict(frame).scores, target, atol=0.05)

    one = {name: np.asarray(values)[:1].copy() for name, values in columns.items()}
    one["floor_material"] = np.array(["rammed_earth"], dtype=object)  # never seen in training
    reference = dict(one, floor_material=np.array([pmt.categorical["floor_material"].reference], dtype=object))
    unseen = pmt.predict(build_frame(one))
    assert unseen.unseen == {"floor_material": 1}
    assert unseen.scores[0] == pytest.approx(pmt.predict(build_frame(reference)).scores[0])
    contributions = pmt.contributions(frame)
    assert np.allclose(contributions.base + contributions.effects.sum(axis=1), pmt.predict(frame).scores)


def test_split_is_seeded_and_stable_per_household() -> None:
    keys = np.arange(1, 20_001, dtype=np.int64) * 7919
    mask = held_out_mask(keys, 0.25, 11)
    assert 0.23 < mask.mean() < 0.27
    assert np.array_equal(mask, held_out_mask(keys, 0.25, 11))
    assert np.array_equal(mask[:100], held_out_mask(keys[:100], 0.25, 11))  # more households, same sides
    assert not np.array_equal(mask, held_out_mask(keys, 0.25, 12))


def _write(path: Path, rows: int, **changes: object) -> Path:
    table = pd.DataFrame(_columns(rows, np.random.default_rng(1)))
    table[LABEL] = 600_000.0
    for name, value in changes.items():
        if value is None:
            del table[name]
        else:
            table[name] = value
    table.to_csv(path, index=False)
    return path


def test_labelled_file_refusals(tmp_path: Path) -> None:
    good = read_labelled_csv(_write(tmp_path / "good.csv", 50))
    assert len(good) == 50 and good.frame.numeric.shape == (50, len(NUMERIC_NAMES))
    with pytest.raises(WelfareDataError, match="too few|at least 200"):
        require_rows(good)
    with pytest.raises(WelfareDataError, match="lacks column.*floor_area.*head_age"):
        read_labelled_csv(_write(tmp_path / "missing.csv", 50, floor_area=None, head_age=None))
    with pytest.raises(WelfareDataError, match="consumption_per_capita must be a positive number.*'poor'"):
        read_labelled_csv(_write(tmp_path / "text.csv", 50, consumption_per_capita=["poor"] * 50))
    nan_area = [1.0] * 49 + [float("nan")]
    with pytest.raises(WelfareDataError, match="column floor_area must hold numbers, but row 50 is empty"):
        read_labelled_csv(_write(tmp_path / "nan.csv", 50, floor_area=nan_area))
    with pytest.raises(WelfareDataError, match="column toilet: 1 row"):
        read_labelled_csv(_write(tmp_path / "blank.csv", 50, toilet=["private"] * 49 + [" "]))
    with pytest.raises(WelfareDataError, match="cannot read"):
        (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
        read_labelled_csv(tmp_path / "binary.csv")
