"""Probabilistic record linkage: which rows of two frames (``link``) or of one (``dedupe``) are the same person.

A Fellegi–Sunter model: candidate pairs come from blocking (rows sharing a blocking key), each pair
gets one agreement level per comparison (string distances from rapidfuzz), and the m/u
probabilities of every level and the share of matches are estimated from the pairs themselves by
expectation maximisation (recordlinkage's ``ECM``: no labels). A pair's match probability is the
posterior of the fitted model.

The comparison set is a parameter (``Model``): ``PERSON`` is SIKS's person (name, birth date, sex,
village, and NIK, KK, birth place where present; ``PERSON_DEDUPE`` the same with the blocking for
one frame); ``bench/identity_bench.py`` builds another for the FEBRL data sets with the same engine.
When EM cannot be trusted (too few pairs, or a fit whose "match" class does not look like one) the
posterior is taken with fixed m and u counted on pairs of distinct people the same blocking finds
(``_fallback``). NIK and KK are compared as structured codes (``code`` with ``prefix``).
``PERSON_DEDUPE``, whose candidates all agree on birth date and region, is scored with u counted on
random pairs of rows instead (``random_pair_u``, ``_random_u_posterior``). How it was chosen and
measured: docs/identity-matching.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from recordlinkage.algorithms.nb_sklearn import ECM

from core.identity.names import normalise_name

PERSON_COLUMNS = ("key", "name", "birth_date", "sex", "region_code")
OPTIONAL_COLUMNS = ("nik", "kk", "birth_place")
LINK_COLUMNS = ("left_key", "right_key", "probability", "agreeing")
DEDUPE_COLUMNS = ("first_key", "second_key", "probability", "agreeing")

Levels = NDArray[np.int8]
MISSING = -1  # a level for "one side has no value": its own m/u, estimated like the others
#: Fewer candidate pairs than this and the m/u are not estimated (EM on a handful of pairs is noise):
#: each comparison's fallback m is used, u counted on the candidate pairs (``_fallback``).
MIN_PAIRS_TO_FIT = 1000
MIN_MATCH_AGREEMENT = 0.5
MAX_COMPARISONS = 15  # a pair's pattern is one int64, 4 bits per comparison
FALLBACK_WEIGHT = 100.0
#: the fallback's u of a link are counted on the pairs blocking finds inside (at most) this many
#: rows of the right frame: distinct people, blocked as the candidates are
NON_MATCH_SAMPLE = 5000
NAME_M = (0.02, 0.03, 0.1, 0.25, 0.6)
NAME_U = (0.93, 0.05, 0.015, 0.004, 0.001)
#: Jaro–Winkler similarity at which two given names (a name's first word) are alike: a typo, a
#: doubled letter (Muhamad / Muhammad is normalised before)
GIVEN_NAME_ALIKE = 0.85
#: a NIK is district (6 digits), birth date DDMMYY (+40 to the day for women), serial (4); a KK is
#: district, issue date, serial
NIK_PREFIX = 12


def _strings(values: pd.Series) -> NDArray[np.object_]:
    """Values as stripped str, missing and empty ones as None."""
    text = values.astype(object).where(values.notna(), None)
    if pd.api.types.infer_dtype(text, skipna=True) not in ("string", "empty"):
        text = text.map(lambda v: v if v is None else str(v))
    text = text.str.strip()
    return text.where(text.notna() & (text != ""), None).to_numpy(dtype=object)


Rows = NDArray[np.object_]
Positions = NDArray[np.int64]


class _Pairs:
    """The values of one column for every candidate pair, as codes of one shared factorisation:
    equality is an integer comparison, and a string distance is computed once per distinct pair
    of values (dates, villages and common names repeat a lot)."""

    def __init__(self, a: Rows, b: Rows, i: Positions, j: Positions) -> None:
        codes, self.uniques = pd.factorize(np.concatenate([a, b]), use_na_sentinel=True)
        self.a = codes[: len(a)][i]
        self.b = codes[len(a) :][j]
        self.missing = (self.a < 0) | (self.b < 0)
        self.equal = (self.a == self.b) & ~self.missing

    def scores(self, scorer: Any) -> NDArray[np.float64]:
        """scorer(value a, value b) for every pair that is neither missing nor equal (0 for those)."""
        out = np.zeros(len(self.a), dtype=np.float64)
        todo = ~self.missing & ~self.equal
        if not todo.any():
            return out
        combined = self.a[todo].astype(np.int64) * (len(self.uniques) + 1) + self.b[todo]
        which, distinct = pd.factorize(combined)
        n = len(self.uniques) + 1
        values = np.asarray(self.uniques, dtype=object)
        left = values[np.asarray(distinct) // n]
        right = values[np.asarray(distinct) % n]
        computed = np.asarray(process.cpdist(list(left), list(right), scorer=scorer, workers=-1), dtype=np.float64)
        out[todo] = computed[which]
        return out


def _finish(levels: NDArray[Any], pairs: _Pairs, top: int) -> Levels:
    out = np.asarray(levels, dtype=np.int8)
    out[pairs.equal] = top
    out[pairs.missing] = MISSING
    return out


def _words_alike(first: str, second: str, **_: Any) -> float:
    """1.0 when every word of the name with fewer words has an alike word (Jaro–Winkler ≥
    ``GIVEN_NAME_ALIKE``) in the other, else 0.0 (a rapidfuzz scorer, for ``_Pairs.scores``)."""
    shorter, longer = sorted((first.split(), second.split()), key=len)
    for word in shorter:
        if not any(JaroWinkler.normalized_similarity(word, other) >= GIVEN_NAME_ALIKE for other in longer):
            return 0.0
    return 1.0


def _first_words(rows: Rows) -> Rows:
    return pd.Series(rows, dtype=object).str.split(" ", n=1).str[0].to_numpy(dtype=object)


def _sliced(rows: Rows, start: int, stop: int | None) -> Rows:
    return pd.Series(rows, dtype=object).str.slice(start, stop).to_numpy(dtype=object)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One field compared between the two rows of a pair.

    ``levels(a, b, i, j)`` gets the column's values for every row of each side (str or None) and
    the pairs as row positions, and returns per pair ``MISSING`` or 0 (disagree) .. ``top`` (agree
    exactly). ``label`` is the name reported in ``agreeing`` when a pair is at ``top``.
    """

    label: str
    column: str
    levels: Callable[[Rows, Rows, Positions, Positions], Levels]
    top: int
    #: m and u of levels 0..top used when EM cannot be (``MIN_PAIRS_TO_FIT``, ``_identifies``)
    m: tuple[float, ...]
    u: tuple[float, ...]
    #: levels the fallback weighs at nothing: agreement another comparison already counts
    neutral: tuple[int, ...] = ()


def exact(label: str, column: str | None = None, u_agree: float = 0.1) -> Comparison:
    """Equal or not; ``u_agree`` is the share of non-matching pairs that agree (the fallback's)."""

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        pairs = _Pairs(a, b, i, j)
        return _finish(np.zeros(len(i)), pairs, 1)

    return Comparison(label, column or label, levels, 1, (0.05, 0.95), (1 - u_agree, u_agree))


def string(label: str, column: str | None = None, thresholds: Sequence[float] = (0.92, 0.8)) -> Comparison:
    """Exact, then Jaro–Winkler similarity at or above each threshold."""
    n = len(thresholds)

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        pairs = _Pairs(a, b, i, j)
        similarity = pairs.scores(JaroWinkler.normalized_similarity)
        out = np.zeros(len(i), dtype=np.int8)
        for rank, threshold in enumerate(sorted(thresholds)):
            out[similarity >= threshold] = rank + 1
        return _finish(out, pairs, n + 1)

    m = (0.05, *(0.15 / n for _ in range(n)), 0.8)
    u = (0.9, *(0.09 / n for _ in range(n)), 0.01)
    return Comparison(label, column or label, levels, n + 1, m, u)


def name(label: str, column: str | None = None) -> Comparison:
    """Names already normalised: exact; near (Jaro–Winkler ≥ 0.94); one's words inside the other's
    (a dropped middle name, a one-word name) or JW ≥ 0.88; loosely alike; different.

    An Indonesian name starts with the given name; what follows is often a second given name, a
    clan name (Sinaga, Panjaitan) or a common word many people share (Wahyuni, Setiawan). The ways
    one person's name is written (spellings, titles, Muhammad / M., a dropped middle or last name)
    keep the given name once normalised and never put an unrelated word in place of another. So two
    names are different, however much the rest agrees, when their first words are not alike
    (JW < ``GIVEN_NAME_ALIKE``) or when a word of the name with fewer words has no alike word in the
    other ("Nyoman Sulistyo" and "Nyoman Hakim"; "Lukman" and "Lukman Maulana" stay alike)."""

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        pairs = _Pairs(a, b, i, j)
        similarity = pairs.scores(JaroWinkler.normalized_similarity)
        token_set = pairs.scores(fuzz.token_set_ratio)
        first_a = _first_words(a)
        given = _Pairs(first_a, first_a if b is a else _first_words(b), i, j)
        given_score = given.scores(JaroWinkler.normalized_similarity)
        given_alike = given.equal | given.missing | (given_score >= GIVEN_NAME_ALIKE)
        out = np.zeros(len(i), dtype=np.int8)
        out[(similarity >= 0.75) | (token_set >= 80)] = 1
        out[(similarity >= 0.88) | (token_set >= 100)] = 2
        out[similarity >= 0.94] = 3
        words_alike = pairs.equal | pairs.missing | (pairs.scores(_words_alike) > 0)
        out[~given_alike | ~words_alike] = 0
        return _finish(out, pairs, 4)

    return Comparison(label, column or label, levels, 4, NAME_M, NAME_U)


def code(label: str, column: str | None = None, prefix: int = 0) -> Comparison:
    """Identifiers typed by hand (NIK, a social security number): exact; one typo or two digits
    transposed; two typos; different.

    With ``prefix`` the identifier is structured: its first ``prefix`` characters say what other
    comparisons compare (a NIK's and a KK's are district code and a date), the rest is a serial.
    Two people born the same day in the same district have NIKs one or two digits apart, so when
    the prefixes agree and the serials differ, the pair gets a level of its own (1) that the
    fallback weighs at nothing: the birth date, sex and village already said it, and a near serial
    is as likely between strangers as after a typo. The typo levels are then for prefixes that
    differ: one typo or transposition anywhere, or two in the prefix with the serial equal (a
    prefix typo and a different serial are two people registered near each other).
    """
    first = 2 if prefix else 1

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        pairs = _Pairs(a, b, i, j)
        distance = pairs.scores(DamerauLevenshtein.distance)
        near = (distance > 0) & (distance <= 2)
        if prefix:  # two typos only in the prefix: a serial differing as well is another person's
            near &= _Pairs(_sliced(a, prefix, None), _sliced(b, prefix, None), i, j).equal
        out = np.zeros(len(i), dtype=np.int8)
        out[near] = first
        out[(distance > 0) & (distance <= 1)] = first + 1
        if prefix:
            out[_Pairs(_sliced(a, 0, prefix), _sliced(b, 0, prefix), i, j).equal] = 1
        return _finish(out, pairs, first + 2)

    if prefix:
        return Comparison(
            label,
            column or label,
            levels,
            4,
            (0.05, 0.02, 0.02, 0.09, 0.82),
            (0.9979, 0.001, 0.001, 0.0001, 0.00001),
            neutral=(1,),
        )
    return Comparison(label, column or label, levels, 3, (0.05, 0.03, 0.12, 0.8), (0.9989, 0.001, 0.0001, 0.00001))


def birth_date(label: str, column: str | None = None) -> Comparison:
    """Dates as ``YYYYMMDD`` text: exact; day and month swapped; one typo; two typos; different."""

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        pairs = _Pairs(a, b, i, j)
        swapped_a = pd.Series(a, dtype=object)
        swapped_a = (swapped_a.str.slice(0, 4) + swapped_a.str.slice(6, 8) + swapped_a.str.slice(4, 6)).to_numpy()
        swapped = _Pairs(swapped_a, b, i, j).equal & ~pairs.equal
        distance = pairs.scores(DamerauLevenshtein.distance)
        out = np.zeros(len(i), dtype=np.int8)
        out[(distance > 0) & (distance <= 2)] = 1
        out[(distance > 0) & (distance <= 1)] = 2
        out[swapped] = 3
        return _finish(out, pairs, 4)

    return Comparison(
        label, column or label, levels, 4, (0.02, 0.03, 0.05, 0.05, 0.85), (0.9, 0.08, 0.015, 0.002, 0.003)
    )


def region(label: str, column: str | None = None) -> Comparison:
    """Dotted Kemendagri codes: same village; same district; same regency; elsewhere."""

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        pairs = _Pairs(a, b, i, j)
        out = np.zeros(len(i), dtype=np.int8)
        out[_Pairs(_sliced(a, 0, 5), _sliced(b, 0, 5), i, j).equal] = 1
        out[_Pairs(_sliced(a, 0, 8), _sliced(b, 0, 8), i, j).equal] = 2
        return _finish(out, pairs, 3)

    return Comparison(label, column or label, levels, 3, (0.1, 0.1, 0.2, 0.6), (0.5, 0.3, 0.15, 0.05))


def residence(label: str, column: str | None = None) -> Comparison:
    """Where two people of one registry live, and where their NIKs were issued: ``village|nik district``
    (``prepare_person``'s ``_residence``). Same village; same district; another district but NIKs of
    one district; same regency; elsewhere.

    A NIK is issued once, in one district, and never changes: a person registered twice keeps it
    (a typo aside) wherever the second household lives, while two strangers in different districts
    mostly hold NIKs of different districts. Inside one district the NIK's district says nothing the
    village has not (neighbours' NIKs share it), so it splits only the pairs living apart — one
    comparison, not two, so that neighbours are not counted twice as agreeing."""

    def levels(a: Rows, b: Rows, i: Positions, j: Positions) -> Levels:
        village_a, nik_a = _parts(a)
        village_b, nik_b = (village_a, nik_a) if b is a else _parts(b)
        village = _Pairs(village_a, village_b, i, j)
        out = np.zeros(len(i), dtype=np.int8)
        out[_Pairs(_sliced(village_a, 0, 5), _sliced(village_b, 0, 5), i, j).equal] = 1
        out[_Pairs(nik_a, nik_b, i, j).equal] = 2
        out[_Pairs(_sliced(village_a, 0, 8), _sliced(village_b, 0, 8), i, j).equal] = 3
        out[village.equal] = 4
        out[village.missing] = MISSING
        return out

    return Comparison(label, column or label, levels, 4, (0.04, 0.04, 0.12, 0.2, 0.6), (0.5, 0.3, 0.05, 0.1, 0.05))


def _parts(rows: Rows) -> tuple[Rows, Rows]:
    """``village|nik district`` values split in two, an empty part as None."""
    parts = pd.Series(rows, dtype=object).str.partition("|")
    village, nik = parts[0].replace("", None), parts[2].replace("", None)
    return village.to_numpy(dtype=object), nik.to_numpy(dtype=object)


@dataclass(frozen=True, slots=True)
class Model:
    """What is compared and how candidates are found.

    ``prepare`` turns an input frame into one with a ``key`` column, every comparison's column and
    every blocking column (derived keys such as a normalised name). ``blocking`` lists rules, each
    a tuple of prepared columns: a pair is a candidate when it agrees on every column of some rule
    (rows with a missing value in a rule's column are not blocked by that rule).
    """

    prepare: Callable[[pd.DataFrame], pd.DataFrame]
    comparisons: tuple[Comparison, ...]
    blocking: tuple[tuple[str, ...], ...]
    max_iter: int = 100
    #: u counted on random pairs of rows and m as each comparison states (``_random_u_posterior``),
    #: rather than both fitted by EM on the candidates (``_fit_and_predict``)
    u_from_random_pairs: bool = False


class _MultiLevelECM(ECM):  # type: ignore[misc]
    """recordlinkage's ECM started for multi-level comparisons: its "jaro" start accepts only
    0/1 features, so here the start puts a match's weight on the higher levels and a non-match's
    on the lower ones; a ``MISSING`` level starts equal for both. The EM itself is the library's."""

    def _init_parameters_jaro(self, X_bin: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        feature_prob: list[list[float]] = []
        for binarizer in self._binarizers:
            classes = list(binarizer.classes_)
            present = [c for c in classes if c != MISSING]
            top = max(present) if present else 0
            for value in classes:
                if value == MISSING:
                    feature_prob.append([0.05, 0.05])
                    continue
                rank = (value - min(present)) / max(1, top - min(present))
                feature_prob.append([0.9 * (1 - rank) + 0.05 * rank, 0.05 * (1 - rank) + 0.9 * rank])
        return np.log([0.9, 0.1]), np.log(np.asarray(feature_prob)).T


def _blocked_pairs(
    left: pd.DataFrame, right: pd.DataFrame, rules: Sequence[tuple[str, ...]], within: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row positions (i in left, j in right) of candidate pairs, each pair once."""
    found: list[NDArray[np.int64]] = []
    n_right = len(right)
    for rule in rules:
        columns = list(rule)
        if not set(columns) <= set(left.columns) & set(right.columns):
            continue
        a = left[columns].assign(_i=np.arange(len(left))).dropna(subset=columns)
        b = right[columns].assign(_j=np.arange(n_right)).dropna(subset=columns)
        pairs = a.merge(b, on=columns, how="inner")[["_i", "_j"]].to_numpy(dtype=np.int64)
        if within:
            pairs = pairs[pairs[:, 0] < pairs[:, 1]]
        found.append(pairs[:, 0] * max(1, n_right) + pairs[:, 1])
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    codes = np.unique(np.concatenate(found))
    return codes // max(1, n_right), codes % max(1, n_right)


def _score(model: Model, left: pd.DataFrame, right: pd.DataFrame, within: bool, threshold: float) -> pd.DataFrame:
    """Candidate pairs at or above ``threshold``: left key, right key, probability, agreeing."""
    empty = pd.DataFrame({"left": pd.Series(dtype="int64"), "right": pd.Series(dtype="int64")})
    empty["probability"] = pd.Series(dtype="float64")
    empty["agreeing"] = pd.Series(dtype=object)
    if left.empty or right.empty:
        return empty
    a = model.prepare(left)
    b = a if within else model.prepare(right)
    comparisons = [c for c in model.comparisons if c.column in a.columns and c.column in b.columns]
    if not 0 < len(comparisons) <= MAX_COMPARISONS:
        raise ValueError(f"a model compares 1 to {MAX_COMPARISONS} columns present in both frames")
    i, j = _blocked_pairs(a, b, model.blocking, within)
    if len(i) == 0:
        return empty
    matrix = _levels(comparisons, a, b, i, j, within)
    inverse, patterns, counts = _patterns(matrix)
    # the prior of the fallback: each row of the smaller side has one match (link), or 1 % of rows
    # are registered twice (dedupe)
    expected = 0.01 * len(a) if within else min(len(a), len(b))
    prior = float(np.clip(expected / len(i), 1e-9, 0.5))

    def non_matches() -> tuple[Levels, NDArray[np.float64]]:
        # inside one frame the candidates are nearly all distinct people; across two, the pairs the
        # same blocking finds inside the right frame are (a reference registers a person once),
        # while the candidates may be mostly matches (a few members, each blocked with its person).
        # Those pairs' shares count as many pairs as there are candidates: against the fallback's
        # fixed u they weigh what the candidates would.
        if within:
            return patterns, counts
        sample = b.sample(n=NON_MATCH_SAMPLE, random_state=0) if len(b) > NON_MATCH_SAMPLE else b
        si, sj = _blocked_pairs(sample, sample, model.blocking, True)
        if len(si) == 0:
            return patterns[:0], counts[:0]
        _, sample_patterns, sample_counts = _patterns(_levels(comparisons, sample, sample, si, sj, True))
        return sample_patterns, sample_counts * (counts.sum() / sample_counts.sum())

    if model.u_from_random_pairs:
        probability = _random_u_posterior(comparisons, a, b, matrix, within)
    else:
        probability = _fit_and_predict(comparisons, patterns, counts, prior, model.max_iter, non_matches)[inverse]
    keep = probability >= threshold
    tops = np.array([c.top for c in comparisons], dtype=np.int8)
    labels = [c.label for c in comparisons]
    agree = matrix[keep] == tops
    return pd.DataFrame(
        {
            "left": a["key"].to_numpy()[i[keep]].astype(np.int64),
            "right": b["key"].to_numpy()[j[keep]].astype(np.int64),
            "probability": probability[keep].astype(np.float64),
            "agreeing": [tuple(label for label, yes in zip(labels, row, strict=True) if yes) for row in agree],
        }
    )


def _levels(
    comparisons: Sequence[Comparison], a: pd.DataFrame, b: pd.DataFrame, i: Positions, j: Positions, within: bool
) -> Levels:
    """One row of levels per pair (i in a, j in b), one column per comparison."""
    matrix = np.empty((len(i), len(comparisons)), dtype=np.int8)
    for k, comparison in enumerate(comparisons):
        column_a = _strings(a[comparison.column])
        column_b = column_a if within else _strings(b[comparison.column])
        matrix[:, k] = comparison.levels(column_a, column_b, i, j)
    return matrix


def _patterns(matrix: Levels) -> tuple[NDArray[np.int64], Levels, NDArray[np.int64]]:
    """Each pair's pattern number, the distinct patterns and how many pairs have each."""
    # one integer code per pair (levels are -1..7: 4 bits each)
    pattern_code = np.zeros(len(matrix), dtype=np.int64)
    for k in range(matrix.shape[1]):
        pattern_code = pattern_code * 16 + (matrix[:, k].astype(np.int64) + 1)
    inverse, distinct = pd.factorize(pattern_code)
    patterns = np.empty((len(distinct), matrix.shape[1]), dtype=np.int8)
    rest = np.asarray(distinct, dtype=np.int64)
    for k in reversed(range(matrix.shape[1])):
        patterns[:, k] = rest % 16 - 1
        rest = rest // 16
    return inverse, patterns, np.bincount(inverse, minlength=len(patterns))


def _fit_and_predict(
    comparisons: Sequence[Comparison],
    patterns: Levels,
    counts: NDArray[np.int64],
    prior: float,
    max_iter: int,
    non_matches: Callable[[], tuple[Levels, NDArray[np.float64]]],
) -> NDArray[np.float64]:
    """Match probability of every distinct comparison pattern, the model fitted on their counts."""
    if counts.sum() >= MIN_PAIRS_TO_FIT and len(patterns) > 1:
        # EM sees a neutral level as a disagreement: fitted as a level of its own, it would be
        # learned from whichever class happens to sit there (every typo of a demo's serials)
        seen = patterns.copy()
        for k, comparison in enumerate(comparisons):
            seen[np.isin(seen[:, k], comparison.neutral), k] = 0
        ecm = _MultiLevelECM(init="jaro", binarize=None, max_iter=max_iter)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ecm.fit(_weighted_sample(seen, counts))
            probability = np.asarray(ecm.predict_proba(seen)[:, 1], dtype=np.float64)
        if np.isfinite(probability).all() and _identifies(ecm, comparisons):
            return probability
    return _fallback(comparisons, patterns, *non_matches(), prior)


def _identifies(ecm: _MultiLevelECM, comparisons: Sequence[Comparison]) -> bool:
    """Whether the class EM calls "match" looks like one: where values are present, its pairs agree
    exactly on most comparisons (mean m of the top level ≥ ``MIN_MATCH_AGREEMENT``). With (almost)
    no true pairs among the candidates EM settles on some other cluster instead (people with alike
    names in one village), which this refuses."""
    m = np.exp(ecm.feature_log_prob_[1])
    tops: list[float] = []
    offset = 0
    for binarizer, comparison in zip(ecm._binarizers, comparisons, strict=True):
        classes = list(binarizer.classes_)
        levels = dict(zip(classes, m[offset : offset + len(classes)], strict=True))
        offset += len(classes)
        present = 1.0 - levels.get(MISSING, 0.0)
        if present >= 0.5:
            tops.append(levels.get(comparison.top, 0.0) / present)
    return bool(tops) and float(np.mean(tops)) >= MIN_MATCH_AGREEMENT


def _fallback(
    comparisons: Sequence[Comparison],
    patterns: Levels,
    non_match_patterns: Levels,
    non_match_counts: NDArray[np.float64],
    prior: float,
) -> NDArray[np.float64]:
    """The posterior with each comparison's fallback m, and u counted on pairs of distinct people
    the same blocking finds (``non_matches`` in ``_score``), blended with the fallback u as
    ``FALLBACK_WEIGHT`` pseudo-pairs so that a handful of pairs cannot make it extreme. A missing
    value, and a comparison's ``neutral`` levels, weigh nothing."""
    log_odds = np.full(len(patterns), np.log(prior / (1 - prior)))
    for k, comparison in enumerate(comparisons):
        known = non_match_patterns[:, k].astype(np.int64)
        seen = np.bincount(
            np.clip(known, 0, None),
            weights=np.where(known == MISSING, 0, non_match_counts),
            minlength=comparison.top + 1,
        )
        u = (seen + FALLBACK_WEIGHT * np.asarray(comparison.u)) / (seen.sum() + FALLBACK_WEIGHT)
        weights = _monotone(np.log(np.asarray(comparison.m) / u))
        weights[list(comparison.neutral)] = 0.0
        level = patterns[:, k].astype(np.int64)
        log_odds += np.where(level == MISSING, 0.0, weights[np.clip(level, 0, comparison.top)])
    return np.asarray(1 / (1 + np.exp(-log_odds)), dtype=np.float64)


def _monotone(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Level weights (0 = disagree .. top = agree exactly) made non-decreasing: a closer agreement never
    counts less than a looser one. Fixed m over u counted on random pairs can invert them where the
    values are few: serials are mostly 0001 and 0002, so random pairs differ in two digits less often
    than they are equal, and "two typos" would otherwise weigh more than "equal"."""
    return np.minimum.accumulate(weights[::-1])[::-1]


#: Random pairs of rows the u probabilities are counted on (``random_pair_u``).
RANDOM_PAIRS = 1_000_000


def random_pair_u(
    comparisons: Sequence[Comparison], a: pd.DataFrame, b: pd.DataFrame, within: bool, pairs: int = RANDOM_PAIRS
) -> list[NDArray[np.float64]]:
    """Each comparison's u (the share of non-matching pairs at each level 0..top), counted on random
    pairs of rows rather than on blocked candidates: blocked candidates agree on their blocking
    columns by construction, so u counted (or fitted) on them says agreeing on a birth date is
    common among strangers, and EM reads that agreement as a match. Random pairs are nearly all
    non-matches. Smoothed with the comparison's fallback u as ``FALLBACK_WEIGHT`` pseudo-pairs."""
    rng = np.random.default_rng(0)
    n = min(pairs, len(a) * len(b))
    i = rng.integers(0, len(a), n, dtype=np.int64)
    j = rng.integers(0, len(b), n, dtype=np.int64)
    if within:
        keep = i != j
        i, j = i[keep], j[keep]
    out = []
    matrix = _levels(comparisons, a, b, i, j, within)
    for k, comparison in enumerate(comparisons):
        level = matrix[:, k].astype(np.int64)
        seen = np.bincount(level[level != MISSING], minlength=comparison.top + 1).astype(np.float64)
        out.append((seen + FALLBACK_WEIGHT * np.asarray(comparison.u)) / (seen.sum() + FALLBACK_WEIGHT))
    return out


def _random_u_posterior(
    comparisons: Sequence[Comparison], a: pd.DataFrame, b: pd.DataFrame, matrix: Levels, within: bool
) -> NDArray[np.float64]:
    """Match probability of every candidate pair with u counted on random pairs (``random_pair_u``),
    each comparison's stated m, and as prior the share of all pairs that match (1 % of rows
    registered twice, as ``_fallback``; for ``link`` each row of the smaller side once). A missing
    value weighs nothing. EM on the candidates is not used here: blocked on birth date and region,
    its "match" class is the pairs that agree on those (docs/identity-matching.md)."""
    u = random_pair_u(comparisons, a, b, within)
    matches = 0.01 * len(a) if within else float(min(len(a), len(b)))
    total = len(a) * (len(a) - 1) / 2 if within else len(a) * len(b)
    prior = float(np.clip(matches / max(total, 1), 1e-12, 0.5))
    log_odds = np.full(len(matrix), np.log(prior / (1 - prior)))
    for k, comparison in enumerate(comparisons):
        level = matrix[:, k].astype(np.int64)
        weights = _monotone(np.log(np.asarray(comparison.m) / u[k]))
        log_odds += np.where(level == MISSING, 0.0, weights[np.clip(level, 0, comparison.top)])
    return np.asarray(1 / (1 + np.exp(-log_odds)), dtype=np.float64)


def _weighted_sample(patterns: Levels, counts: NDArray[np.int64]) -> Levels:
    """The patterns repeated in proportion to their counts, at most about 200,000 rows (ECM fits on
    rows and counts distinct ones itself, so the cost is in the repeat, not the EM)."""
    scale = min(1.0, 200_000 / counts.sum())
    repeats = np.maximum(np.rint(counts * scale).astype(np.int64), 1)
    return np.repeat(patterns, repeats, axis=0)


def _birth_texts(values: pd.Series) -> pd.Series:
    """Birth dates (``date``, ``datetime``, ISO text) as ``YYYYMMDD`` text, None where missing."""
    parsed = pd.to_datetime(values, errors="coerce", format="mixed") if len(values) else values
    if not len(values):
        return pd.Series([], dtype=object)
    number = parsed.dt.year * 10_000 + parsed.dt.month * 100 + parsed.dt.day
    text = number.astype("Int64").astype(str)
    return text.where(parsed.notna(), None).astype(object)


def _normalised(values: pd.Series) -> NDArray[np.object_]:
    """``normalise_name`` of each value, computed once per distinct value; None for no name."""
    codes, uniques = pd.factorize(values.astype(object).where(values.notna(), None), use_na_sentinel=True)
    keys = np.array([normalise_name(str(v)) or None for v in uniques] + [None], dtype=object)
    return keys[codes]


def _optional(frame: pd.DataFrame, column: str) -> NDArray[np.object_]:
    return frame[column].astype(object).where(frame[column].notna(), None).to_numpy(dtype=object)


def prepare_person(frame: pd.DataFrame) -> pd.DataFrame:
    """SIKS person frame -> the columns ``PERSON`` compares and blocks on."""
    missing = [c for c in PERSON_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"person frame lacks column(s): {', '.join(missing)}")
    out = pd.DataFrame(
        {
            "key": frame["key"].to_numpy(),
            "name": _normalised(frame["name"]),
            "birth_date": _birth_texts(frame["birth_date"].reset_index(drop=True)).to_numpy(dtype=object),
            "sex": _optional(frame, "sex"),
            "region_code": _optional(frame, "region_code"),
        }
    )
    for column in OPTIONAL_COLUMNS:
        if column in frame.columns:
            out[column] = _normalised(frame[column]) if column == "birth_place" else _optional(frame, column)
    regency = out["region_code"].str.slice(0, 5)
    year = out["birth_date"].str.slice(0, 4)
    out["_regency_year"] = (regency + "|" + year).where(regency.notna() & year.notna(), None)
    out["_name_born"] = (out["name"] + "|" + out["birth_date"]).where(
        out["name"].notna() & out["birth_date"].notna(), None
    )
    regency_born = regency + "|" + out["birth_date"]
    out["_regency_born"] = regency_born.where(regency.notna() & out["birth_date"].notna(), None)
    if "nik" in out.columns:
        # a NIK is district (6 digits), birth date (6, day + 40 for women) and serial (4): people born one
        # day in one district have NIKs a digit apart, so ``PERSON_DEDUPE`` compares the serial alone
        nik = pd.Series(out["nik"], dtype=object)
        out["_nik_serial"] = nik.str.slice(12, 16).where(nik.str.len() == 16, None)
        # where the person lives and where their NIK was issued, for ``residence``
        district = nik.str.slice(0, 6).where(nik.str.len() == 16, "")
        region = pd.Series(out["region_code"], dtype=object)
        out["_residence"] = (region + "|" + district.fillna("")).where(region.notna(), None)
    first_word = out["name"].str.split(" ", n=1).str[0]
    out["_regency_year_word"] = (out["_regency_year"] + "|" + first_word).where(
        out["_regency_year"].notna() & first_word.notna(), None
    )
    return out


PERSON = Model(
    prepare=prepare_person,
    comparisons=(
        name("name"),
        birth_date("birth_date"),
        exact("sex", u_agree=0.5),
        region("region_code"),
        code("nik", prefix=NIK_PREFIX),
        code("kk", prefix=NIK_PREFIX),
        string("birth_place"),
    ),
    blocking=(("_regency_year",), ("_name_born",)),
)
#: ``PERSON`` for ``dedupe``: inside one registry, "same regency and birth year" makes ~n²/46,000
#: pairs (11 million for a million people), nearly all of them strangers; a duplicate shares the
#: regency and the birth date, or the regency, the birth year and the first word of the name, or
#: the name and the birth date, or the NIK.
#: Its candidates agree on the birth date (or year) and region by construction, so u is counted on random
#: pairs of rows (``_random_u_posterior``); the NIK is compared on its serial (the birth date in it is
#: compared already) and its district together with the village (``residence``).
PERSON_DEDUPE = replace(
    PERSON,
    comparisons=tuple(
        code("nik_serial", "_nik_serial")
        if c.column == "nik"
        else residence("region_code", "_residence")
        if c.column == "region_code"
        else c
        for c in PERSON.comparisons
    ),
    blocking=(("_regency_born",), ("_regency_year_word",), ("_name_born",), ("nik",)),
    u_from_random_pairs=True,
)


def link_with(model: Model, left: pd.DataFrame, right: pd.DataFrame, *, threshold: float = 0.5) -> pd.DataFrame:
    """``link`` with another comparison set (the FEBRL bench's, for one)."""
    scored = _score(model, left, right, within=False, threshold=threshold)
    return scored.rename(columns={"left": "left_key", "right": "right_key"})[list(LINK_COLUMNS)]


def dedupe_with(model: Model, people: pd.DataFrame, *, threshold: float = 0.5) -> pd.DataFrame:
    """``dedupe`` with another comparison set."""
    scored = _score(model, people, people, within=True, threshold=threshold)
    first = np.minimum(scored["left"].to_numpy(), scored["right"].to_numpy())
    second = np.maximum(scored["left"].to_numpy(), scored["right"].to_numpy())
    out = pd.DataFrame(
        {"first_key": first, "second_key": second, "probability": scored["probability"], "agreeing": scored["agreeing"]}
    )
    return out[list(DEDUPE_COLUMNS)].reset_index(drop=True)


def link(left: pd.DataFrame, right: pd.DataFrame, *, threshold: float = 0.5) -> pd.DataFrame:
    """Candidate pairs (left person, right person) with match probability ≥ ``threshold``.

    Columns ``left_key, right_key, probability, agreeing``. Blocking: same regency and birth year,
    or same normalised name and birth date. Several pairs per left key may come back.
    """
    return link_with(PERSON, left, right, threshold=threshold)


def dedupe(people: pd.DataFrame, *, threshold: float = 0.5) -> pd.DataFrame:
    """Pairs of rows of one frame that are probably one person: ``first_key < second_key``,
    ``probability``, ``agreeing``. Blocking: same regency and birth date, or same regency, birth
    year and first word of the normalised name, or same normalised name and birth date, or same
    NIK (``PERSON_DEDUPE``)."""
    return dedupe_with(PERSON_DEDUPE, people, threshold=threshold)
