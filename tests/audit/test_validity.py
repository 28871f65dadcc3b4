"""Type-I error of every sequential test under exact nulls, over >= 500 simulated sequences.

A test rejects a sequence if its wealth EVER reaches 1/alpha (the strictest reading of
"valid at any stopping time"). The false-rejection rate must stay below alpha plus a binomial
margin of 3 standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm_behavior.audit.neural import NeuralConfig
from llm_behavior.audit.sequential import TESTS, run_test
from llm_behavior.audit.simulate import (
    ToxicityShape,
    bernoulli_pairs_at_distance,
    paired_scores,
    swap_randomly,
    toxicity_pairs_at_distance,
)

ALPHA = 0.05
N_SEQ = 500
N_PAIRS = 400
FAST_TESTS = sorted(name for name, t in TESTS.items() if t.cost == "fast")
MARGIN = 3 * np.sqrt(ALPHA * (1 - ALPHA) / N_SEQ)


def _rate(x: np.ndarray, y: np.ndarray, test: str, eps: float = 0.0) -> float:
    return float(run_test(x, y, test, eps=eps, alpha=ALPHA).rejected.mean())


@pytest.fixture(scope="module")
def swapped_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Different models (a real shift), but each pair's order swapped by a fair coin: exact H0."""
    rng = np.random.default_rng(101)
    shape = ToxicityShape()
    x, y = paired_scores(shape, shape.with_mean_shift(0.05), (N_SEQ, N_PAIRS), rng)
    return swap_randomly(x, y, rng)


@pytest.fixture(scope="module")
def iid_pairs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(202)
    return rng.beta(0.5, 4.0, (N_SEQ, N_PAIRS)), rng.beta(0.5, 4.0, (N_SEQ, N_PAIRS))


@pytest.mark.parametrize("test", FAST_TESTS)
def test_swap_null(test: str, swapped_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    assert _rate(*swapped_pairs, test) <= ALPHA + MARGIN


@pytest.mark.parametrize("test", FAST_TESTS)
def test_iid_null(test: str, iid_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    assert _rate(*iid_pairs, test) <= ALPHA + MARGIN


@pytest.mark.parametrize("test", FAST_TESTS)
def test_null_at_distance_eps_toxicity_shaped(test: str) -> None:
    """P, Q at total-variation distance exactly eps (mean difference 0.99 eps), H0: D <= eps."""
    eps = 0.05
    x, y = toxicity_pairs_at_distance(eps, (N_SEQ, N_PAIRS), np.random.default_rng(303))
    assert _rate(x, y, test, eps=eps) <= ALPHA + MARGIN


@pytest.mark.parametrize("test", ["mean", "combined", "ratio", "logopt"])
def test_null_at_distance_eps_bernoulli(test: str) -> None:
    """Two-point laws: TV = mean difference = eps, the hardest null for the mean witness."""
    eps = 0.1
    x, y = bernoulli_pairs_at_distance(0.3, eps, (N_SEQ, N_PAIRS), np.random.default_rng(404))
    assert _rate(x, y, test, eps=eps) <= ALPHA + MARGIN


@pytest.mark.parametrize("test", FAST_TESTS)
def test_nan_scores_are_refused_by_every_test(test: str) -> None:
    x, y = np.linspace(0, 1, 40), np.linspace(0, 1, 40)[::-1].copy()
    x[7] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite score"):
        run_test(x, y, test)


def test_eps_is_not_vacuous() -> None:
    """The same data as the eps-null are rejected often
    when tested with eps = 0 (the tests have power)."""
    x, y = bernoulli_pairs_at_distance(0.3, 0.1, (200, 1500), np.random.default_rng(405))
    assert _rate(x, y, "mean", eps=0.0) > 0.5


# Validity does not depend on how well the witness is trained; fewer epochs keep this test fast.
QUICK_NEURAL = NeuralConfig(max_epochs=12, patience=4)


def test_neural_swap_null() -> None:
    """The reference neural test (3 batches of 100: two trained bets) under the swap null."""
    rng = np.random.default_rng(505)
    shape = ToxicityShape()
    x, y = swap_randomly(*paired_scores(shape, shape.with_mean_shift(0.05), (N_SEQ, 300), rng), rng)
    # per-pair monitoring: the strictest reading
    result = run_test(x, y, "neural_per_pair", alpha=ALPHA, config=QUICK_NEURAL)
    assert result.rejected.mean() <= ALPHA + MARGIN


def test_neural_null_at_distance_eps() -> None:
    eps = 0.05
    x, y = toxicity_pairs_at_distance(eps, (N_SEQ, 300), np.random.default_rng(606))
    assert (
        run_test(x, y, "neural_per_pair", eps=eps, alpha=ALPHA, config=QUICK_NEURAL).rejected.mean()
        <= ALPHA + MARGIN
    )
