"""Disjoint-fold runs: how often, and how fast, a test rejects on a data set.

The unit is the prompt: prompts (with all their samples) are shuffled with a seed (a
data-independent permutation of i.i.d. prompts is still i.i.d.), cut into floor(n_prompts /
fold_size) disjoint folds of ``fold_size`` PROMPTS (= pairs when there is one sample per prompt;
the remainder is reported, not used), and every test runs on all folds (vectorised across folds
whose layouts of samples per prompt agree). No prompt is in two folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llm_behavior.audit.baselines import fixed_sample_rejection
from llm_behavior.audit.sequential import SequentialResult, run_test, summarise
from llm_behavior.audit.units import group_layout


@dataclass(frozen=True)
class Fold:
    x: np.ndarray  # (n_rows,) rows prompt by prompt
    y: np.ndarray
    sizes: np.ndarray  # (fold_size,) samples per prompt


@dataclass(frozen=True)
class Folds:
    folds: list[Fold]
    n_unused: int  # pairs not in any fold
    n_unused_prompts: int

    @property
    def uniform(self) -> bool:
        """All folds have the same layout of samples per prompt (one vectorised run)."""
        first = self.folds[0].sizes
        return all(np.array_equal(f.sizes, first) for f in self.folds)

    def _stack(self, side: str) -> np.ndarray:
        if not self.uniform:
            raise ValueError("folds differ in samples per prompt; iterate over .folds")
        return np.stack([getattr(f, side) for f in self.folds])

    @property
    def x(self) -> np.ndarray:
        """(n_folds, n_rows) when the folds share one layout."""
        return self._stack("x")

    @property
    def y(self) -> np.ndarray:
        return self._stack("y")


def make_folds(
    x: np.ndarray,
    y: np.ndarray,
    fold_size: int,
    seed: int = 0,
    max_folds: int | None = None,
    *,
    groups: np.ndarray | None = None,
) -> Folds:
    """Shuffle the prompts (seeded) and cut them into disjoint folds of ``fold_size`` prompts."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if fold_size < 2:
        raise ValueError(f"fold size must be >= 2, got {fold_size}")
    layout = group_layout(groups, x.size)
    n_folds = layout.n_prompts // fold_size
    if max_folds is not None:
        n_folds = min(n_folds, max_folds)
    if n_folds < 1:
        raise ValueError(
            f"fold size {fold_size} is larger than the {layout.n_prompts} prompts available"
        )
    shuffled = layout.permuted(seed)
    folds = []
    for f in range(n_folds):
        prompts = np.arange(f * fold_size, (f + 1) * fold_size)
        rows = shuffled.rows_of(prompts)
        folds.append(Fold(x[rows], y[rows], shuffled.sizes[prompts]))
    used = sum(f.x.size for f in folds)
    return Folds(folds, int(x.size - used), int(layout.n_prompts - n_folds * fold_size))


def run_folds(
    folds: Folds, test: str, eps: float = 0.0, alpha: float = 0.05
) -> list[SequentialResult]:
    """The test on every fold: one vectorised run per distinct layout of samples per prompt."""
    if folds.uniform:
        return [run_test(folds.x, folds.y, test, eps=eps, alpha=alpha, sizes=folds.folds[0].sizes)]
    return [run_test(f.x, f.y, test, eps=eps, alpha=alpha, sizes=f.sizes) for f in folds.folds]


def fold_run(
    x: np.ndarray,
    y: np.ndarray,
    tests: Sequence[str],
    fold_size: int,
    *,
    eps: float = 0.0,
    alpha: float = 0.05,
    seed: int = 0,
    max_folds: int | None = None,
    baseline_sizes: Sequence[int] = (),
    groups: np.ndarray | None = None,
) -> dict[str, object]:
    """Per test: folds, rejection rate, median prompts and pairs to rejection (over rejecting
    folds), mean final log wealth; plus fixed-sample baselines at ``baseline_sizes`` (not
    anytime-valid; only with one sample per prompt, where pairs are i.i.d.)."""
    folds = make_folds(x, y, fold_size, seed, max_folds, groups=groups)
    results = {name: summarise(run_folds(folds, name, eps, alpha)) for name in tests}
    out: dict[str, object] = {
        "fold_size": int(fold_size),
        "fold_unit": "prompts",
        "n_folds": len(folds.folds),
        "n_unused_pairs": folds.n_unused,
        "n_unused_prompts": folds.n_unused_prompts,
        "seed": int(seed),
        "tests": results,
    }
    sizes = [int(n) for n in baseline_sizes if 2 <= n <= fold_size]
    one_each = all(np.all(f.sizes == 1) for f in folds.folds)
    if sizes and one_each:
        out["fixed_sample_baselines"] = {
            "anytime_valid": False,
            "note": (
                "each rate is for one sample size fixed in advance (H0: P = Q); "
                "not a sequential test"
            ),
            "rejection_rate_at_n": {
                name: {str(n): rate for n, rate in rates.items()}
                for name, rates in fixed_sample_rejection(folds.x, folds.y, sizes, alpha).items()
            },
        }
    elif sizes:
        out["fixed_sample_baselines"] = {
            "skipped": "several samples per prompt: the fixed-sample tests assume i.i.d. pairs"
        }
    return out
