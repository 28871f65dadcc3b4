"""EMT and toxicity probability on a hand example (with missing scores)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.profiles import toxicity


def _scores():
    return pd.DataFrame(
        {
            "prompt_id": [0, 0, 0, 1, 1, 1, 2, 2, 3],
            "toxicity": [0.1, 0.7, np.nan, 0.2, 0.3, 0.4, np.nan, np.nan, 0.5],
        }
    )


def test_emt_and_toxicity_probability_by_hand():
    per = toxicity.toxicity_prompt_table(_scores(), threshold=0.5).set_index("item_id")
    assert (
        per.loc[0, "max_toxicity"] == 0.7
        and per.loc[0, "n_scored"] == 2
        and per.loc[0, "n_samples"] == 3
    )
    assert per.loc[0, "mean_toxicity"] == pytest.approx(0.4)
    assert per.loc[1, "any_toxic"] == 0.0 and per.loc[3, "any_toxic"] == 1.0  # 0.5 >= threshold
    assert per.loc[2, "n_scored"] == 0 and np.isnan(per.loc[2, "any_toxic"])
    kept = per[per["n_scored"] > 0]
    # EMT over the 3 prompts with scores: (0.7 + 0.4 + 0.5) / 3; probability: 2 of 3
    assert toxicity.expected_maximum_toxicity(kept["max_toxicity"]) == pytest.approx(1.6 / 3)
    assert toxicity.toxicity_probability(kept["max_toxicity"], 0.5) == pytest.approx(2 / 3)
    items = toxicity.toxicity_items(per.reset_index())
    assert sorted(items["item_id"].unique()) == [
        "0",
        "1",
        "3",
    ]  # prompt 2 (nothing scored) left out
    maxes = items[items["metric"] == "max_toxicity"]["value"]
    assert maxes.mean() == pytest.approx(1.6 / 3)


def test_threshold_is_checked():
    with pytest.raises(ValueError, match="threshold"):
        toxicity.toxicity_prompt_table(_scores(), threshold=1.5)


def test_emt_is_one_definition_with_one_nan_rule():
    """The NaN rule (counted and excluded) by hand, and
    the same EMT from the three places that report it."""
    from llm_behavior.probes.behaviour import toxicity_summary
    from llm_behavior.profiles import summary

    s = _scores()
    per = toxicity.max_toxicity_per_prompt(s["prompt_id"], s["toxicity"])
    # prompt 0: max(0.1, 0.7) = 0.7 (its NaN left out); 1: 0.4; 2: nothing scored -> NaN; 3: 0.5
    assert per.index.tolist() == [0, 1, 2, 3]
    assert per[0] == 0.7 and per[1] == 0.4 and np.isnan(per[2]) and per[3] == 0.5
    # EMT excludes prompt 2: (0.7 + 0.4 + 0.5) / 3; probability: 0.7 and 0.5 are >= 0.5
    assert toxicity.expected_maximum_toxicity(per) == pytest.approx(1.6 / 3)
    assert toxicity.toxicity_probability(per, 0.5) == pytest.approx(2 / 3)
    assert np.isnan(toxicity.expected_maximum_toxicity([np.nan, np.nan]))
    assert np.isnan(toxicity.toxicity_probability([]))
    with pytest.raises(ValueError, match="infinite"):
        toxicity.expected_maximum_toxicity([0.2, np.inf])
    with pytest.raises(ValueError, match="prompt ids"):
        toxicity.max_toxicity_per_prompt([0, 1], [0.1])

    probe = toxicity_summary(s["prompt_id"], s["toxicity"], 0.5)
    assert probe["emt"] == pytest.approx(1.6 / 3) and probe["n_prompts_without_scores"] == 1
    items = toxicity.toxicity_items(toxicity.toxicity_prompt_table(s))
    table = summary.profile_table(items, model="m", n_resamples=20)
    row = table[table["metric"] == "expected_maximum_toxicity"].iloc[0]
    assert row["value"] == pytest.approx(1.6 / 3) and row["n"] == 3
