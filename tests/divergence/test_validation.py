"""Label validation statistics: AUC, within-prompt
permutation p-values, multiplicity corrections."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from llm_behavior.divergence.validation import (
    adjust_p_values,
    auc,
    holm,
    permutation_auc_test,
    random_arrangements,
)


def brute_force_pvalue(scores, positive, groups) -> float:
    """Share of all within-group label arrangements whose AUC (sklearn) reaches the observed one."""
    scores, positive, groups = map(np.asarray, (scores, positive, groups))
    observed = roc_auc_score(positive, scores)
    per_group = []
    for g in np.unique(groups):
        where = np.flatnonzero(groups == g)
        per_group.append(list(itertools.combinations(where, int(positive[where].sum()))))
    hits = total = 0
    for choice in itertools.product(*per_group):
        labels = np.zeros(len(scores), dtype=bool)
        labels[[i for c in choice for i in c]] = True
        hits += roc_auc_score(labels, scores) >= observed - 1e-12
        total += 1
    return hits / total


def test_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, 40).astype(float)  # many ties
    positive = rng.random(40) < 0.4
    assert auc(scores, positive) == pytest.approx(roc_auc_score(positive, scores))


def test_separable_texts_get_the_smallest_possible_pvalue_exactly():
    # 4 prompts, one text per model each; the described model's text always fits better. Of the
    # 2^4 equally likely label swaps only the observed one reaches AUC 1: p = 1/16 exactly.
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.95, 0.05])
    positive = np.array([True, False] * 4)
    groups = np.repeat(np.arange(4), 2)
    result = permutation_auc_test(scores, positive, groups, n_permutations=2000)
    assert result.exact and result.n_permutations == 16
    assert result.auc == 1.0 and result.p_value == pytest.approx(1 / 16)
    # with too many arrangements to enumerate, Monte Carlo: nothing reaches AUC 1 but the identity
    big_scores = np.concatenate([np.linspace(1, 2, 50), np.linspace(-2, -1, 50)])
    big_pos = np.array([True] * 50 + [False] * 50)
    big_groups = np.concatenate([np.arange(50) % 10, np.arange(50) % 10])
    mc = permutation_auc_test(big_scores, big_pos, big_groups, n_permutations=999, seed=3)
    assert not mc.exact and mc.auc == 1.0 and mc.p_value == pytest.approx(1 / 1000)


def test_exact_pvalue_equals_brute_force_enumeration_and_monte_carlo_agrees():
    rng = np.random.default_rng(5)
    scores = rng.normal(size=12) + np.tile([0.8, 0.8, 0.0, 0.0], 3)  # a modest shift
    positive = np.tile([True, True, False, False], 3)
    groups = np.repeat(np.arange(3), 4)  # C(4, 2)^3 = 216 arrangements
    exact = permutation_auc_test(scores, positive, groups, n_permutations=1000)
    assert exact.exact and exact.n_permutations == 216
    assert exact.p_value == pytest.approx(brute_force_pvalue(scores, positive, groups))
    mc = permutation_auc_test(
        scores, positive, groups, n_permutations=20000, seed=1, enumerate_up_to=0
    )
    assert not mc.exact and mc.p_value == pytest.approx(exact.p_value, abs=0.01)


def test_permutations_stay_within_prompts():
    positive = np.array([True, False, False, True, True, False, False])
    groups = np.array([0, 0, 0, 1, 1, 1, 2])
    arr = random_arrangements(positive, groups, 500, np.random.default_rng(0))
    for g in np.unique(groups):
        assert (arr[:, groups == g].sum(1) == positive[groups == g].sum()).all()
    assert len({tuple(r) for r in arr}) == 3 * 3  # C(3,1) * C(3,2) * 1 arrangements, all reached


def test_exchangeable_texts_are_not_significant_and_the_test_is_calibrated():
    # identical scores for both models: AUC 1/2 and p = 1
    tied = permutation_auc_test(np.ones(20), np.tile([True, False], 10), np.repeat(np.arange(5), 4))
    assert tied.auc == 0.5 and tied.p_value == 1.0
    # scores independent of the model: p <= a in about a share a of 400 data sets
    rng = np.random.default_rng(11)
    positive = np.tile([True] * 3 + [False] * 3, 6)
    groups = np.repeat(np.arange(6), 6)
    p = np.array(
        [
            permutation_auc_test(
                rng.normal(size=36) + np.repeat(rng.normal(size=6), 6),
                positive,
                groups,
                n_permutations=199,
                seed=i,
            ).p_value
            for i in range(400)
        ]
    )
    for a in (0.05, 0.2, 0.5):
        # binomial(400, a): mean 400a, sd <= 10; a 3.5-sd band
        assert abs(np.mean(p <= a) - a) <= 3.5 * np.sqrt(a * (1 - a) / 400)


def test_corrections_match_hand_worked_examples():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max
    # 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    # BH: p * 4 / rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    # BY: BH times 1 + 1/2 + 1/3 + 1/4
    np.testing.assert_allclose(
        adjust_p_values(p, "by"), np.array([0.02, 0.04, 0.04, 0.02]) * 25 / 12
    )
    np.testing.assert_allclose(adjust_p_values(p, "none"), p)
    # Holm caps at 1; an untested (NaN) label is not part of the family
    np.testing.assert_allclose(holm(np.array([0.6, 0.5])), [1.0, 1.0])
    out = adjust_p_values(np.array([0.01, np.nan, 0.04]), "holm")
    assert np.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.04])
    with pytest.raises(ValueError, match="correction must be one of"):
        adjust_p_values(p, "bonferonni")


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        permutation_auc_test(np.array([1.0, np.nan]), np.array([True, False]), np.array([0, 0]))
    with pytest.raises(ValueError, match="2 scores, 3 labels"):
        permutation_auc_test(np.ones(2), np.ones(3, dtype=bool), np.zeros(3))
    one_sided = permutation_auc_test(np.ones(3), np.ones(3, dtype=bool), np.zeros(3))
    assert np.isnan(one_sided.auc) and np.isnan(one_sided.p_value)
