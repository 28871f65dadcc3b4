"""Combining e-processes validly.

- ``average_log_wealth``: the mean of K e-processes (each a test supermartingale for the same
  filtration) is one too; costs at most log K in log-wealth against the best of them.
- ``weighted_log_wealth``: predictable re-weighting. At pair t the combined wealth is multiplied
  by sum_k w_{k,t} f_{k,t}, with f_{k,t} the payoff of process k and weights w_{k,t} proportional
  to W_{k,t-1}^eta (fixed before pair t, summing to one): a convex combination of payoffs with
  conditional mean <= 1 each, so the product is a test supermartingale. eta = 1 is exactly the
  average; larger eta follows the currently richest process more closely.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def average_log_wealth(
    log_wealths: list[np.ndarray] | np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """log( sum_k weights_k W_k ) for K log-wealth arrays
    of equal shape (uniform weights by default)."""
    stack = np.stack([np.asarray(w, dtype=float) for w in log_wealths])
    k = stack.shape[0]
    weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != (k,) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ValueError("weights must be K nonnegative numbers summing to 1")
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    return logsumexp(stack + log_w.reshape((k,) + (1,) * (stack.ndim - 1)), axis=0)


def weighted_log_wealth(log_wealths: list[np.ndarray] | np.ndarray, eta: float = 1.0) -> np.ndarray:
    """Combined log-wealth with predictable weights
    proportional to W_{k,t-1}^eta (see module doc)."""
    stack = np.stack([np.asarray(w, dtype=float) for w in log_wealths])  # (K, S, n)
    if eta <= 0:
        raise ValueError(f"eta must be > 0, got {eta}")
    prev = np.concatenate([np.zeros(stack.shape[:-1] + (1,)), stack[..., :-1]], axis=-1)
    log_payoff = stack - prev  # log f_{k,t}
    log_weights = eta * prev
    log_weights -= logsumexp(log_weights, axis=0, keepdims=True)
    return np.cumsum(logsumexp(log_weights + log_payoff, axis=0), axis=-1)
