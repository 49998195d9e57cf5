"""Speed and memory of the identity matcher (core/identity/linkage.py) at national scale, on made-up people.

    python -m bench.identity_speed link [--members 50000] [--reference 1100000]
    python -m bench.identity_speed dedupe [--people 1000000]

``link``: members without a NIK against a civil-registry-sized reference: 90 % of them are in the
reference, written another way (a name variant of ``core.demo.name_variants`` for 60 %, a day/month
swap for 10 %, registered in another regency for 5 %), 10 % are not. ``dedupe``: 1 % of the people
are registered a second time, with a name variant and half of them with a one-digit NIK typo.
Prints the time of the call, the peak memory of the process (``getrusage``, generation included)
and, for what it is worth, how many of the planted pairs came back (best pair per member for
``link``).
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date

import numpy as np
import pandas as pd

from core.demo.name_variants import MIDDLE_NAMES, apply_variant
from core.demo.names import FEMALE_GIVEN, FEMALE_SECOND, MALE_GIVEN, MALE_SECOND
from core.identity.linkage import dedupe, link

REGENCIES = 514


def people(size: int, rng: np.random.Generator, first_key: int = 1) -> pd.DataFrame:
    """Made-up Indonesians: one to three names, birth dates over 90 years, villages in 514 regencies."""
    female = rng.random(size) < 0.5

    def drawn(female_words: tuple[str, ...], male_words: tuple[str, ...]) -> np.ndarray:
        f = np.array(female_words, dtype=object)[rng.integers(len(female_words), size=size)]
        m = np.array(male_words, dtype=object)[rng.integers(len(male_words), size=size)]
        return np.where(female, f, m)

    given = drawn(FEMALE_GIVEN, MALE_GIVEN)
    middle = np.array(MIDDLE_NAMES, dtype=object)[rng.integers(len(MIDDLE_NAMES), size=size)]
    second = drawn(FEMALE_SECOND, MALE_SECOND)
    shape = rng.random(size)
    names = np.where(
        shape < 0.1, given, np.where(shape < 0.4, given + " " + middle + " " + second, given + " " + second)
    )
    regency = rng.integers(REGENCIES, size=size)
    province = 11 + regency // 20
    region = pd.Series(
        [
            f"{p:02d}.{r % 20 + 1:02d}.{d:02d}.{2000 + v}"
            for p, r, d, v in zip(
                province, regency, rng.integers(1, 25, size=size), rng.integers(1, 20, size=size), strict=True
            )
        ]
    )
    born = pd.to_datetime(date(1935, 1, 1)) + pd.to_timedelta(rng.integers(0, 90 * 365, size=size), unit="D")
    nik = pd.Series(rng.integers(10**15, 10**16, size=size)).astype(str)
    return pd.DataFrame(
        {
            "key": np.arange(first_key, first_key + size, dtype=np.int64),
            "name": names,
            "birth_date": born.date,
            "sex": np.where(female, "female", "male"),
            "region_code": region,
            "nik": nik,
        }
    )


def variants(frame: pd.DataFrame, rng: np.random.Generator, share: float) -> list[str]:
    out = []
    for name, sex in zip(frame["name"], frame["sex"], strict=True):
        variant = apply_variant(name, sex == "female", lambda n: int(rng.integers(n))) if rng.random() < share else None
        out.append(variant.name if variant else name)
    return out


def _swap(day: date) -> date:
    try:
        return date(day.year, day.day, day.month) if day.day <= 12 else day
    except ValueError:
        return day


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_link(members: int, reference_size: int) -> None:
    rng = np.random.default_rng(14)
    reference = people(reference_size, rng)
    known = int(members * 0.9)
    picked = reference.iloc[rng.choice(reference_size, known, replace=False)].copy()
    truth = dict(zip(np.arange(10**8, 10**8 + known), picked["key"], strict=True))
    picked["key"] = np.arange(10**8, 10**8 + known)
    picked["name"] = variants(picked, rng, 0.6)
    swap = rng.random(known) < 0.1
    picked.loc[swap, "birth_date"] = [_swap(d) for d in picked.loc[swap, "birth_date"]]
    moved = rng.random(known) < 0.05
    picked.loc[moved, "region_code"] = "99.99.99.2001"
    strangers = people(members - known, rng, first_key=2 * 10**8)
    unknown = pd.concat([picked, strangers], ignore_index=True).drop(columns=["nik"])
    print(f"made {len(unknown):,} members and {len(reference):,} reference persons; peak so far {_peak_mb():,.0f} MB")

    started = time.perf_counter()
    pairs = link(unknown, reference)
    took = time.perf_counter() - started
    best = pairs.sort_values("probability").groupby("left_key").tail(1)
    right = sum(truth.get(a) == b for a, b in zip(best["left_key"], best["right_key"], strict=True))
    wrong_strangers = int((best["left_key"] >= 2 * 10**8).sum())
    print(
        f"link {len(unknown):,} x {len(reference):,}: {took:.1f} s, peak {_peak_mb():,.0f} MB; {len(pairs):,} pairs; "
        f"best pair right for {right:,} of {known:,} planted ({right / known:.4f}), "
        f"{wrong_strangers:,} of {members - known:,} strangers paired"
    )


def bench_dedupe(size: int) -> None:
    rng = np.random.default_rng(15)
    twice = int(size * 0.01)
    base = people(size - twice, rng)
    again = base.iloc[rng.choice(len(base), twice, replace=False)].copy()
    truth = set(zip(again["key"], np.arange(10**8, 10**8 + twice), strict=True))
    again["key"] = np.arange(10**8, 10**8 + twice)
    again["name"] = variants(again, rng, 1.0)
    typo = rng.random(twice) < 0.5
    again.loc[typo, "nik"] = [n[:-1] + str((int(n[-1]) + 1) % 10) for n in again.loc[typo, "nik"]]
    frame = pd.concat([base, again], ignore_index=True)
    print(f"made {len(frame):,} people; peak so far {_peak_mb():,.0f} MB")

    started = time.perf_counter()
    pairs = dedupe(frame)
    took = time.perf_counter() - started
    found = set(zip(pairs["first_key"], pairs["second_key"], strict=True))
    hits = len(found & truth)
    print(
        f"dedupe {len(frame):,}: {took:.1f} s, peak {_peak_mb():,.0f} MB; {len(pairs):,} pairs; "
        f"{hits:,} of {twice:,} planted found (recall {hits / twice:.4f}, precision {hits / max(1, len(found)):.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["link", "dedupe"])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--reference", type=int, default=1_100_000)
    parser.add_argument("--people", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.mode == "link":
        bench_link(args.members, args.reference)
    else:
        bench_dedupe(args.people)


if __name__ == "__main__":
    main()
