"""Statistics shared by the profile parts: bootstrap
CIs, paired bootstrap, McNemar, permutation tests.

All resampling is seeded (``numpy.random.default_rng(seed)``). Percentile intervals are used
throughout (the 2.5% and 97.5% quantiles of the bootstrap distribution for 95%).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

Arrays = Mapping[str, np.ndarray]
StatFn = Callable[[Arrays], float]


def _take(arrays: Arrays, idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in arrays.items()}


def _n(arrays: Arrays) -> int:
    lengths = {len(v) for v in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"arrays of unequal length {sorted(lengths)}")
    return lengths.pop()


class Interval(NamedTuple):
    """A percentile bootstrap interval and how many replicates it rests on."""

    low: float
    high: float
    n_resamples: int = 0  # replicates drawn
    n_nonfinite: int = 0  # replicates whose statistic was NaN/inf, left out of the quantiles


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = int(np.sum(~np.isfinite(values)))
    if bad:
        raise ValueError(
            f"{bad} non-finite value(s) in {name!r}: a mean statistic needs finite inputs "
            "(drop or count missing items before the bootstrap)"
        )


def _percentile(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    lo, hi = np.quantile(reps, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    fn: StatFn | None,
    arrays: Arrays,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    mean_of: str | None = None,
    scale: float = 1.0,
) -> Interval:
    """Percentile bootstrap CI of ``fn(arrays)``, resampling items (rows) with replacement.

    ``mean_of`` names an array whose (scaled) mean *is* the statistic: then the resampling is
    vectorised instead of calling ``fn`` ``n_resamples`` times, and a non-finite value in that
    array is an error (it would make every replicate that draws it NaN). For a general ``fn``
    (ratios such as BBQ's s_DIS, whose denominator can be 0 in a resample) non-finite replicates
    are left out of the quantiles and counted in ``Interval.n_nonfinite``: the interval is then
    conditional on the statistic being defined, which the count lets a reader judge.
    """
    n = _n(arrays)
    if n < 2 or n_resamples < 1:
        return Interval(float("nan"), float("nan"), 0, 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    if mean_of is not None:
        values = arrays[mean_of].astype(float)
        _check_finite(values, mean_of)
        reps = values[idx].mean(axis=1) * scale
    else:
        if fn is None:
            raise ValueError("give fn or mean_of")
        reps = np.array([fn(_take(arrays, row)) for row in idx], dtype=float)
    finite = reps[np.isfinite(reps)]
    n_bad = int(len(reps) - len(finite))
    if not len(finite):
        return Interval(float("nan"), float("nan"), n_resamples, n_bad)
    return Interval(*_percentile(finite, confidence), n_resamples, n_bad)


@dataclass(frozen=True)
class PairedResult:
    reference: float
    candidate: float
    difference: float  # candidate - reference
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    n_pairs: int
    n_resamples: int = 0  # bootstrap replicates drawn
    n_nonfinite: int = 0  # replicates whose difference was NaN/inf, left out of CI and p-value


def paired_bootstrap(
    fn: StatFn | None,
    ref: Arrays,
    cand: Arrays,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    mean_of: str | None = None,
    scale: float = 1.0,
) -> PairedResult:
    """Difference ``fn(cand) - fn(ref)`` on the same items, resampling item indices jointly.

    CI: percentile interval of the resampled differences. p-value (two-sided, H0: no difference):
    the share of centred replicates at least as far from 0 as the observed difference,
    ``(1 + #{|d_b - d| >= |d|}) / (B + 1)`` (the bootstrap hypothesis test of Berg-Kirkpatrick et
    al. 2012 / Koehn 2004). Non-finite inputs of a ``mean_of`` statistic are an error; replicates
    where a general ``fn`` is undefined on either side are left out of B and counted in
    ``n_nonfinite`` (see :func:`bootstrap_ci`).
    """
    n = _n(ref)
    if _n(cand) != n:
        raise ValueError("paired bootstrap needs the same items on both sides")
    if fn is None:
        if mean_of is None:
            raise ValueError("give fn or mean_of")
        fn = lambda a: scale * float(np.mean(a[mean_of]))  # noqa: E731
    r, c = float(fn(ref)), float(fn(cand))
    d = c - r
    if n < 2:
        return PairedResult(
            r, c, d, float("nan"), float("nan"), float("nan"), "paired bootstrap", n
        )
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    if mean_of is not None:
        rv, cv = ref[mean_of].astype(float), cand[mean_of].astype(float)
        _check_finite(rv, f"reference {mean_of}")
        _check_finite(cv, f"candidate {mean_of}")
        diffs = (cv - rv)[idx].mean(axis=1) * scale
    else:
        diffs = np.array([fn(_take(cand, row)) - fn(_take(ref, row)) for row in idx], dtype=float)
    finite = diffs[np.isfinite(diffs)]
    n_bad = int(len(diffs) - len(finite))
    if not len(finite) or not np.isfinite(d):
        return PairedResult(
            r,
            c,
            d,
            float("nan"),
            float("nan"),
            float("nan"),
            "paired bootstrap",
            n,
            n_resamples,
            n_bad,
        )
    lo, hi = _percentile(finite, confidence)
    p = (1 + np.sum(np.abs(finite - d) >= abs(d) - 1e-12)) / (len(finite) + 1)
    return PairedResult(
        r, c, d, lo, hi, float(min(p, 1.0)), "paired bootstrap", n, n_resamples, n_bad
    )


def mcnemar(ref: np.ndarray, cand: np.ndarray) -> tuple[float, int, int]:
    """Exact (binomial) McNemar test on paired 0/1 outcomes: (two-sided p, n01, n10).

    n01 = items 0 for the reference and 1 for the candidate, n10 the reverse; under H0 the
    discordant items split Binomial(n01 + n10, 1/2).
    """
    ref = np.asarray(ref).astype(bool)
    cand = np.asarray(cand).astype(bool)
    n01 = int(np.sum(~ref & cand))
    n10 = int(np.sum(ref & ~cand))
    if n01 + n10 == 0:
        return 1.0, 0, 0
    p = sps.binomtest(min(n01, n10), n01 + n10, 0.5).pvalue
    return float(min(1.0, p)), n01, n10


def permutation_pvalue_one_sided(
    values: np.ndarray, n_first: int, *, n_permutations: int = 10000, seed: int = 0
) -> tuple[float, str]:
    """One-sided permutation p-value of sum(values[:n_first]) - sum(values[n_first:]).

    The statistic is recomputed over re-partitions of all items into groups of the original sizes;
    p = P(statistic_perm >= statistic_obs). Exact (all partitions) when there are at most
    ``n_permutations`` of them, else Monte Carlo with the observed partition counted:
    (1 + #{>=}) / (1 + n_permutations). Returns (p, "exact" | "monte carlo").
    """
    from itertools import combinations
    from math import comb

    values = np.asarray(values, dtype=float)
    n = len(values)
    if not 0 < n_first < n:
        raise ValueError("both groups must be non-empty")
    total = values.sum()
    observed = 2 * values[:n_first].sum() - total
    tol = 1e-10 * max(1.0, float(np.abs(values).sum()))
    if comb(n, n_first) <= n_permutations:
        stats = np.array(
            [2 * values[list(c)].sum() - total for c in combinations(range(n), n_first)]
        )
        return float(np.mean(stats >= observed - tol)), "exact"
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_permutations, n)), axis=1)[:, :n_first]
    stats = 2 * values[perms].sum(axis=1) - total
    return float((1 + np.sum(stats >= observed - tol)) / (1 + n_permutations)), "monte carlo"
