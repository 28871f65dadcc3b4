"""Witnesses: predictability, bounds, and fitted shapes against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import legendre
from scipy import stats

from llm_behavior.audit.witnesses import (
    RANK_WITNESS_KINDS,
    WITNESS_CLASSES,
    RankBinWitness,
    RatioWitness,
    SmoothWitness,
    ThresholdWitness,
    legendre_features,
    mean_increments,
    mid_ranks,
    rank_witness,
    rank_witness_increments,
    refit_schedule,
)

WITNESSES = [
    rank_witness(kind, space=space) for kind in RANK_WITNESS_KINDS for space in ("rank", "raw")
]


def test_mid_ranks_match_scipy() -> None:
    rng = np.random.default_rng(0)
    pooled = np.sort(rng.integers(0, 5, (3, 12)) / 4.0, axis=1)  # ties on purpose
    values = rng.integers(0, 5, (3, 4)) / 4.0
    u = mid_ranks(pooled, values)
    for s in range(3):
        for j, v in enumerate(values[s]):
            below, equal = np.sum(pooled[s] < v), np.sum(pooled[s] == v)
            assert u[s, j] == pytest.approx((below + equal / 2) / pooled.shape[1])
        # for values that are in the pool, the mid-rank is scipy's average rank minus 1/2
        avg = stats.rankdata(pooled[s], method="average")
        np.testing.assert_allclose(
            mid_ranks(pooled[s : s + 1], pooled[s : s + 1])[0], (avg - 0.5) / 12
        )


def test_refit_schedule() -> None:
    times = refit_schedule(1000, first=10, step=10, dense_until=100, growth=0.1)
    assert times[0] == 10 and np.all(np.diff(times) > 0) and times[-1] < 1000
    assert list(times[:10]) == list(range(10, 110, 10))
    assert np.all(np.diff(times)[10:] >= 10)


@pytest.mark.parametrize("witness", WITNESSES, ids=lambda w: f"{w.kind}-{w.space}")
def test_increments_are_predictable_and_bounded(witness: RankBinWitness) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.beta(0.5, 3, (2, 300)), rng.beta(0.7, 3, (2, 300))
    z = rank_witness_increments(x, y, witness)
    assert np.all(np.abs(z) <= 1 + 1e-12)
    assert np.all(z[:, :10] == 0)  # no witness before the first fit
    t = 157
    x2, y2 = x.copy(), y.copy()
    x2[:, t + 1 :], y2[:, t + 1 :] = rng.random((2, 300 - t - 1)), rng.random((2, 300 - t - 1))
    x2[:, t], y2[:, t] = y[:, t], x[:, t]  # swap pair t itself
    z2 = rank_witness_increments(x2, y2, witness)
    np.testing.assert_array_equal(z2[:, :t], z[:, :t])  # the past does not see the future
    np.testing.assert_allclose(
        z2[:, t], -z[:, t]
    )  # pair t is scored by a witness fitted without it


def test_ratio_witness_hand_computed() -> None:
    """Raw space, 4 bins, tiny bandwidth (no smoothing): w_b = (cx - cy) / (cx + cy + prior),
    rescaled."""
    w = RatioWitness(n_bins=4, bandwidth=1e-3, prior=1.0, space="raw")
    x = np.array([[0.1, 0.1, 0.9, 0.6]])  # bins 0, 0, 3, 2
    y = np.array([[0.1, 0.4, 0.4, 0.9]])  # bins 0, 1, 1, 3
    raw = np.array([(2 - 1) / 4, (0 - 2) / 3, (1 - 0) / 2, (1 - 1) / 3])
    expected = (raw - raw.min()) / (raw.max() - raw.min()) - 0.5
    np.testing.assert_allclose(w.fit(x, y).values[0], expected)


def test_threshold_witness_picks_the_kelly_best_cut() -> None:
    w = ThresholdWitness(n_bins=4, prior=1.0, space="raw")
    x = np.array([[0.9, 0.8, 0.95, 0.1, 0.1, 0.1]])
    y = np.array([[0.1, 0.1, 0.1, 0.1, 0.1, 0.9]])
    state = w.fit(x, y)
    # indicator of the top bins (x is larger): sum Z = 2, sum Z^2 = 4 for cuts 0..2 -> the first
    # wins
    np.testing.assert_allclose(state.values[0], [-0.5, 0.5, 0.5, 0.5])
    assert (
        w.evaluate(state, np.array([[0.95]]))[0, 0] - w.evaluate(state, np.array([[0.05]]))[0, 0]
        == 1.0
    )


def test_legendre_features_match_numpy() -> None:
    u = np.linspace(0, 1, 11)
    feats = legendre_features(u, 4)
    for k in range(1, 5):
        coef = np.zeros(k + 1)
        coef[k] = 1
        np.testing.assert_allclose(feats[:, k - 1], legendre.legval(2 * u - 1, coef), atol=1e-12)


def test_mean_increments() -> None:
    np.testing.assert_allclose(
        mean_increments(np.array([0.2, 1.0]), np.array([0.5, 0.0])), [-0.3, 1.0]
    )


def test_unknown_kind_or_space() -> None:
    with pytest.raises(ValueError, match="kind"):
        rank_witness("magic")
    with pytest.raises(ValueError, match="space"):
        rank_witness("ratio", space="log")
    with pytest.raises(ValueError, match="basis"):
        SmoothWitness(basis="fourier")
    with pytest.raises(TypeError, match="prior"):
        rank_witness("ks", prior=1.0)  # a setting the kind does not have


def test_one_class_per_kind() -> None:
    assert set(RANK_WITNESS_KINDS) == {"ratio", "kernel", "ks", "smooth", "threshold"}
    for kind, cls in WITNESS_CLASSES.items():
        assert cls.kind == kind and issubclass(cls, RankBinWitness)
        assert isinstance(rank_witness(kind), cls)
