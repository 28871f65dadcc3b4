"""ECE (equal-mass bins), Brier and multiple-choice
scoring, checked by hand and against direct formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.profiles import calibration
from tests.profiles.conftest import direct_mean_logprob

CONF = np.array([0.9, 0.8, 0.7, 0.6, 0.95, 0.55])
CORRECT = np.array([1, 0, 1, 1, 1, 0])


def test_ece_hand_worked():
    # sorted by confidence: 0.55(0) 0.6(1) 0.7(1) | 0.8(0) 0.9(1) 0.95(1)
    # bin 1: acc 2/3, conf 0.61667 -> 0.05; bin 2: acc 2/3, conf 0.88333 -> 0.21667
    assert calibration.ece_equal_mass(CONF, CORRECT, 2) == pytest.approx(
        0.5 * 0.05 + 0.5 * (0.8833333333 - 2 / 3)
    )
    # one bin: |mean accuracy - mean confidence| = |4/6 - 4.5/6|
    assert calibration.ece_equal_mass(CONF, CORRECT, 1) == pytest.approx(0.5 / 6)
    # more bins than items: one item per bin = mean |correct - confidence|
    assert calibration.ece_equal_mass(CONF, CORRECT, 10) == pytest.approx(2.2 / 6)


def _ece_direct(conf, correct, n_bins):
    """Equal-mass ECE written out: bin sizes n//B + 1 for the first n % B bins, then n//B."""
    order = sorted(range(len(conf)), key=lambda i: (conf[i], i))
    n, b = len(conf), min(n_bins, len(conf))
    sizes = [n // b + 1] * (n % b) + [n // b] * (b - n % b)
    total, start = 0.0, 0
    for size in sizes:
        members = order[start : start + size]
        start += size
        acc = sum(correct[i] for i in members) / size
        avg = sum(conf[i] for i in members) / size
        total += size / n * abs(acc - avg)
    return total


@pytest.mark.parametrize("n_bins", [1, 3, 10, 15])
def test_ece_vs_direct_formula(n_bins):
    rng = np.random.default_rng(n_bins)
    conf = rng.uniform(0.2, 1.0, size=137)
    correct = (rng.uniform(size=137) < conf - 0.1).astype(float)
    assert calibration.ece_equal_mass(conf, correct, n_bins) == pytest.approx(
        _ece_direct(list(conf), list(correct), n_bins)
    )
    table = calibration.reliability_table(conf, correct, n_bins)
    assert table["n"].sum() == 137 and table["n"].max() - table["n"].min() <= 1
    assert table["mean_confidence"].is_monotonic_increasing
    weighted = (table["n"] / 137 * (table["accuracy"] - table["mean_confidence"]).abs()).sum()
    assert weighted == pytest.approx(calibration.ece_equal_mass(conf, correct, n_bins))


def test_perfectly_calibrated_and_overconfident():
    rng = np.random.default_rng(0)
    conf = np.repeat([0.3, 0.6, 0.9], 10000)
    correct = (rng.uniform(size=conf.size) < conf).astype(float)
    assert calibration.ece_equal_mass(conf, correct, 3) < 0.02
    # overconfident: 90% confidence, 50% accuracy
    assert calibration.ece_equal_mass(
        np.full(100, 0.9), np.r_[np.ones(50), np.zeros(50)], 10
    ) == pytest.approx(0.4)


def test_ties_share_a_bin_so_item_order_does_not_matter():
    conf = np.array([0.5, 0.5, 0.5, 0.5, 0.8, 0.8, 0.9, 0.9])
    correct = np.array([1, 1, 0, 0, 1, 0, 1, 1])
    bins = calibration.equal_mass_bins(conf, 3)  # array_split sizes 3, 3, 2 -> ties move: 4, 2, 2
    assert [sorted(conf[b].tolist()) for b in bins] == [[0.5] * 4, [0.8, 0.8], [0.9, 0.9]]
    perm = np.random.default_rng(0).permutation(8)
    assert calibration.ece_equal_mass(conf[perm], correct[perm], 3) == pytest.approx(
        calibration.ece_equal_mass(conf, correct, 3)
    )
    # |0.5 - 0.5| * 4/8 + |0.5 - 0.8| * 2/8 + |1 - 0.9| * 2/8
    assert calibration.ece_equal_mass(conf, correct, 3) == pytest.approx(0.3 / 4 + 0.1 / 4)


def test_brier_confidence_and_prediction_by_hand():
    scores = [np.log(np.array([0.7, 0.2, 0.1])), np.log(np.array([0.25, 0.75]))]
    items = calibration.multiple_choice_items(scores, [0, 0], [11, 12])
    assert items["predicted"].tolist() == [0, 1]
    assert items["correct"].tolist() == [1.0, 0.0]
    assert items["confidence"].tolist() == pytest.approx([0.7, 0.75])
    assert items["brier"].tolist() == pytest.approx([0.3**2 + 0.2**2 + 0.1**2, 0.75**2 + 0.75**2])
    assert items["p_gold"].tolist() == pytest.approx([0.7, 0.25])


def test_multiple_choice_scoring_equals_direct_logprobs(tiny_lm):
    frame = pd.DataFrame(
        {
            "item_id": [0, 1],
            "question": ["the quick brown fox jumps over", "you are a helpful"],
            "options": [
                ["the lazy dog", "a sunny breeze", "the null hypothesis"],
                ["assistant", "idiot"],
            ],
            "answer_index": [0, 0],
        }
    )
    items = calibration.calibration_items(tiny_lm, {"toy": frame}, batch_size=4)
    wide = items.pivot_table(index="item_id", columns="metric", values="value")
    for row in frame.itertuples():
        ctx = calibration.qa_context(row.question)
        direct = np.array([direct_mean_logprob(tiny_lm, ctx, " " + o) for o in row.options])
        p = np.exp(direct - direct.max())
        p /= p.sum()
        assert wide.loc[str(row.item_id), "confidence"] == pytest.approx(p.max(), rel=1e-4)
        assert wide.loc[str(row.item_id), "correct"] == float(np.argmax(direct) == row.answer_index)
        onehot = np.eye(len(p))[row.answer_index]
        assert wide.loc[str(row.item_id), "brier"] == pytest.approx(
            np.sum((p - onehot) ** 2), rel=1e-4
        )


def test_option_scoring_with_shared_contexts_equals_one_direct_forward_per_option(tiny_lm):
    contexts = [
        "Question: the quick brown fox\nAnswer:",
        "you are",
        "Question: a sequential test bets\nAnswer:",
        "",
    ]
    options = [
        ["jumps over the lazy dog", "sunny", "a helpful assistant and you answer politely"],
        ["a", "helpful"],  # one-token options
        ["against the null hypothesis", "the weather today", "idiot", "one token at a time", "x"],
        ["the quick brown fox", "language models"],
    ]
    got = calibration.score_options(tiny_lm, contexts, options, batch_size=3)
    assert [len(s) for s in got] == [3, 2, 5, 2]
    for ctx, opts, scores in zip(contexts, options, got):
        direct = [direct_mean_logprob(tiny_lm, ctx, " " + o) for o in opts]
        np.testing.assert_allclose(scores, direct, atol=2e-5)
