"""The prompt as the unit of an audit: rows (prompt, sample) grouped by prompt.

Every test bets once per prompt (see ``sequential``), so rows must be laid out prompt by prompt
with the samples per prompt (``sizes``). ``group_layout`` builds that layout from a row label
(the prompt id): prompts in order of first appearance (a data-independent order once the row
order is fixed), each prompt's rows in their file order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Rows reordered prompt by prompt: ``order`` (row
    indices), ``sizes`` and ``labels`` per prompt."""

    order: np.ndarray  # (n_rows,) indices into the original rows
    sizes: np.ndarray  # (n_prompts,) samples per prompt, >= 1
    labels: np.ndarray  # (n_prompts,) the group label of each prompt

    @property
    def n_prompts(self) -> int:
        return int(self.sizes.size)

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int)

    def rows_of(self, prompts: np.ndarray) -> np.ndarray:
        """Original row indices of the given prompts
        (positions in this layout), prompt by prompt."""
        starts, sizes = self.starts, self.sizes
        if len(prompts) == 0:
            return np.zeros(0, dtype=int)
        return np.concatenate([self.order[starts[p] : starts[p] + sizes[p]] for p in prompts])

    def permuted(self, seed: int) -> Layout:
        """The same prompts in a seeded random order (each prompt's rows kept together)."""
        perm = np.random.default_rng(seed).permutation(self.n_prompts)
        return Layout(self.rows_of(perm), self.sizes[perm], self.labels[perm])


def group_layout(groups: np.ndarray | None, n_rows: int) -> Layout:
    """Layout of ``n_rows`` rows by their group label (None: every row its own prompt)."""
    if groups is None:
        return Layout(np.arange(n_rows), np.ones(n_rows, dtype=int), np.arange(n_rows))
    labels = list(np.asarray(groups, dtype=object).ravel())
    if len(labels) != n_rows:
        raise ValueError(f"groups has {len(labels)} labels for {n_rows} rows")
    missing = sum(1 for v in labels if v is None or (isinstance(v, float) and np.isnan(v)))
    if missing:
        raise ValueError(f"groups has {missing} missing labels: every row needs its prompt")
    index: dict[object, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in labels), dtype=int, count=n_rows)
    uniques = list(index)  # in order of first appearance
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=len(uniques))
    return Layout(order, sizes.astype(int), np.asarray(uniques, dtype=object))


def cluster_mean_se(values: np.ndarray, sizes: np.ndarray) -> tuple[float, float]:
    """Mean over rows of ``values`` (laid out prompt by
    prompt) and its prompt-clustered standard error.

    Ratio estimator d = sum_i s_i / sum_i k_i (s_i the sum over prompt i's k_i rows), with the
    linearised variance m/(m-1) sum_i (s_i - d k_i)^2 / (sum k)^2 over m prompts; with one row per
    prompt this is the usual var(ddof=1)/n.
    """
    v = np.asarray(values, dtype=float)
    k = np.asarray(sizes, dtype=int)
    if v.size == 0:
        return float("nan"), float("nan")
    s = (
        np.add.reduceat(v, np.concatenate([[0], np.cumsum(k)[:-1]]).astype(int))
        if k.size
        else v[:0]
    )
    total = float(k.sum())
    d = float(s.sum() / total)
    m = k.size
    if m < 2:
        return d, 0.0
    var = m / (m - 1) * float(np.sum((s - d * k) ** 2)) / total**2
    return d, float(np.sqrt(var))
