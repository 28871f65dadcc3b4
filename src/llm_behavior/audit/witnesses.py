"""Predictable witnesses: functions phi_t fitted on pairs 1..t-1 only, with oscillation <= 1.

A witness turns paired scores (x_t, y_t) into increments Z_t = phi_t(x_t) - phi_t(y_t) in [-1, 1].
Shifting phi by a constant changes no increment, so "phi bounded in [-1/2, 1/2]" and "max phi -
min phi <= 1" define the same witness class. Because phi_t depends on the past only and pairs are
i.i.d. (or exchangeable within each pair), E[Z_t | past] = E_P phi_t - E_Q phi_t, whose absolute
value is at most D(P, Q) (the sup over all such phi: the total-variation distance).

Witnesses:
- ``mean``: phi(v) = v (the mean difference; no fitting).
- rank-space witnesses (refitted on a schedule): values are mapped to u = F_past(v), the mid-rank
  of v among the pooled past scores of both sides (a fixed function once the past is known), u is
  binned into ``n_bins`` equal bins, and the witness is a step function over those bins:
  - ``ratio``: (p - q) / (p + q + prior) with p, q kernel-smoothed past bin counts of x and y
    (the small-signal Kelly-optimal shape (dP - dQ)/(dP + dQ));
  - ``kernel``: the MMD witness: kernel-smoothed (p - q);
  - ``ks``: the CDF indicator 1{u <= c*} at the past Kolmogorov-Smirnov argmax c*, oriented;
  - ``smooth``: Neyman's smooth witness: Legendre polynomials of u (degree 1..4) combined by
    the ridge-regularised discriminant direction Sigma^-1 mu of past pair differences.
Every fitted witness is rescaled to oscillation exactly 1 (or 0 when there is no signal yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


def refit_schedule(
    n: int, first: int = 10, step: int = 10, dense_until: int = 200, growth: float = 0.05
) -> np.ndarray:
    """Refit times tau_0 < tau_1 < ... < n: every ``step`` pairs up to ``dense_until``, then
    geometrically (each block ``growth`` x the past, at least ``step``). The witness used on
    pairs [tau_k, tau_{k+1}) is fitted on pairs [0, tau_k)."""
    times: list[int] = []
    t = first
    while t < n:
        times.append(t)
        t = t + step if t < dense_until else t + max(step, int(np.ceil(growth * t)))
    return np.asarray(times, dtype=int)


def _rows_offset(n_rows: int) -> np.ndarray:
    return (2.0 * np.arange(n_rows, dtype=float))[:, None]


def mid_ranks(sorted_pooled: np.ndarray, values: np.ndarray) -> np.ndarray:
    """u = mid-rank of each value among its row of ``sorted_pooled``, divided by the row length.

    Vectorised over rows: rows are shifted apart (values lie in [0, 1]) and searched at once.
    """
    n_rows, width = sorted_pooled.shape
    offset = _rows_offset(n_rows)
    flat = (sorted_pooled + offset).ravel()
    queries = values + offset
    base = (np.arange(n_rows) * width)[:, None]
    left = np.searchsorted(flat, queries, side="left") - base
    right = np.searchsorted(flat, queries, side="right") - base
    return (left + right) / (2.0 * width)


def _bin_counts(bins: np.ndarray, n_bins: int) -> np.ndarray:
    n_rows = bins.shape[0]
    flat = (bins + (np.arange(n_rows) * n_bins)[:, None]).ravel()
    return np.bincount(flat, minlength=n_rows * n_bins).reshape(n_rows, n_bins).astype(float)


def _normalise_oscillation(w: np.ndarray) -> np.ndarray:
    """Rescale each row to max - min = 1 (centred at 0); rows without spread become 0."""
    lo = w.min(axis=1, keepdims=True)
    hi = w.max(axis=1, keepdims=True)
    spread = hi - lo
    safe = np.where(spread > 1e-12, spread, 1.0)
    return np.where(spread > 1e-12, (w - lo) / safe - 0.5, 0.0)


def legendre_features(u: np.ndarray, degree: int) -> np.ndarray:
    """Shifted Legendre polynomials P_1..P_degree of u in [0, 1] (last axis = degree)."""
    s = 2.0 * np.asarray(u, dtype=float) - 1.0
    feats = [np.ones_like(s), s]
    for k in range(1, degree):
        feats.append(((2 * k + 1) * s * feats[k] - k * feats[k - 1]) / (k + 1))
    return np.stack(feats[1 : degree + 1], axis=-1)


def gaussian_bumps(u: np.ndarray, n_bumps: int) -> np.ndarray:
    """``n_bumps`` Gaussian bumps centred on an even grid of [0, 1], width = spacing
    (last axis = bump)."""
    centres = np.linspace(0.0, 1.0, n_bumps)
    return np.exp(
        -0.5 * ((np.asarray(u, dtype=float)[..., None] - centres) * max(n_bumps - 1, 1)) ** 2
    )


def rbf_features(u: np.ndarray, n_bumps: int) -> np.ndarray:
    """u itself plus ``n_bumps`` Gaussian bumps centred on an even grid of [0, 1]
    (width = spacing)."""
    u = np.asarray(u, dtype=float)
    return np.concatenate([u[..., None], gaussian_bumps(u, n_bumps)], axis=-1)


@dataclass(frozen=True)
class RankWitnessState:
    sorted_pooled: np.ndarray  # (S, 2 tau)
    values: np.ndarray  # (S, n_bins) witness per bin, oscillation <= 1


def _smoothing_kernel(n_bins: int, bandwidth: float) -> np.ndarray:
    """Gaussian kernel between bin centres (bins of [0, 1]), bandwidth in u units."""
    centres = (np.arange(n_bins) + 0.5) / n_bins
    return np.exp(-0.5 * ((centres[:, None] - centres[None, :]) / bandwidth) ** 2)


@dataclass(frozen=True, kw_only=True)
class RankBinWitness:
    """Step witness over ``n_bins`` bins of u (see module docstring); one subclass per kind.

    The base class maps scores to bins and evaluates a fitted state; a subclass only says how the
    per-bin witness values come from the past bins (``_bin_values``).
    """

    kind: ClassVar[str]
    n_bins: int = 32
    space: str = (
        "rank"  # bins of: "rank" the pooled-past mid-rank; "raw" the score; "sqrt" its square root
    )

    def __post_init__(self) -> None:
        if self.space not in ("rank", "raw", "sqrt"):
            raise ValueError(f"space must be 'rank', 'raw' or 'sqrt', got {self.space!r}")

    def _bins(self, u: np.ndarray) -> np.ndarray:
        return np.minimum((u * self.n_bins).astype(int), self.n_bins - 1)

    def _u(self, pooled: np.ndarray, values: np.ndarray) -> np.ndarray:
        if self.space == "rank":
            return mid_ranks(pooled, values)
        clipped = np.clip(values, 0.0, 1.0)
        return np.sqrt(clipped) if self.space == "sqrt" else clipped

    def _bin_values(
        self, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
    ) -> np.ndarray:
        """Raw witness per bin (S, n_bins) from past bins bx, by (S, tau), their counts cx, cy."""
        raise NotImplementedError

    def fit(self, past_x: np.ndarray, past_y: np.ndarray) -> RankWitnessState:
        """Fit on past pairs (S, tau): returns the per-bin witness values."""
        pooled = (
            np.sort(np.concatenate([past_x, past_y], axis=1), axis=1)
            if self.space == "rank"
            else past_x[:, :0]
        )
        bx = self._bins(self._u(pooled, past_x))
        by = self._bins(self._u(pooled, past_y))
        w = self._bin_values(bx, by, _bin_counts(bx, self.n_bins), _bin_counts(by, self.n_bins))
        return RankWitnessState(pooled, _normalise_oscillation(np.asarray(w, dtype=float)))

    def evaluate(self, state: RankWitnessState, values: np.ndarray) -> np.ndarray:
        """phi(values) for values (S, m) under the fitted state."""
        bins = self._bins(self._u(state.sorted_pooled, values))
        return np.take_along_axis(state.values, bins, axis=1)


@dataclass(frozen=True, kw_only=True)
class RatioWitness(RankBinWitness):
    """(p - q) / (p + q + prior), p, q kernel-smoothed past bin counts of x and y."""

    kind: ClassVar[str] = "ratio"
    bandwidth: float = 0.08
    prior: float = 2.0

    def _bin_values(
        self, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
    ) -> np.ndarray:
        k = _smoothing_kernel(self.n_bins, self.bandwidth)
        sx, sy = cx @ k, cy @ k
        return (sx - sy) / (sx + sy + self.prior)


@dataclass(frozen=True, kw_only=True)
class KernelWitness(RankBinWitness):
    """The MMD witness: kernel-smoothed (p - q)."""

    kind: ClassVar[str] = "kernel"
    bandwidth: float = 0.08

    def _bin_values(
        self, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
    ) -> np.ndarray:
        return (cx - cy) @ _smoothing_kernel(self.n_bins, self.bandwidth)


@dataclass(frozen=True, kw_only=True)
class ThresholdWitness(RankBinWitness):
    """The Kelly-best indicator 1{bin > b}: the cut b maximising (sum Z)^2 / (sum Z^2 + prior),
    oriented."""

    kind: ClassVar[str] = "threshold"
    prior: float = 2.0

    def _bin_values(
        self, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
    ) -> np.ndarray:
        # past sum of Z_b and of Z_b^2 for every cut b
        sum_z = np.cumsum(cy - cx, axis=1)  # = sum_j 1{bx_j > b} - 1{by_j > b}
        lo, hi = np.minimum(bx, by), np.maximum(bx, by)
        spans = _bin_counts(lo, self.n_bins) - _bin_counts(hi, self.n_bins)
        sum_z2 = np.cumsum(spans, axis=1)  # pairs with lo <= b < hi
        score = sum_z**2 / (sum_z2 + self.prior)
        score[:, -1] = -1.0  # the last cut is constant
        cut = np.argmax(score, axis=1)
        sign = np.sign(sum_z[np.arange(len(cut)), cut])
        return sign[:, None] * (np.arange(self.n_bins)[None, :] > cut[:, None])


@dataclass(frozen=True, kw_only=True)
class KSWitness(RankBinWitness):
    """The CDF indicator 1{u <= c*} at the past Kolmogorov-Smirnov argmax c*, oriented."""

    kind: ClassVar[str] = "ks"

    def _bin_values(
        self, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
    ) -> np.ndarray:
        gap = np.cumsum(cx - cy, axis=1)
        cut = np.argmax(np.abs(gap), axis=1)
        sign = np.sign(gap[np.arange(len(cut)), cut])
        return sign[:, None] * (np.arange(self.n_bins)[None, :] <= cut[:, None])


@dataclass(frozen=True, kw_only=True)
class SmoothWitness(RankBinWitness):
    """Neyman's smooth witness: features of u combined by the ridge discriminant Sigma^-1 mu."""

    kind: ClassVar[str] = "smooth"
    degree: int = 4
    ridge: float = 1e-2
    basis: str = (
        "legendre"  # "legendre" polynomials of degree 1..degree, or "rbf": u + degree bumps
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.basis not in ("legendre", "rbf"):
            raise ValueError(f"basis must be 'legendre' or 'rbf', got {self.basis!r}")

    def _bin_values(
        self, bx: np.ndarray, by: np.ndarray, cx: np.ndarray, cy: np.ndarray
    ) -> np.ndarray:
        centres = (np.arange(self.n_bins) + 0.5) / self.n_bins
        if self.basis == "legendre":
            feats = legendre_features(centres, self.degree)
        else:
            feats = rbf_features(centres, self.degree)
        diff = feats[bx] - feats[by]  # (S, tau, K)
        mu = diff.mean(axis=1)
        sigma = np.einsum("sti,stj->sij", diff, diff) / diff.shape[1]
        sigma += self.ridge * np.eye(feats.shape[1])[None]
        coef = np.linalg.solve(sigma, mu[..., None])[..., 0]
        return coef @ feats.T


WITNESS_CLASSES: dict[str, type[RankBinWitness]] = {
    cls.kind: cls
    for cls in (RatioWitness, KernelWitness, KSWitness, SmoothWitness, ThresholdWitness)
}
RANK_WITNESS_KINDS: tuple[str, ...] = tuple(WITNESS_CLASSES)


def rank_witness(kind: str, **settings: Any) -> RankBinWitness:
    """The witness of ``kind`` with ``settings`` (its fields):
    ``rank_witness("ratio", n_bins=20)`` is ``RatioWitness(n_bins=20)``."""
    if kind not in WITNESS_CLASSES:
        raise ValueError(f"unknown witness kind {kind!r}; available: {RANK_WITNESS_KINDS}")
    return WITNESS_CLASSES[kind](**settings)


def mean_increments(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Z_t = x_t - y_t: the witness phi(v) = v (oscillation 1 on [0, 1])."""
    return np.asarray(x, dtype=float) - np.asarray(y, dtype=float)


def check_paired_scores(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y as 2-D float arrays (S, n_rows) of the same shape with finite scores only."""
    x2, y2 = np.atleast_2d(np.asarray(x, dtype=float)), np.atleast_2d(np.asarray(y, dtype=float))
    if x2.shape != y2.shape:
        raise ValueError(f"x and y must have the same shape, got {x2.shape} and {y2.shape}")
    bad = int((~np.isfinite(x2)).sum() + (~np.isfinite(y2)).sum())
    if bad:
        raise ValueError(
            f"x and y contain {bad} NaN or infinite score(s): drop incomplete pairs before the "
            "audit (the pipeline and the CLI drop and count them)"
        )
    return x2, y2


def check_sizes(sizes: np.ndarray | None, n_rows: int) -> np.ndarray:
    """Samples per prompt (the unit): positive integers summing to ``n_rows``; None = one each."""
    if sizes is None:
        return np.ones(n_rows, dtype=int)
    k = np.asarray(sizes)
    if (
        k.ndim != 1
        or k.size == 0
        and n_rows
        or not np.issubdtype(k.dtype, np.integer)
        or (k.size and k.min() < 1)
    ):
        raise ValueError(
            f"sizes (samples per prompt) must be a 1-D array of positive integers, got {sizes!r}"[
                :200
            ]
        )
    if int(k.sum()) != n_rows:
        raise ValueError(
            f"sizes (samples per prompt) sum to {int(k.sum())}, but there are {n_rows} pairs"
        )
    return k.astype(int)


def prompt_starts(sizes: np.ndarray) -> np.ndarray:
    """Index of each prompt's first row (rows of one prompt are contiguous)."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)


def prompt_means(z: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per-prompt mean of row values z (S, n_rows, ...) -> (S, n_prompts, ...) (e.g. increments,
    or feature vectors on a last axis); rows of a prompt are contiguous."""
    if np.all(sizes == 1):
        return z
    per_prompt = sizes.reshape((1, -1) + (1,) * (z.ndim - 2))
    return np.add.reduceat(z, prompt_starts(sizes), axis=1) / per_prompt


def rank_witness_increments(
    x: np.ndarray,
    y: np.ndarray,
    witness: RankBinWitness,
    schedule: np.ndarray | None = None,
    sizes: np.ndarray | None = None,
) -> np.ndarray:
    """Row increments Z (S, n_rows) with the witness refitted at each time of ``schedule``
    (in rows) on all earlier rows.

    With ``sizes`` (samples per prompt, rows of a prompt contiguous) the default schedule is
    ``refit_schedule`` over PROMPTS, mapped to each refit prompt's first row: every row of a
    prompt is scored by a witness fitted on earlier prompts only. Rows before the first refit
    get Z = 0 (no bet).
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n = x.shape[1]
    if schedule is None:
        k = check_sizes(sizes, n)
        times = prompt_starts(k)[refit_schedule(k.size)] if k.size else np.zeros(0, dtype=int)
    else:
        times = np.asarray(schedule, dtype=int)
    z = np.zeros_like(x)
    for k, tau in enumerate(times):
        end = int(times[k + 1]) if k + 1 < len(times) else n
        state = witness.fit(x[:, :tau], y[:, :tau])
        z[:, tau:end] = witness.evaluate(state, x[:, tau:end]) - witness.evaluate(
            state, y[:, tau:end]
        )
    return z
