"""The log-optimal witness test (llm_behavior.audit.logopt): its fit, its payoffs, its timing.

Validity under the nulls (swap, i.i.d., distance exactly eps, dependent samples per prompt) is
checked with every other fast test in test_validity.py and test_prompt_unit.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from llm_behavior.audit.logopt import (
    LogOptimalWitness,
    best_scale,
    fit_log_optimal,
    log_optimal_increments,
    log_optimal_log_wealth,
)
from llm_behavior.audit.simulate import ToxicityShape, paired_scores
from llm_behavior.audit.witnesses import prompt_starts, refit_schedule

RAW = LogOptimalWitness((("raw_bumps", 10),))
RANK_SQRT = LogOptimalWitness((("rank_legendre", 4), ("sqrt_bumps", 8)))


def test_newton_fit_matches_scipy() -> None:
    """The damped-Newton optimum equals scipy's (Nelder-Mead on the same penalised log wealth)."""
    rng = np.random.default_rng(0)
    d = rng.uniform(-1, 1, (3, 60, 4)) * np.array([1.0, 0.5, 0.3, 0.2])
    d[:, :, 0] += 0.3  # a signal on the first feature
    ridge = 2.0
    theta = fit_log_optimal(d, ridge)
    for s in range(3):

        def loss(t: np.ndarray, s: int = s) -> float:
            p = 1.0 + d[s] @ t
            return np.inf if p.min() <= 0 else -(np.log(p).sum() - ridge * t @ t)

        options = {"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}
        ref = optimize.minimize(loss, np.zeros(4), method="Nelder-Mead", options=options)
        np.testing.assert_allclose(theta[s], ref.x, atol=1e-4)
        assert theta[s, 0] > 0.1  # it bets on the signal


def test_best_scale_matches_scipy_and_respects_its_bounds() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(0.05, 0.3, (4, 50)).clip(-0.9, 0.9)
    w[1] -= 0.2  # negative drift: no bet
    w[2] += 0.5  # strong drift: the bound binds
    c_max = np.full(4, 1.0)
    c = best_scale(w, c_max)
    for s in range(4):
        ref = optimize.minimize_scalar(
            lambda a, s=s: -np.log1p(a * w[s]).sum(),
            bounds=(0.0, 1.0),
            method="bounded",
            options={"xatol": 1e-10},
        )
        best = max([0.0, ref.x, 1.0], key=lambda a, s=s: np.log1p(a * w[s]).sum())
        assert c[s] == pytest.approx(best, abs=1e-6)
    assert c[1] == 0.0 and c[2] == 1.0


@pytest.mark.parametrize("witness", [RAW, RANK_SQRT])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_payoffs_stay_above_one_minus_cap(witness: LogOptimalWitness, eps: float) -> None:
    """Every prompt's payoff is >= 1 - cap > 0 (1 before the first refit), also on extreme data."""
    rng = np.random.default_rng(2)
    x = np.where(rng.random((4, 600)) < 0.5, 1.0, rng.random((4, 600)) * 0.01)
    y = rng.random((4, 600)) * 0.02
    log_payoff = np.diff(log_optimal_log_wealth(x, y, witness, eps=eps), prepend=0.0, axis=1)
    assert log_payoff.min() >= np.log(1 - witness.cap) - 1e-12
    np.testing.assert_array_equal(log_payoff[:, : refit_schedule(600)[0]], 0.0)
    assert log_payoff.sum(axis=1).min() > np.log(20)  # the shift is huge: it must reject


def test_witness_is_fixed_before_a_prompts_first_sample() -> None:
    """Changing prompt t's samples changes no increment or bet before t, nor (same fitted
    witness) any later prompt of t's refit block; with k = 3 samples per prompt."""
    rng = np.random.default_rng(3)
    sizes = np.full(120, 3)
    x, y = rng.random((1, 360)) ** 2, rng.random((1, 360)) ** 1.5
    z, bets = log_optimal_increments(x, y, RANK_SQRT, sizes=sizes)
    times = refit_schedule(120)
    t = int(times[3]) + 2  # inside a block, not at its start
    block_end = int(times[4])
    x2 = x.copy()
    start = prompt_starts(sizes)[t]
    x2[0, start : start + 3] = 1.0 - x2[0, start : start + 3]
    z2, bets2 = log_optimal_increments(x2, y, RANK_SQRT, sizes=sizes)
    np.testing.assert_array_equal(bets2[0, :block_end], bets[0, :block_end])
    np.testing.assert_array_equal(z2[0, :t], z[0, :t])
    np.testing.assert_array_equal(z2[0, t + 1 : block_end], z[0, t + 1 : block_end])
    assert z2[0, t] != z[0, t]
    assert not np.array_equal(bets2[0, block_end:], bets[0, block_end:])  # later refits see it


def test_one_bet_per_prompt_on_the_mean_of_its_samples() -> None:
    """With k samples per prompt the wealth equals the one of the prompt-mean features: a
    prompt's k identical samples give the same wealth as one sample per prompt."""
    rng = np.random.default_rng(4)
    x, y = rng.random((2, 300)) ** 2, rng.random((2, 300))
    one = log_optimal_log_wealth(x, y, RANK_SQRT)
    # each value repeated 3 times: ranks among the pooled past are unchanged, means are the value
    three = log_optimal_log_wealth(
        np.repeat(x, 3, axis=1), np.repeat(y, 3, axis=1), RANK_SQRT, sizes=np.full(300, 3)
    )
    np.testing.assert_allclose(three, one, atol=1e-9)


def test_eps_shrinks_the_bet_and_a_large_eps_never_rejects() -> None:
    rng = np.random.default_rng(5)
    ref = ToxicityShape()
    x, y = paired_scores(ref, ref.with_mean_shift(0.03), (20, 2000), rng)
    wealth = {eps: log_optimal_log_wealth(x, y, RAW, eps=eps)[:, -1] for eps in (0.0, 0.02, 0.3)}
    assert np.mean(wealth[0.0] >= np.log(20)) >= 0.8  # power at eps = 0
    assert wealth[0.02].mean() < wealth[0.0].mean()
    assert np.all(log_optimal_log_wealth(x, y, RAW, eps=0.3) <= 1e-12)  # D < 0.3: never bets up


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown feature kind"):
        LogOptimalWitness((("cubic", 3),))
    with pytest.raises(ValueError, match="cap"):
        LogOptimalWitness((("raw_bumps", 4),), cap=1.0)
    with pytest.raises(ValueError, match="at least one"):
        LogOptimalWitness(())
    with pytest.raises(ValueError, match="eps"):
        log_optimal_log_wealth(np.zeros(20), np.zeros(20), RAW, eps=1.0)
    with pytest.raises(ValueError, match="NaN"):
        log_optimal_log_wealth(np.r_[np.zeros(19), np.nan], np.zeros(20), RAW)
    with pytest.raises(ValueError, match="same shape"):
        log_optimal_log_wealth(np.zeros(20), np.zeros(21), RAW)
