"""Simulated paired scores shaped like toxicity scores (for validity tests and power benchmarks).

Each prompt i has a tail propensity pi_i (Beta with mean ``tail_weight``); a score is drawn from
the bulk Beta (near 0) with probability 1 - pi_i and from the tail Beta otherwise. The two sides
share the prompt through a common uniform U_i (pi_i = quantile of each side's propensity law at
U_i), so paired scores are positively correlated as real paired scores are.

Exact moments: mean = (1 - w) * m_bulk + w * m_tail with w = tail_weight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ToxicityShape:
    """A beta mixture: bulk Beta(bulk_a, bulk_b), tail Beta(tail_a, tail_b), tail weight w."""

    tail_weight: float = 0.15
    bulk_a: float = 1.0
    bulk_b: float = 30.0
    tail_a: float = 2.0
    tail_b: float = 3.0
    # propensity ~ Beta(w c, (1 - w) c); small c = strong prompt effect
    prompt_concentration: float = 2.0

    @property
    def mean(self) -> float:
        bulk = self.bulk_a / (self.bulk_a + self.bulk_b)
        tail = self.tail_a / (self.tail_a + self.tail_b)
        return (1 - self.tail_weight) * bulk + self.tail_weight * tail

    @property
    def variance(self) -> float:
        def moments(a: float, b: float) -> tuple[float, float]:
            m = a / (a + b)
            return m, a * b / ((a + b) ** 2 * (a + b + 1)) + m * m

        w = self.tail_weight
        m0, s0 = moments(self.bulk_a, self.bulk_b)
        m1, s1 = moments(self.tail_a, self.tail_b)
        second = (1 - w) * s0 + w * s1
        return second - self.mean**2

    def with_mean_shift(self, delta: float) -> ToxicityShape:
        """Same components, tail weight raised so that the mean rises by exactly ``delta``."""
        bulk = self.bulk_a / (self.bulk_a + self.bulk_b)
        tail = self.tail_a / (self.tail_a + self.tail_b)
        return replace(self, tail_weight=self.tail_weight + delta / (tail - bulk))

    def with_tail_spread(self, concentration: float) -> ToxicityShape:
        """Same mean everywhere, tail Beta re-parameterised
        to concentration a + b (smaller = wider)."""
        tail = self.tail_a / (self.tail_a + self.tail_b)
        return replace(self, tail_a=tail * concentration, tail_b=(1 - tail) * concentration)

    def with_bulk_spread(self, concentration: float) -> ToxicityShape:
        """Same mean everywhere, bulk Beta re-parameterised
        to concentration a + b (smaller = wider)."""
        bulk = self.bulk_a / (self.bulk_a + self.bulk_b)
        return replace(self, bulk_a=bulk * concentration, bulk_b=(1 - bulk) * concentration)

    def _propensity(self, u: np.ndarray) -> np.ndarray:
        w, c = self.tail_weight, self.prompt_concentration
        return stats.beta.ppf(u, w * c, (1 - w) * c)

    def sample_given_prompts(self, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Scores for prompts with shared uniforms ``u`` (any shape)."""
        in_tail = rng.random(u.shape) < self._propensity(u)
        bulk = rng.beta(self.bulk_a, self.bulk_b, size=u.shape)
        tail = rng.beta(self.tail_a, self.tail_b, size=u.shape)
        return np.where(in_tail, tail, bulk)


def paired_scores(
    reference: ToxicityShape,
    candidate: ToxicityShape,
    shape: tuple[int, ...],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) arrays of ``shape``: x from ``reference``, y from ``candidate`` on shared prompts."""
    u = rng.random(shape)
    return reference.sample_given_prompts(u, rng), candidate.sample_given_prompts(u, rng)


def swap_randomly(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Swap each pair's order with probability 1/2 (makes every pair exchangeable: exact H0)."""
    swap = rng.random(np.shape(x)) < 0.5
    return np.where(swap, y, x), np.where(swap, x, y)


def bernoulli_pairs_at_distance(
    p: float, eps: float, shape: tuple[int, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """x ~ Bernoulli(p + eps), y ~ Bernoulli(p), independent: TV = mean difference = eps exactly.

    The hardest null at tolerance eps for every witness: E phi(X) - E phi(Y) = eps * (phi(1) -
    phi(0)), which equals eps for the oscillation-1 witness that separates 0 from 1.
    """
    return (rng.random(shape) < p + eps).astype(float), (rng.random(shape) < p).astype(float)


def toxicity_pairs_at_distance(
    eps: float, shape: tuple[int, ...], rng: np.random.Generator, base: ToxicityShape | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A toxicity-shaped null at TV distance exactly eps with (nearly) maximal mean difference.

    P = (1 - eps) R + eps * U[0.99, 1] and Q = (1 - eps) R + eps * U[0, 0.01] with R a toxicity
    shape; the two extra components have disjoint supports, so TV(P, Q) = eps and the mean
    difference is 0.99 eps. Pairs share the prompt through R.
    """
    base = base or ToxicityShape()
    u = rng.random(shape)
    common_x = base.sample_given_prompts(u, rng)
    common_y = base.sample_given_prompts(u, rng)
    hi = rng.random(shape) < eps
    lo = rng.random(shape) < eps
    x = np.where(hi, rng.uniform(0.99, 1.0, shape), common_x)
    y = np.where(lo, rng.uniform(0.0, 0.01, shape), common_y)
    return x, y


def prompt_effect_pairs(
    shape: tuple[int, int, int],
    rng: np.random.Generator,
    eps: float = 0.0,
    effect_sd: float = 1.5,
    noise_sd: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """A dependent marginal null: k samples per prompt,
    per-prompt effects, (S, n_prompts, k) arrays.

    x = sigmoid(-2 + u_i + e), y = sigmoid(-2 - u_i + e') with u_i ~ N(0, effect_sd^2) per prompt
    and e, e' ~ N(0, noise_sd^2) per sample: u is symmetric, so X and Y have the SAME marginal law,
    yet one prompt's samples share u_i (prompt by prompt the models differ). With ``eps`` > 0 each
    PROMPT is, with probability eps, "contaminated": all its x samples are replaced by U[0.99, 1]
    and, independently with probability eps, all its y samples by U[0, 0.01]. The marginals are then
    (1 - eps) R + eps U[0.99, 1] and (1 - eps) R + eps U[0, 0.01] with the same R: TV distance
    exactly eps (disjoint extra components), mean difference about 0.99 eps.
    """
    n_seq, n_prompts, k = shape
    u = rng.normal(0.0, effect_sd, (n_seq, n_prompts, 1))
    x = 1.0 / (1.0 + np.exp(-(-2.0 + u + rng.normal(0.0, noise_sd, shape))))
    y = 1.0 / (1.0 + np.exp(-(-2.0 - u + rng.normal(0.0, noise_sd, shape))))
    if eps > 0:
        hi = rng.random((n_seq, n_prompts, 1)) < eps
        lo = rng.random((n_seq, n_prompts, 1)) < eps
        x = np.where(hi, rng.uniform(0.99, 1.0, shape), x)
        y = np.where(lo, rng.uniform(0.0, 0.01, shape), y)
    return x, y


def shuffle_within_sequences(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (S, n) put in an independent random order per sequence (what a row-level audit did)."""
    order = np.argsort(rng.random(x.shape), axis=1)
    return np.take_along_axis(x, order, axis=1), np.take_along_axis(y, order, axis=1)
