"""Bettors against independent scalar re-computations and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm_behavior.audit.betting import (
    agrapa_log_wealth,
    bet,
    max_bet,
    mixture_log_wealth,
    ons_log_wealth,
    portfolio_log_wealth,
)
from llm_behavior.audit.combine import average_log_wealth, weighted_log_wealth


def _ons_reference(z: list[float], eps: float, cap: float) -> list[float]:
    """Plain-Python ONS (Cutkosky & Orabona), written out independently."""
    lam, a, logw, out = 0.0, 1.0, 0.0, []
    for zt in z:
        s = 1.0 if lam > 0 or (lam == 0 and zt >= 0) else -1.0
        f = 1 + lam * zt - abs(lam) * eps
        logw += math.log(f)
        out.append(logw)
        g = -(zt - s * eps) / f
        a += g * g
        lam = min(cap, max(-cap, lam - 2 / (2 - math.log(3)) * g / a))
    return out


@pytest.mark.parametrize("eps", [0.0, 0.05])
def test_ons_matches_scalar_reference_and_vector_path(eps: float) -> None:
    z = np.random.default_rng(0).uniform(-1, 1, (3, 200)) * 0.6 + 0.1
    vector = ons_log_wealth(z, eps=eps)
    for s in range(3):
        expected = _ons_reference(z[s].tolist(), eps, max_bet(eps, 0.5))
        np.testing.assert_allclose(vector[s], expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            ons_log_wealth(z[s], eps=eps)[0], expected, rtol=1e-12, atol=1e-12
        )


def test_agrapa_matches_loop() -> None:
    z = np.random.default_rng(1).uniform(-1, 1, 150) * 0.5 + 0.05
    eps, cap = 0.02, 0.5
    logw, out, sum_z, sum_z2 = 0.0, [], 0.0, 0.0
    for t, zt in enumerate(z):
        m = (0.0 + sum_z) / (1 + t)
        v = (0.25 + sum_z2) / (1 + t)
        lam = float(np.clip(np.sign(m) * max(abs(m) - eps, 0) / v, -cap, cap))
        logw += math.log(1 + lam * zt - abs(lam) * eps)
        out.append(logw)
        sum_z += zt
        sum_z2 += zt * zt
    np.testing.assert_allclose(agrapa_log_wealth(z, eps=eps)[0], out, rtol=1e-12)


def test_mixture_is_average_of_constant_bets() -> None:
    z = np.random.default_rng(2).uniform(-1, 1, 60)
    grid = 0.9 * np.arange(1, 5) / 4
    grid = np.concatenate([grid, -grid])
    direct = np.mean([np.cumprod(1 + lam * z - abs(lam) * 0.01) for lam in grid], axis=0)
    np.testing.assert_allclose(
        np.exp(mixture_log_wealth(z, eps=0.01, n_grid=4)[0]), direct, rtol=1e-10
    )


def test_hand_worked_constant_increments() -> None:
    """Z = 1 always: aGRAPA's bet after t pairs is
    min(cap, (t/(1+t) - eps) / ((0.25 + t)/(1 + t)))."""
    z = np.ones(3)
    eps = 0.1
    lams = [0.0, min(0.5, (1 / 2 - eps) / (1.25 / 2)), min(0.5, (2 / 3 - eps) / (2.25 / 3))]
    expected = np.cumsum([math.log(1 + lam - lam * eps) for lam in lams])
    np.testing.assert_allclose(agrapa_log_wealth(z, eps=eps)[0], expected)


def test_portfolio_single_witness_matches_agrapa_without_cap_binding() -> None:
    z = np.random.default_rng(3).uniform(-1, 1, 100) * 0.3
    one = portfolio_log_wealth(z[None, :, None], lambda_max=0.5)
    lam = []
    for t in range(100):
        m = z[:t].sum() / (1 + t)
        v = (0.25 + (z[:t] ** 2).sum()) / (1 + t)
        lam.append(float(np.clip(m / v, -0.5, 0.5)))
    np.testing.assert_allclose(one[0], np.cumsum(np.log1p(np.array(lam) * z)), rtol=1e-10)


def test_bad_increments_and_eps_are_errors() -> None:
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        bet(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="NaN"):
        bet(np.array([0.5, np.nan]))
    with pytest.raises(ValueError, match="eps"):
        bet(np.array([0.5]), eps=-0.1)
    with pytest.raises(ValueError, match="unknown bettor"):
        bet(np.array([0.5]), "martingale")


def test_payoffs_stay_positive_at_the_extremes() -> None:
    z = np.array([[1.0, -1.0] * 50])
    for name in ("ons", "agrapa", "mixture"):
        assert np.all(np.isfinite(bet(z, name, eps=0.3)))


def test_average_and_weighted_combinations() -> None:
    rng = np.random.default_rng(4)
    a, b = np.cumsum(rng.normal(0, 0.1, (2, 50)), axis=1)
    np.testing.assert_allclose(np.exp(average_log_wealth([a, b])), (np.exp(a) + np.exp(b)) / 2)
    # eta = 1 re-weighting is exactly the average
    np.testing.assert_allclose(
        weighted_log_wealth([a, b], eta=1.0), average_log_wealth([a, b]), atol=1e-12
    )
    with pytest.raises(ValueError):
        average_log_wealth([a, b], np.array([0.7, 0.7]))
