"""The contrastive search's headline figures, against a hand-worked table."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from llm_behavior.divergence.headline import search_headline


def test_search_headline_hand_worked() -> None:
    records = pd.DataFrame(
        {
            "status": [
                "scored",
                "scored",
                "scored",
                "scored",
                "duplicate",
                "rejected_by_criterion",
                "scored",
            ],
            "origin": [
                "seed",
                "seed",
                "assistant",
                "assistant",
                "assistant",
                "assistant",
                "assistant",
            ],
            "divergence": [0.1, 0.3, 0.5, 0.9, 9.0, 9.0, np.nan],
        }
    )
    cycles = pd.DataFrame({"answers": [3, np.nan, 2], "malformed_answers": [1, 0, np.nan]})
    searched = pd.DataFrame(
        {"divergence": [0.9, 0.5], "divergence_fresh": [0.8, 0.4], "split": ["search", "heldout"]}
    )
    clusters = {
        "settings": {"judge": "embedding", "correction": "holm", "alpha": 0.05},
        "counts": {"n_tested": 4, "n_validation_prompts": 6},
        "contrasts": [
            {"describes": "candidate", "label": "rude", "auc": 0.9, "p_value": 0.01,
             "p_adjusted": 0.04, "pair": 0, "validated": True},
            {"describes": "reference", "label": "polite", "auc": 0.6, "p_value": 0.2,
             "p_adjusted": 0.6, "pair": 1, "validated": False},
        ],
    }  # fmt: skip
    out = search_headline(records, cycles, searched, clusters)
    assert out["mean_divergence_random_bundled_prompts"] == pytest.approx(0.2)
    assert out["n_random_bundled_prompts"] == 2
    # the NaN divergence is not averaged in, but the scored row is counted
    assert out["mean_divergence_assistant_prompts"] == pytest.approx(0.7)
    assert out["n_assistant_prompts_scored"] == 3
    assert out["mean_divergence_selected_at_search"] == pytest.approx(0.7)
    assert out["n_selected"] == 2
    assert (out["assistant_answers"], out["malformed_answers"]) == (5, 1)
    assert (out["duplicates"], out["rejected_by_criterion"]) == (1, 1)
    assert out["mean_divergence_fresh_search"] == pytest.approx(0.8)
    assert out["mean_divergence_fresh_heldout"] == pytest.approx(0.4)
    assert (out["summary_labels_tested"], out["summary_labels_validated"]) == (4, 1)
    assert out["validated_differences"] == [
        {
            "describes": "candidate",
            "label": "rude",
            "auc": 0.9,
            "p_value": 0.01,
            "p_adjusted": 0.04,
            "pair": 0,
        }
    ]
    assert "holm-adjusted p <= 0.05" in out["summary_validation"]


def test_search_headline_without_clusters_or_fresh_scores(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llm_behavior.divergence.headline")
    records = pd.DataFrame({"status": ["scored"], "origin": ["seed"], "divergence": [0.25]})
    out = search_headline(records, pd.DataFrame(), pd.DataFrame({"divergence": [0.25]}))
    assert out["mean_divergence_assistant_prompts"] is None
    assert out["assistant_answers"] == 0
    assert "summary_labels_tested" not in out and "mean_divergence_fresh_heldout" not in out
    # no assistant prompt scored: the log says n/a instead of failing to format None
    assert "random bundled prompts 0.2500, of assistant prompts n/a" in caplog.text
