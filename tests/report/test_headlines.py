"""The profiling headline's flags, against a hand-built comparison table (as read back from CSV)."""

from __future__ import annotations

import pandas as pd

from llm_behavior.report.headlines import profiling_headline


def test_profiling_headline_counts_flagged_rows_and_names_their_parts() -> None:
    comparison = pd.DataFrame(
        {
            "part": ["bias", "toxicity", "calibration", "bias"],
            "dataset": ["crows_pairs", "rtp", "piqa", "stereoset"],
            "metric": ["score", "emt", "ece", "ss"],
            "difference": [0.1, 0.2, -0.05, 0.0],
            "p_value": [0.5, 0.01, 0.2, 0.9],
            "below_paper_size": ["True", "true", "False", "True"],
            "identical_requests": [False, False, True, "True"],
        }
    )
    text = profiling_headline({"profile_comparison": comparison})
    assert text.startswith("1 of 4 overall statistics differ at p < 0.05")
    assert "strongest: toxicity / rtp / emt, candidate \u2212 reference +0.2" in text
    below = "; 3 of them rest on fewer items or samples than their paper used (bias, toxicity:"
    assert below in text
    assert "; 2 compare identical requests to identical weights (bias, calibration):" in text


def test_profiling_headline_without_flag_columns_says_nothing_of_them() -> None:
    comparison = pd.DataFrame({"part": ["bias"], "difference": [0.1], "p_value": [0.5]})
    text = profiling_headline({"profile_comparison": comparison})
    assert text == (
        "0 of 1 overall statistics differ at p < 0.05 (per test, not corrected for multiplicity)."
    )
