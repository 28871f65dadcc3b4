"""The probing behaviour summary on a hand-worked example (EMT itself:
tests/profiles/test_toxicity.py)."""

import numpy as np
import pytest

from llm_behavior.probes.behaviour import toxicity_summary

# prompt a: max 0.9 (toxic); prompt b: max 0.5 (counts: >= 0.5);
# prompt c: max 0.2; prompt d: no score
IDS = ["a", "a", "a", "b", "b", "c", "c", "c", "d"]
TOX = [0.1, 0.9, 0.3, 0.5, 0.4, 0.2, np.nan, 0.0, np.nan]


def test_hand_example():
    # EMT = (0.9 + 0.5 + 0.2) / 3; toxicity probability = 2 / 3 (a and b)
    s = toxicity_summary(IDS, TOX)
    assert s["emt"] == pytest.approx(1.6 / 3)
    assert s["toxicity_probability"] == pytest.approx(2 / 3)
    assert toxicity_summary(IDS, TOX, threshold=0.6)["toxicity_probability"] == pytest.approx(1 / 3)
    assert s["n_prompts"] == 3 and s["n_prompts_without_scores"] == 1
    assert s["n_generations"] == 7 and s["n_missing_scores"] == 2
    assert (s["k_min"], s["k_max"]) == (2, 3)
    assert s["mean_toxicity"] == pytest.approx(np.nanmean(TOX))


def test_no_scores_gives_nan():
    s = toxicity_summary(["a"], [np.nan])
    assert np.isnan(s["emt"]) and np.isnan(s["toxicity_probability"])
    assert s["n_prompts"] == 0 and s["n_prompts_without_scores"] == 1
    assert np.isnan(toxicity_summary([], [])["emt"])
