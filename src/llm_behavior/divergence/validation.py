"""Statistics of label validation: AUC, its within-prompt
permutation p-value, multiplicity corrections.

A label's held-out evidence is a score per held-out text (how well the text fits the label) and
which model wrote it. The statistic is the AUC: the probability that a text of the model the label
describes scores above a text of the other model (ties count one half). Under the null hypothesis
that the two models' texts of a prompt are exchangeable, every rearrangement of the model labels
*within a prompt* is equally likely, so the p-value compares the observed AUC with the AUCs of those
rearrangements: exact (every rearrangement) when there are at most ``n_permutations`` of them,
else a Monte Carlo estimate ``(1 + #{AUC_perm >= AUC_obs}) / (1 + n_permutations)``, valid at any
number of permutations. The test is one-sided: a label predicts which model's texts fit it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import false_discovery_control, rankdata

CORRECTIONS: tuple[str, ...] = ("holm", "bh", "by", "none")


@dataclass(frozen=True)
class PermutationResult:
    """AUC of the scores of ``positive`` texts against the others, and its permutation p-value."""

    auc: float
    p_value: float
    n_positive: int
    n_negative: int
    n_permutations: int  # rearrangements compared (all of them when ``exact``)
    exact: bool


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + 0.5 P(tie) (Mann-Whitney U / (n1 n0))."""
    scores, positive = np.asarray(scores, dtype=float), np.asarray(positive, dtype=bool)
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(scores)  # mid-ranks for ties
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _arrangements(positive: np.ndarray, groups: np.ndarray) -> int:
    """How many label arrangements keep each group's number of positives."""
    total = 1
    for g in np.unique(groups):
        in_g = groups == g
        total *= math.comb(int(in_g.sum()), int(positive[in_g].sum()))
    return total


def _all_arrangements(positive: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Every within-group arrangement of the labels, one per row (the observed one included)."""
    per_group = []
    for g in np.unique(groups):
        where = np.flatnonzero(groups == g)
        k = int(positive[where].sum())
        per_group.append([where[list(c)] for c in itertools.combinations(range(len(where)), k)])
    rows = []
    for choice in itertools.product(*per_group):
        row = np.zeros(len(positive), dtype=bool)
        for idx in choice:
            row[idx] = True
        rows.append(row)
    return np.array(rows)


def random_arrangements(
    positive: np.ndarray, groups: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` random within-group permutations of the labels, one per row."""
    codes = np.unique(np.asarray(groups), return_inverse=True)[1].astype(float)
    slots = np.argsort(codes, kind="stable")  # positions, group by group
    # a random order within each group
    order = np.argsort(codes[None, :] + rng.random((n, len(codes))), axis=1)
    out = np.empty((n, len(codes)), dtype=bool)
    out[:, slots] = np.asarray(positive, dtype=bool)[order]
    return out


def permutation_auc_test(
    scores: np.ndarray,
    positive: np.ndarray,
    groups: np.ndarray,
    *,
    n_permutations: int = 2000,
    seed: int = 0,
    enumerate_up_to: int | None = None,
) -> PermutationResult:
    """One-sided test that ``positive`` texts score higher
    than the others, labels permuted within groups.

    Every arrangement is enumerated when there are at most ``enumerate_up_to`` (default
    ``n_permutations``) of them; otherwise ``n_permutations`` random ones are drawn.
    """
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    groups = np.asarray(groups)
    if not (len(scores) == len(positive) == len(groups)):
        raise ValueError(
            f"permutation_auc_test: {len(scores)} scores, "
            f"{len(positive)} labels, {len(groups)} groups"
        )
    if not np.isfinite(scores).all():
        raise ValueError(
            f"permutation_auc_test: {int((~np.isfinite(scores)).sum())} non-finite scores"
        )
    n1, n0 = int(positive.sum()), int((~positive).sum())
    observed = auc(scores, positive)
    if n1 == 0 or n0 == 0:
        return PermutationResult(math.nan, math.nan, n1, n0, 0, False)
    ranks = rankdata(scores)
    offset, scale = n1 * (n1 + 1) / 2, n1 * n0
    n_total = _arrangements(positive, groups)
    if n_total <= (n_permutations if enumerate_up_to is None else enumerate_up_to):
        arr = _all_arrangements(positive, groups)
        stats = (arr.astype(float) @ ranks - offset) / scale
        p = float(np.mean(stats >= observed - 1e-12))
        return PermutationResult(observed, p, n1, n0, len(arr), True)
    arr = random_arrangements(positive, groups, n_permutations, np.random.default_rng(seed))
    stats = (arr.astype(float) @ ranks - offset) / scale
    p = float((1 + np.sum(stats >= observed - 1e-12)) / (1 + n_permutations))
    return PermutationResult(observed, p, n1, n0, n_permutations, False)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def adjust_p_values(p_values: np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values across a family; NaN entries
    (untested) stay NaN and do not count in the family.

    ``holm``: family-wise error (any dependence); ``bh``: Benjamini-Hochberg false discovery rate
    (independent or positively dependent tests); ``by``: Benjamini-Yekutieli (any dependence);
    ``none``: unadjusted. BH and BY are scipy's ``false_discovery_control``.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    tested = ~np.isnan(p)
    if not tested.any():
        return out
    if method == "holm":
        out[tested] = holm(p[tested])
    elif method in ("bh", "by"):
        out[tested] = false_discovery_control(p[tested], method=method)
    else:
        out[tested] = p[tested]
    return out
