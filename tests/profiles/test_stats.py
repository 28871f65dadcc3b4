"""Bootstrap, paired bootstrap, McNemar and permutation p-values against direct computations."""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pytest

from llm_behavior.profiles import stats


def test_mcnemar_exact_by_hand():
    # discordant: ref 0 / cand 1 on 6 items, ref 1 / cand 0 on 1 item, plus concordant items
    ref = np.array([0] * 6 + [1] + [1] * 5 + [0] * 3)
    cand = np.array([1] * 6 + [0] + [1] * 5 + [0] * 3)
    p, n01, n10 = stats.mcnemar(ref, cand)
    assert (n01, n10) == (6, 1)
    # two-sided exact binomial: 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * (1 + 7) / 128
    assert p == pytest.approx(16 / 128)
    assert stats.mcnemar(ref, ref)[0] == 1.0


def test_vectorised_bootstrap_equals_the_loop():
    x = np.random.default_rng(0).normal(size=40)
    fast = stats.bootstrap_ci(
        lambda a: np.mean(a["x"]), {"x": x}, n_resamples=500, seed=1, mean_of="x"
    )
    slow = stats.bootstrap_ci(lambda a: float(np.mean(a["x"])), {"x": x}, n_resamples=500, seed=1)
    assert fast == pytest.approx(slow)
    assert fast[0] < x.mean() < fast[1]
    assert (fast.n_resamples, fast.n_nonfinite) == (500, 0)


def _ratio(a):
    d = float(np.sum(a["den"]))
    return float(np.sum(a["num"])) / d if d > 0 else float("nan")


def test_bootstrap_counts_undefined_replicates_and_leaves_them_out():
    # 10 items, only 2 with a non-zero denominator: a resample drawing neither is undefined
    num = np.r_[np.ones(2), np.zeros(8)]
    den = np.r_[np.ones(2), np.zeros(8)] * 2.0
    arrays = {"num": num, "den": den}
    ci = stats.bootstrap_ci(_ratio, arrays, n_resamples=300, seed=3)
    idx = np.random.default_rng(3).integers(0, 10, size=(300, 10))  # the same draws
    undefined = int(np.sum(den[idx].sum(axis=1) == 0))
    assert undefined > 0 and ci.n_nonfinite == undefined and ci.n_resamples == 300
    # defined ones are all 1/2
    assert ci.low == pytest.approx(0.5) and ci.high == pytest.approx(0.5)
    paired = stats.paired_bootstrap(
        _ratio, arrays, {"num": num, "den": den * 2}, n_resamples=300, seed=3
    )
    assert paired.n_nonfinite == undefined and paired.n_resamples == 300
    assert paired.difference == pytest.approx(-0.25)
    assert paired.ci_low == pytest.approx(-0.25) and paired.ci_high == pytest.approx(-0.25)


def test_nan_in_a_mean_statistic_is_an_error_not_a_dropped_replicate():
    x = np.r_[np.ones(5), np.nan]
    with pytest.raises(ValueError, match="1 non-finite value"):
        stats.bootstrap_ci(None, {"x": x}, mean_of="x")
    with pytest.raises(ValueError, match="candidate x"):
        stats.paired_bootstrap(None, {"x": np.ones(6)}, {"x": x}, mean_of="x")


def test_bootstrap_ci_covers_the_normal_interval():
    x = np.random.default_rng(1).normal(loc=2.0, size=400)
    lo, hi, *_ = stats.bootstrap_ci(None, {"x": x}, n_resamples=4000, seed=0, mean_of="x")  # type: ignore[arg-type]
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.25 * se)
    assert hi == pytest.approx(x.mean() + 1.96 * se, abs=0.25 * se)


def test_paired_bootstrap_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(2)
    base = rng.normal(size=200)
    same = stats.paired_bootstrap(
        lambda a: np.mean(a["x"]),
        {"x": base},
        {"x": base + rng.normal(scale=0.01, size=200)},
        seed=0,
    )
    assert same.ci_low <= 0 <= same.ci_high or abs(same.difference) < 0.01
    shifted = stats.paired_bootstrap(
        lambda a: np.mean(a["x"]),
        {"x": base},
        {"x": base + 0.3 + rng.normal(scale=0.1, size=200)},
        seed=0,
        mean_of="x",
    )
    assert shifted.difference == pytest.approx(0.3, abs=0.03)
    assert shifted.ci_low > 0.2 and shifted.p_value < 0.01
    # the pairing matters: a paired shift of 0.05 under large between-item spread is still clear
    small = stats.paired_bootstrap(
        None, {"x": base * 10}, {"x": base * 10 + 0.05}, seed=0, mean_of="x"
    )  # type: ignore[arg-type]
    assert small.ci_low == pytest.approx(0.05) and small.p_value < 0.01


def test_permutation_pvalue_exact_by_enumeration():
    values = np.array([0.9, 0.4, 0.7, -0.1, 0.0, -0.3])
    p, how = stats.permutation_pvalue_one_sided(values, 3, n_permutations=100)
    assert how == "exact"
    observed = values[:3].sum() - values[3:].sum()
    perms = [
        values[list(c)].sum() - np.delete(values, list(c)).sum() for c in combinations(range(6), 3)
    ]
    assert len(perms) == comb(6, 3)
    assert p == pytest.approx(np.mean(np.array(perms) >= observed - 1e-12))
    assert p == pytest.approx(1 / 20)  # the observed split is the most extreme of the 20


def test_permutation_pvalue_monte_carlo_matches_exact():
    values = np.random.default_rng(3).normal(size=14) + np.r_[np.full(7, 0.5), np.zeros(7)]
    exact, how = stats.permutation_pvalue_one_sided(values, 7, n_permutations=10**6)
    mc, how_mc = stats.permutation_pvalue_one_sided(values, 7, n_permutations=3000, seed=1)
    assert (how, how_mc) == ("exact", "monte carlo")
    assert mc == pytest.approx(exact, abs=0.03)
