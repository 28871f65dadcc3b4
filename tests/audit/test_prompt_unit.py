"""The prompt is the unit: validity with several dependent samples per prompt (issue 14, section 1).

Simulated dependent marginal null (``simulate.prompt_effect_pairs``): x = sigmoid(-2 + u_i + e),
y = sigmoid(-2 - u_i + e'), u_i ~ N(0, 1.5^2) per prompt, so X and Y have the same marginal law
while the models differ prompt by prompt. 500 sequences of 100 prompts x 3 samples (the default
run's shape), alpha = 0.05, rejected if the wealth EVER reaches 1/alpha.

Measured here (seeded, so exactly reproducible):
- the ROW-level test (rows shuffled, every row its own unit, the pre-issue-14 pipeline): false
  rejection 0.166 (`mean`) and 0.164 (`combined`) at eps = 0 (alpha + 3 SE = 0.079); at the
  distance-eps null (eps = 0.05, per-prompt contamination) 0.068 (`mean`) and 0.056 (`combined`).
- the PROMPT-level test (one bet per prompt on the mean payoff of its samples): at most 0.026
  (`ks`) over every fast test at eps = 0 (`combined` 0.004, `mean` 0.010) and at most 0.010 at
  eps = 0.05; asserted <= alpha + 3 binomial SE.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm_behavior.audit.sequential import TESTS, run_test
from llm_behavior.audit.simulate import prompt_effect_pairs, shuffle_within_sequences

ALPHA = 0.05
N_SEQ = 500
N_PROMPTS, K = 100, 3
MARGIN = 3 * np.sqrt(ALPHA * (1 - ALPHA) / N_SEQ)
FAST_TESTS = sorted(name for name, t in TESTS.items() if t.cost == "fast")


def _null(eps: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = prompt_effect_pairs((N_SEQ, N_PROMPTS, K), np.random.default_rng(seed), eps=eps)
    return x.reshape(N_SEQ, -1), y.reshape(N_SEQ, -1)


@pytest.fixture(scope="module")
def equal_marginals() -> tuple[np.ndarray, np.ndarray]:
    return _null(0.0, 0)


@pytest.fixture(scope="module")
def at_distance_eps() -> tuple[np.ndarray, np.ndarray]:
    return _null(0.05, 1)


def _rate(x: np.ndarray, y: np.ndarray, test: str, eps: float, sizes: np.ndarray | None) -> float:
    return float(run_test(x, y, test, eps=eps, alpha=ALPHA, sizes=sizes).rejected.mean())


def test_row_level_test_is_invalid_on_the_dependent_null(
    equal_marginals: tuple[np.ndarray, np.ndarray],
) -> None:
    """The failure the prompt unit fixes: rows shuffled
    and bet on one by one reject far too often."""
    x, y = shuffle_within_sequences(*equal_marginals, np.random.default_rng(2))
    rates = {t: _rate(x, y, t, 0.0, None) for t in ("mean", "combined")}
    assert rates["mean"] > ALPHA + MARGIN and rates["combined"] > ALPHA + MARGIN, rates


@pytest.mark.parametrize("test", FAST_TESTS)
def test_prompt_level_test_is_valid_with_equal_marginals(
    test: str, equal_marginals: tuple[np.ndarray, np.ndarray]
) -> None:
    assert _rate(*equal_marginals, test, 0.0, np.full(N_PROMPTS, K)) <= ALPHA + MARGIN


@pytest.mark.parametrize("test", ["mean", "combined", "ratio", "threshold", "logopt"])
def test_prompt_level_test_is_valid_at_distance_exactly_eps(
    test: str, at_distance_eps: tuple[np.ndarray, np.ndarray]
) -> None:
    assert _rate(*at_distance_eps, test, 0.05, np.full(N_PROMPTS, K)) <= ALPHA + MARGIN


@pytest.mark.parametrize("test", ["mean", "combined", "logopt"])
def test_prompt_level_test_is_valid_when_k_differs_between_prompts(test: str) -> None:
    """Failed samples: 1..4 samples per prompt (one layout shared by the sequences)."""
    rng = np.random.default_rng(3)
    x, y = prompt_effect_pairs((N_SEQ, 80, 4), rng)
    sizes = rng.integers(1, 5, 80)
    keep = (np.arange(4)[None, :] < sizes[:, None]).ravel()
    assert (
        _rate(x.reshape(N_SEQ, -1)[:, keep], y.reshape(N_SEQ, -1)[:, keep], test, 0.0, sizes)
        <= ALPHA + MARGIN
    )


def test_prompt_level_wealth_bets_once_per_prompt_on_the_mean_payoff() -> None:
    """Hand-checked: the `mean` e-process on prompts = aGRAPA on the per-prompt mean differences."""
    from llm_behavior.audit.betting import agrapa_log_wealth

    rng = np.random.default_rng(4)
    sizes = np.array([2, 1, 3, 2, 2])
    x, y = rng.random(10), rng.random(10)
    prompt_z = np.array(
        [np.mean(x[a:b] - y[a:b]) for a, b in [(0, 2), (2, 3), (3, 6), (6, 8), (8, 10)]]
    )
    result = run_test(x, y, "mean", eps=0.01, sizes=sizes)
    np.testing.assert_allclose(result.log_wealth[0], agrapa_log_wealth(prompt_z[None], eps=0.01)[0])
    with pytest.raises(ValueError, match="sum to"):
        run_test(x, y, "mean", sizes=np.array([2, 2]))


def test_witness_is_fitted_on_earlier_prompts_only() -> None:
    """Changing a prompt's own later samples never changes how its first sample is scored."""
    from llm_behavior.audit.witnesses import RatioWitness, rank_witness_increments

    rng = np.random.default_rng(5)
    sizes = np.full(40, 5)
    x, y = rng.random(200), rng.random(200)
    w = RatioWitness(n_bins=20, bandwidth=0.1, prior=1.0, space="raw")
    base = rank_witness_increments(x, y, w, sizes=sizes)
    for prompt in (10, 25):  # a refit prompt, and one after it
        start = prompt * 5
        x2 = x.copy()
        x2[start + 1 : start + 5] = 1.0 - x2[start + 1 : start + 5]
        changed = rank_witness_increments(x2, y, w, sizes=sizes)
        np.testing.assert_allclose(changed[0, : start + 1], base[0, : start + 1])
