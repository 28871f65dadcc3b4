r"""Log-optimal witnesses: witness AND bet fitted on earlier prompts to maximise their wealth.

The witness is linear in fixed features, g(v) = theta . F(v). At each refit time (the prompts of
``witnesses.refit_schedule``) theta is fitted on the earlier prompts only, by damped Newton on

    sum_j log(1 + theta . d_j) - ridge |theta|^2,     d_j = mean_i F(x_ji) - F(y_ji)

(d_j: prompt j's mean feature difference over its samples; the bet is part of theta). The fitted
g is then CLIPPED to [lo, hi], its range over a grid of [0, 1] and the pooled earlier scores (so
its oscillation is at most osc = hi - lo), and scaled by c in [0, c_max], c_max = min(1,
cap / ((1 + eps) osc)), the c that maximises the earlier prompts' tolerant log wealth
sum_j log(1 + c (z_j - eps osc)) (z_j: their increments under the clipped g; at eps = 0 this is
c_max, since theta is already log-optimal up to the ridge). Prompt t pays

    f_t = 1 + c (mean_i g(x_ti) - g(y_ti) - eps osc)    >= 1 - cap > 0.

g, lo, hi and c are fixed before prompt t's first sample, prompts are independent and every
sample has the marginal law, so E[f_t | earlier prompts] = 1 + c (E_P g - E_Q g - eps osc)
<= 1 + c osc (D(P, Q) - eps) <= 1 under H0: D(P, Q) <= eps. The wealth prod f_t is a test
supermartingale (Ville's inequality gives the level), for any number of (dependent) samples per
prompt.

Features (``parts``, each a (kind, size) pair):
- ``rank_legendre``: shifted Legendre polynomials 1..size of the pooled-past mid-rank of v;
- ``raw_legendre``: shifted Legendre polynomials 1..size of v itself;
- ``sqrt_bumps``: size Gaussian bumps (width = spacing) on an even grid of sqrt(v);
- ``raw_bumps``: size Gaussian bumps on an even grid of v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from llm_behavior.audit.witnesses import (
    check_paired_scores,
    check_sizes,
    gaussian_bumps,
    legendre_features,
    mid_ranks,
    prompt_means,
    prompt_starts,
    refit_schedule,
)

FEATURE_KINDS = ("rank_legendre", "raw_legendre", "sqrt_bumps", "raw_bumps")


@dataclass(frozen=True)
class LogOptimalWitness:
    """Features, ridge and cap of a log-optimal witness (see the module docstring)."""

    parts: tuple[tuple[str, int], ...]
    ridge: float = 20.0
    cap: float = 0.95  # largest c * osc * (1 + eps): every payoff is >= 1 - cap
    grid_points: int = 257  # grid of [0, 1] on which (with the pooled past) the range is taken

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("a log-optimal witness needs at least one feature part")
        for kind, size in self.parts:
            if kind not in FEATURE_KINDS:
                raise ValueError(f"unknown feature kind {kind!r}; available: {FEATURE_KINDS}")
            if int(size) < (1 if kind == "rank_legendre" else 2):
                raise ValueError(f"feature part {kind!r} needs a larger size, got {size}")
        if self.ridge <= 0:
            raise ValueError(f"ridge must be > 0, got {self.ridge}")
        if not 0.0 < self.cap < 1.0:
            raise ValueError(f"cap must be in (0, 1), got {self.cap}")

    @property
    def uses_ranks(self) -> bool:
        return any(kind == "rank_legendre" for kind, _ in self.parts)

    def features(
        self, pooled: np.ndarray | None, values: np.ndarray, ranks: np.ndarray | None = None
    ) -> np.ndarray:
        """F(values): (S, m) -> (S, m, K); ``pooled`` = sorted pooled past scores (S, W);
        ``ranks``: the values' mid-ranks among ``pooled`` when already known."""
        clipped = np.clip(values, 0.0, 1.0)
        out = []
        for kind, size in self.parts:
            if kind == "rank_legendre":
                u = mid_ranks(pooled, values) if ranks is None else ranks
                out.append(legendre_features(u, size))
            elif kind == "raw_legendre":
                out.append(legendre_features(clipped, size))
            elif kind == "sqrt_bumps":
                out.append(gaussian_bumps(np.sqrt(clipped), size))
            else:
                out.append(gaussian_bumps(clipped, size))
        return np.concatenate(out, axis=-1)


def _objective(d: np.ndarray, theta: np.ndarray, ridge: float) -> np.ndarray:
    """sum_j log(1 + theta . d_j) - ridge |theta|^2 per row; -inf where a payoff is <= 1e-3."""
    p = 1.0 + np.einsum("snk,sk->sn", d, theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.log(np.maximum(p, 1e-300)).sum(axis=1) - ridge * (theta**2).sum(axis=1)
    return np.where(p.min(axis=1, initial=np.inf) > 1e-3, value, -np.inf)


def fit_log_optimal(
    d: np.ndarray, ridge: float, theta: np.ndarray | None = None, iters: int = 20
) -> np.ndarray:
    """argmax_theta sum_j log(1 + theta . d_j) - ridge |theta|^2 for each row of d (S, n, K),
    by damped Newton (step halving until the objective does not decrease) from ``theta``
    (rows where it is infeasible restart from 0)."""
    n_seq, _, n_feat = d.shape
    theta = np.zeros((n_seq, n_feat)) if theta is None else np.array(theta, dtype=float)
    current = _objective(d, theta, ridge)
    theta[~np.isfinite(current)] = 0.0
    current = _objective(d, theta, ridge)
    active = np.ones(n_seq, dtype=bool)
    eye = 2.0 * ridge * np.eye(n_feat)
    for _ in range(iters):
        if not active.any():
            break
        p = 1.0 + np.einsum("snk,sk->sn", d, theta)
        grad = np.einsum("snk,sn->sk", d, 1.0 / p) - 2.0 * ridge * theta
        hess = np.swapaxes(d / (p**2)[..., None], 1, 2) @ d + eye
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        size = np.ones(n_seq)
        accepted = np.zeros(n_seq, dtype=bool)
        value = current.copy()
        while True:
            trying = active & ~accepted & (size > 1e-4)
            if not trying.any():
                break
            candidate = _objective(d, theta + size[:, None] * step, ridge)
            ok = trying & (candidate >= current)
            value[ok] = candidate[ok]
            accepted |= ok
            size[trying & ~ok] *= 0.5
        gain = np.where(accepted, value - current, 0.0)
        theta[accepted] += size[accepted, None] * step[accepted]
        current = np.where(accepted, value, current)
        active &= accepted & (gain >= 1e-8)
    return theta


def best_scale(w: np.ndarray, c_max: np.ndarray, iters: int = 40) -> np.ndarray:
    """argmax over c in [0, c_max] of sum_j log(1 + c w_j), per row of w (S, n) (concave in c;
    requires c_max |w| < 1). Bisection on the derivative sum_j w_j / (1 + c w_j)."""

    def slope(c: np.ndarray) -> np.ndarray:
        return (w / (1.0 + c[:, None] * w)).sum(axis=1)

    lo, hi = np.zeros_like(c_max), c_max.copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        up = slope(mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    c = 0.5 * (lo + hi)
    c = np.where(slope(np.zeros_like(c_max)) <= 0, 0.0, c)
    return np.where(slope(c_max) >= 0, c_max, c)


def log_optimal_increments(
    x: np.ndarray,
    y: np.ndarray,
    witness: LogOptimalWitness,
    eps: float = 0.0,
    sizes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-prompt increments of the fitted witness and its fitted bets, both (S, n_prompts).

    z_t = mean_i g_t(x_ti) - g_t(y_ti) with g_t the clipped witness divided by its oscillation
    (so z_t is in [-1, 1]; 0 before the first refit), and bet_t = c_t osc_t in
    [0, cap / (1 + eps)]: the payoff of prompt t is 1 + bet_t (z_t - eps) (module docstring).
    Paired scores (S, n_rows), rows of a prompt contiguous (``sizes`` samples per prompt).
    """
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"eps must be in [0, 1), got {eps}")
    x, y = check_paired_scores(x, y)
    k = check_sizes(sizes, x.shape[1])
    starts = np.append(prompt_starts(k), x.shape[1]) if k.size else np.zeros(1, dtype=int)
    n_seq, n_prompts = x.shape[0], k.size
    grid = np.broadcast_to(np.linspace(0.0, 1.0, witness.grid_points), (n_seq, witness.grid_points))
    z = np.zeros((n_seq, n_prompts))
    bets = np.zeros((n_seq, n_prompts))
    times = refit_schedule(n_prompts)
    theta = None
    for block, tau in enumerate(times):
        end = int(times[block + 1]) if block + 1 < len(times) else n_prompts
        past, now = slice(0, starts[tau]), slice(starts[tau], starts[end])
        n_past = int(starts[tau])
        both = np.concatenate([x[:, past], y[:, past]], axis=1)  # the pooled past, unsorted
        pooled, ranks = (
            (np.sort(both, axis=1), _mid_ranks_of(both)) if witness.uses_ranks else (None, None)
        )
        f_both = witness.features(pooled, both, ranks)
        d = prompt_means(f_both[:, :n_past] - f_both[:, n_past:], k[:tau])
        theta = fit_log_optimal(d, witness.ridge, theta)
        g_grid = np.einsum("smk,sk->sm", witness.features(pooled, grid), theta)
        g_past = np.einsum("smk,sk->sm", f_both, theta)
        lo = np.minimum(g_grid.min(axis=1), g_past.min(axis=1))
        hi = np.maximum(g_grid.max(axis=1), g_past.max(axis=1))
        osc = hi - lo
        has_range = osc > 1e-12
        safe_osc = np.where(has_range, osc, 1.0)
        c_max = np.where(has_range, np.minimum(1.0, witness.cap / ((1.0 + eps) * safe_osc)), 0.0)
        past_z = np.einsum("snk,sk->sn", d, theta)  # the clipped g: past scores lie in its range
        c = best_scale(past_z - eps * osc[:, None], c_max)
        gx = _clipped_witness(witness, pooled, theta, x[:, now], (lo, hi))
        gy = _clipped_witness(witness, pooled, theta, y[:, now], (lo, hi))
        z[:, tau:end] = np.where(
            has_range[:, None], prompt_means(gx - gy, k[tau:end]) / safe_osc[:, None], 0.0
        )
        bets[:, tau:end] = (c * osc)[:, None]
    return z, bets


def log_optimal_log_wealth(
    x: np.ndarray,
    y: np.ndarray,
    witness: LogOptimalWitness,
    eps: float = 0.0,
    sizes: np.ndarray | None = None,
) -> np.ndarray:
    """Log-wealth (S, n_prompts) of the log-optimal witness test (module docstring):
    cumsum log(1 + bet_t (z_t - eps)) of ``log_optimal_increments``."""
    z, bets = log_optimal_increments(x, y, witness, eps=eps, sizes=sizes)
    return np.cumsum(np.log1p(bets * (z - eps)), axis=1)


def _clipped_witness(
    witness: LogOptimalWitness,
    pooled: np.ndarray | None,
    theta: np.ndarray,
    values: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """g(values) = theta . F(values) clipped to [lo, hi] = ``bounds``, per row."""
    raw = np.einsum("smk,sk->sm", witness.features(pooled, values), theta)
    return np.clip(raw, bounds[0][:, None], bounds[1][:, None])


def _mid_ranks_of(values: np.ndarray) -> np.ndarray:
    """Each value's mid-rank among its own row, divided by the row length (= ``mid_ranks`` of
    the row against its sorted self): (average 1-based rank - 1/2) / width."""
    return (rankdata(values, method="average", axis=1) - 0.5) / values.shape[1]
