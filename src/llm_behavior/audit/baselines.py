"""Fixed-sample tests at given sample sizes (NOT anytime-valid: each p-value is valid only for a
sample size fixed in advance; looking at several sizes and stopping at the first p < alpha
inflates the type-I error, which ``peeking_rejection`` lets one measure).

All test H0: P = Q (eps = 0) on the first n pairs:
- ``paired_t``: scipy.stats.ttest_rel (means of paired differences);
- ``wilcoxon``: scipy.stats.wilcoxon signed-rank test on the paired differences;
- ``ks``: scipy.stats.ks_2samp on the two samples (ignores the pairing);
- ``anderson``: scipy.stats.anderson_ksamp (p-values floored at 0.001 / capped at 0.25 by scipy).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

PValueFn = Callable[[np.ndarray, np.ndarray], float]


def _paired_t(x: np.ndarray, y: np.ndarray) -> float:
    d = x - y
    if np.allclose(d, d[0]):
        return 1.0 if np.isclose(d[0], 0.0) else 0.0
    return float(stats.ttest_rel(x, y).pvalue)


def _wilcoxon(x: np.ndarray, y: np.ndarray) -> float:
    if np.all(x == y):
        return 1.0
    return float(stats.wilcoxon(x, y, zero_method="wilcox").pvalue)


def _ks(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.ks_2samp(x, y).pvalue)


def _anderson(x: np.ndarray, y: np.ndarray) -> float:
    if np.unique(np.concatenate([x, y])).size < 2:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when it floors/caps the p-value
        return float(stats.anderson_ksamp([x, y]).pvalue)


BASELINES: dict[str, PValueFn] = {
    "paired_t": _paired_t,
    "wilcoxon": _wilcoxon,
    "ks": _ks,
    "anderson": _anderson,
}


def fixed_sample_pvalues(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[int], tests: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """p-values of each baseline on the first n pairs of each sequence: name -> (S, len(sizes)).

    x, y: (n,) or (S, n). Sizes larger than n are an error.
    """
    x2, y2 = np.atleast_2d(x), np.atleast_2d(y)
    names = list(tests or BASELINES)
    for name in names:
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name!r}; available: {sorted(BASELINES)}")
    if any(n > x2.shape[1] or n < 2 for n in sizes):
        raise ValueError(f"sizes must be in [2, {x2.shape[1]}], got {list(sizes)}")
    out = {name: np.empty((x2.shape[0], len(sizes))) for name in names}
    for s in range(x2.shape[0]):
        for j, n in enumerate(sizes):
            for name in names:
                out[name][s, j] = BASELINES[name](x2[s, :n], y2[s, :n])
    return out


def fixed_sample_rejection(
    x: np.ndarray,
    y: np.ndarray,
    sizes: Sequence[int],
    alpha: float = 0.05,
    tests: Sequence[str] | None = None,
) -> dict[str, dict[int, float]]:
    """Rejection rate over sequences of each baseline at each fixed sample size."""
    pvals = fixed_sample_pvalues(x, y, sizes, tests)
    return {
        name: {int(n): float((p[:, j] < alpha).mean()) for j, n in enumerate(sizes)}
        for name, p in pvals.items()
    }


def peeking_rejection(
    x: np.ndarray, y: np.ndarray, looks: Sequence[int], alpha: float = 0.05, test: str = "ks"
) -> np.ndarray:
    """Per sequence: rejected at ANY of ``looks`` without correction (what the original code
    reports for KS). Invalid as a sequential test: its rate under H0 exceeds alpha."""
    pvals = fixed_sample_pvalues(x, y, looks, [test])[test]
    return (pvals < alpha).any(axis=1)
