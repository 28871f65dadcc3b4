"""Cross-check of the `mean` e-process against confseq (Howard & Ramdas; Waudby-Smith & Ramdas
betting martingales), ``confseq.betting.betting_mart``.

Mapping: our increments Z_t = mean over the prompt's samples of x - y lie in [-1, 1]; confseq bets
on observations w_t in [0, 1] against a null mean m with factor 1 + l_t (w_t - m). With
w_t = (1 + Z_t) / 2 and m = 1/2, our factor 1 + lambda_t Z_t equals confseq's with l_t = 2 lambda_t,
so the same bets must give the same wealth (theta = 1: only confseq's positive capital process,
which accepts bets of either sign; trunc_scale = 1 so that confseq does not clip |l| <= 2).

Where the constructions differ (documented in docs/auditing.md):
- tolerance eps > 0: our null is the INTERVAL |E Z| <= eps and the factor is 1 + lambda Z - |lambda|
  eps, i.e. confseq's point null m = (1 + eps)/2 when lambda >= 0 and m = (1 - eps)/2 when lambda <
  0. With bets of one sign it is exactly confseq's process at that m (checked below); with both
  signs it switches between the two boundary nulls, which one betting_mart call does not do.
- confseq's default bets (predictable-mixture empirical Bernstein, and max(theta W+, (1-theta) W-)
  over two capital processes) are not our aGRAPA bets; we feed it ours.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm_behavior.audit.betting import agrapa_bets
from llm_behavior.audit.sequential import run_test
from llm_behavior.audit.simulate import ToxicityShape, paired_scores
from llm_behavior.audit.witnesses import prompt_means

betting = pytest.importorskip("confseq.betting")


def _confseq_wealth(z: np.ndarray, bets: np.ndarray, m: float) -> np.ndarray:
    w = (1.0 + z) / 2.0
    return betting.betting_mart(
        w, m, lambdas_fn_positive=lambda _x, _m: 2.0 * bets, theta=1.0, trunc_scale=1.0
    )


@pytest.mark.parametrize("k", [1, 3])
def test_mean_e_process_equals_confseq_betting_martingale(k: int) -> None:
    shape = ToxicityShape()
    x, y = paired_scores(shape, shape.with_mean_shift(0.005), (600,), np.random.default_rng(k))
    sizes = np.full(600 // k, k)
    ours = run_test(x, y, "mean", sizes=sizes)
    z = prompt_means((x - y)[None], sizes)[0]
    bets = agrapa_bets(z[None])[0]
    # both signs occur: a real check of the sign handling
    assert (bets < 0).any() and (bets > 0).any()
    np.testing.assert_allclose(
        np.log(_confseq_wealth(z, bets, 0.5)), ours.log_wealth[0], rtol=1e-10, atol=1e-10
    )


def test_tolerant_factor_is_confseq_at_the_boundary_null_for_one_signed_bets() -> None:
    shape = ToxicityShape()
    eps = 0.02
    # E Z > 0
    x, y = paired_scores(shape.with_mean_shift(0.15), shape, (800,), np.random.default_rng(7))
    ours = run_test(x, y, "mean", eps=eps)
    z = x - y
    bets = agrapa_bets(z[None], eps)[0]
    assert (bets >= 0).all() and (bets > 0).any()
    np.testing.assert_allclose(
        np.log(_confseq_wealth(z, bets, (1 + eps) / 2)), ours.log_wealth[0], rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize(("eps", "k"), [(0.0, 1), (0.02, 3)])
def test_log_optimal_e_process_equals_confseq_with_its_fitted_bets(eps: float, k: int) -> None:
    """`logopt_raw`: witness increments z_t in [-1, 1] and fitted bets >= 0 (logopt.py); its
    factor 1 + bet (z - eps) is confseq's at the boundary null m = (1 + eps)/2."""
    from llm_behavior.audit.logopt import log_optimal_increments
    from llm_behavior.audit.sequential import LOGOPT_RAW

    shape = ToxicityShape()
    x, y = paired_scores(shape.with_mean_shift(0.05), shape, (900,), np.random.default_rng(8))
    sizes = np.full(900 // k, k)
    ours = run_test(x, y, "logopt_raw", eps=eps, sizes=sizes)
    z, bets = log_optimal_increments(x, y, LOGOPT_RAW, eps=eps, sizes=sizes)
    assert (bets >= 0).all() and (bets > 0).sum() > 100 and np.abs(z).max() <= 1 + 1e-12
    np.testing.assert_allclose(
        np.log(_confseq_wealth(z[0], bets[0], (1 + eps) / 2)),
        ours.log_wealth[0],
        rtol=1e-10,
        atol=1e-10,
    )
