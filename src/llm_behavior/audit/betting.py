"""Bet sizing: turn a sequence of witness increments into the log-wealth of an e-process.

Input: ``increments`` Z of shape (S, n) (S independent sequences of n pairs), every entry
Z_t = phi_t(x_t) - phi_t(y_t) in [-1, 1], with phi_t a witness fixed before pair t is seen.
Under H0 (D(P, Q) <= eps) ``|E[Z_t | past]| <= eps`` for every t.

Every bettor here picks a bet lambda_t from Z_1..Z_{t-1} only (predictable) and multiplies the
wealth by the tolerant payoff

    f_t(lambda) = 1 + lambda * Z_t - |lambda| * eps,        |lambda| * (1 + eps) <= 1.

Then f_t >= 0 and E[f_t | past] = 1 + lambda * E[Z_t | past] - |lambda| eps <= 1 under H0, so
the wealth is a nonnegative supermartingale (Ville: P(sup_t W_t >= 1/alpha) <= alpha). A mixture
(average over bets) of such wealths is one too. With eps = 0 this is the usual 1 + lambda Z.

Bettors:
- ``ons``: online Newton step on -log f (Cutkosky &
  Orabona 2018), lambda in [-lambda_max, lambda_max].
- ``agrapa``: predictable plug-in of the Kelly bet, lambda_t = (|mean Z| - eps)_+ / mean Z^2
  over the past with a prior (Waudby-Smith & Ramdas 2023), fully vectorised.
- ``mixture``: average of constant-bet wealths over a fixed grid of bets (vectorised).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LOG3 = float(np.log(3.0))
Bettor = Callable[..., np.ndarray]


def _check_increments(increments: np.ndarray, eps: float) -> np.ndarray:
    z = np.asarray(increments, dtype=float)
    if z.ndim == 1:
        z = z[None, :]
    if z.ndim != 2:
        raise ValueError(f"increments must be 1-D or 2-D (sequences x pairs), got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("increments contain NaN or inf")
    if z.size and (z.min() < -1 - 1e-12 or z.max() > 1 + 1e-12):
        raise ValueError("increments must lie in [-1, 1] (witness oscillation <= 1)")
    if not 0 <= eps < 1:
        raise ValueError(f"eps must be in [0, 1), got {eps}")
    return z


def max_bet(eps: float, lambda_max: float = 0.5) -> float:
    """Largest allowed |lambda|: lambda_max, shrunk so that |lambda| (1 + eps) < 1 (payoff >= 0)."""
    return float(min(lambda_max, 0.999 / (1.0 + eps)))


def ons_log_wealth(increments: np.ndarray, eps: float = 0.0, lambda_max: float = 0.5) -> np.ndarray:
    """Log-wealth (S, n) of online-Newton-step betting on ``increments`` with tolerance ``eps``.

    lambda_1 = 0; after pair t the loss -log f_t(lambda) has (sub)gradient
    g_t = -(Z_t - eps sign)/f_t; A_t = 1 + sum g^2; lambda <- clip(lambda - 2/(2 - log 3) g_t/A_t).
    """
    z = _check_increments(increments, eps)
    n_seq, n = z.shape
    lam_cap = max_bet(eps, lambda_max)
    step = 2.0 / (2.0 - LOG3)
    out = np.empty_like(z)
    if n_seq == 1:  # scalar loop: far faster than numpy on length-1 vectors
        lam, a, logw = 0.0, 1.0, 0.0
        zs = z[0].tolist()
        row = out[0]
        log = np.log
        for t, zt in enumerate(zs):
            direction = 1.0 if (lam > 0 or (lam == 0 and zt >= 0)) else -1.0
            f = 1.0 + lam * zt - abs(lam) * eps
            logw += float(log(f))
            row[t] = logw
            g = -(zt - eps * direction) / f
            a += g * g
            lam = min(max(lam - step * g / a, -lam_cap), lam_cap)
        return out
    lam = np.zeros(n_seq)
    a = np.ones(n_seq)
    logw = np.zeros(n_seq)
    for t in range(n):
        zt = z[:, t]
        direction = np.where((lam > 0) | ((lam == 0) & (zt >= 0)), 1.0, -1.0)
        f = 1.0 + lam * zt - np.abs(lam) * eps
        logw += np.log(f)
        out[:, t] = logw
        g = -(zt - eps * direction) / f
        a += g * g
        lam = np.clip(lam - step * g / a, -lam_cap, lam_cap)
    return out


def sums_before(x: np.ndarray) -> np.ndarray:
    """Sum over pairs 1..t-1 at every t (axis 1; 0 at
    the first pair): what a predictable bet may use."""
    out = np.zeros_like(x, dtype=float)
    np.cumsum(x[:, :-1], axis=1, out=out[:, 1:])
    return out


def agrapa_log_wealth(
    increments: np.ndarray,
    eps: float = 0.0,
    *,
    lambda_max: float = 0.5,
    prior_mean: float = 0.0,
    prior_second_moment: float = 0.25,
    prior_weight: float = 1.0,
) -> np.ndarray:
    """Log-wealth of the predictable plug-in Kelly bet (aGRAPA), vectorised with cumulative sums.

    lambda_t = sign(m) * (|m| - eps)_+ / v, clipped to the max bet, where m and v are the
    prior-regularised means of Z and Z^2 over pairs 1..t-1.
    """
    z = _check_increments(increments, eps)
    lam = agrapa_bets(
        z,
        eps,
        lambda_max=lambda_max,
        prior_mean=prior_mean,
        prior_second_moment=prior_second_moment,
        prior_weight=prior_weight,
    )
    return np.cumsum(np.log1p(lam * z - np.abs(lam) * eps), axis=1)


def agrapa_bets(
    increments: np.ndarray,
    eps: float = 0.0,
    *,
    lambda_max: float = 0.5,
    prior_mean: float = 0.0,
    prior_second_moment: float = 0.25,
    prior_weight: float = 1.0,
) -> np.ndarray:
    """The predictable aGRAPA bets lambda_t (S, n) of
    ``agrapa_log_wealth`` (from pairs before t only)."""
    z = _check_increments(increments, eps)
    lam_cap = max_bet(eps, lambda_max)
    n = z.shape[1]
    past_count = prior_weight + np.arange(n, dtype=float)
    sum_z, sum_z2 = sums_before(z), sums_before(z * z)
    m = (prior_weight * prior_mean + sum_z) / past_count
    v = (prior_weight * prior_second_moment + sum_z2) / past_count
    lam = np.sign(m) * np.maximum(np.abs(m) - eps, 0.0) / np.maximum(v, 1e-12)
    return np.clip(lam, -lam_cap, lam_cap)


def mixture_log_wealth(
    increments: np.ndarray,
    eps: float = 0.0,
    lambda_max: float = 0.9,
    n_grid: int = 20,
) -> np.ndarray:
    """Log of the average wealth of constant bets on a symmetric grid of ``2 n_grid`` bets.

    Grid: +-lambda_max * k / n_grid for k = 1..n_grid (each bet a test supermartingale under H0,
    so their average is one too).
    """
    z = _check_increments(increments, eps)
    lam_cap = max_bet(eps, lambda_max)
    grid = lam_cap * np.arange(1, n_grid + 1) / n_grid
    grid = np.concatenate([grid, -grid])
    acc = np.full(z.shape, -np.inf)
    for lam in grid:
        acc = np.logaddexp(acc, np.cumsum(np.log1p(lam * z - abs(lam) * eps), axis=1))
    return acc - np.log(len(grid))


BETTORS: dict[str, Bettor] = {
    "ons": ons_log_wealth,
    "agrapa": agrapa_log_wealth,
    "mixture": mixture_log_wealth,
}


def bet(
    increments: np.ndarray, bettor: str = "ons", eps: float = 0.0, **options: float
) -> np.ndarray:
    """Log-wealth (S, n) of the named bettor on ``increments``."""
    if bettor not in BETTORS:
        raise ValueError(f"unknown bettor {bettor!r}; available: {sorted(BETTORS)}")
    return BETTORS[bettor](increments, eps=eps, **options)


def portfolio_log_wealth(
    increments: np.ndarray,
    eps: float = 0.0,
    lambda_max: float = 0.5,
    prior_second_moment: float = 0.25,
    prior_weight: float = 1.0,
) -> np.ndarray:
    """Log-wealth of a predictable plug-in Kelly portfolio over K witnesses at once.

    ``increments`` has shape (S, n, K). The bet vector is lambda_t = M_t^-1 m_t from the
    prior-regularised past means m (soft-thresholded by eps) and second-moment matrices M of the
    increment vectors, scaled down so that ||lambda||_1 <= max bet. Payoff 1 + lambda.Z -
    ||lambda||_1 eps is >= 0 and has conditional mean <= 1 under H0 since each |E Z_k| <= eps.
    """
    z = np.asarray(increments, dtype=float)
    if z.ndim == 2:
        z = z[:, :, None]
    _check_increments(z.reshape(z.shape[0], -1), eps)
    _, n, k = z.shape
    lam_cap = max_bet(eps, lambda_max)
    count = (prior_weight + np.arange(n, dtype=float))[None, :, None]
    sum_z = sums_before(z)
    sum_outer = sums_before(z[..., :, None] * z[..., None, :])
    m = sum_z / count
    m = np.sign(m) * np.maximum(np.abs(m) - eps, 0.0)
    second = (sum_outer + prior_weight * prior_second_moment * np.eye(k)) / count[..., None]
    lam = np.linalg.solve(second, m[..., None])[..., 0]
    norm = np.abs(lam).sum(axis=-1, keepdims=True)
    lam = lam * np.minimum(1.0, lam_cap / np.maximum(norm, 1e-300))
    payoff = 1.0 + np.einsum("snk,snk->sn", lam, z) - eps * np.abs(lam).sum(axis=-1)
    return np.cumsum(np.log(payoff), axis=1)


BETTORS["portfolio"] = portfolio_log_wealth
