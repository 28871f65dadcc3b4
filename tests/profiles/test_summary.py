"""Profile tables and paired comparisons against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.profiles import summary
from llm_behavior.profiles.calibration import ece_equal_mass
from llm_behavior.profiles.items import to_items
from llm_behavior.profiles.stats import mcnemar


def _calibration_items(
    seed: int, n: int = 80, shift: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.3, 1.0, n)
    wide = pd.DataFrame(
        {
            "item_id": np.arange(n),
            "confidence": conf,
            "correct": (rng.uniform(size=n) < conf - shift).astype(float),
            "brier": rng.uniform(0, 1, n),
            "p_gold": conf,
        }
    )
    return wide, to_items(wide, "calibration", "toy", ["correct", "confidence", "brier", "p_gold"])


def _crows_items(prefs, types) -> pd.DataFrame:
    wide = pd.DataFrame(
        {
            "item_id": range(len(prefs)),
            "stereo_preferred": prefs,
            "logprob_gap": np.asarray(prefs) - 0.5,
        }
    )
    return to_items(wide, "bias", "crows_pairs", ["stereo_preferred", "logprob_gap"], types)


def test_profile_values_equal_direct_computations():
    wide, items = _calibration_items(0)
    prefs = [1, 1, 0, 1, 0, 1]
    crows = _crows_items(
        prefs, ["gender", "gender", "gender", "race-color", "race-color", "race-color"]
    )
    table = summary.profile_table(pd.concat([items, crows]), model="m", n_resamples=300)
    assert list(table.columns) == list(summary.PROFILE_COLUMNS)
    row = table.set_index(["dataset", "subgroup", "metric"])
    assert row.loc[("toy", "all", "accuracy"), "value"] == pytest.approx(wide["correct"].mean())
    assert row.loc[("toy", "all", "ece_10_bins"), "value"] == pytest.approx(
        ece_equal_mass(wide["confidence"], wide["correct"], 10)
    )
    assert row.loc[("toy", "all", "ece_1_bin"), "value"] == pytest.approx(
        abs(wide["correct"].mean() - wide["confidence"].mean())
    )
    assert row.loc[("toy", "all", "brier"), "value"] == pytest.approx(wide["brier"].mean())
    assert "equal-mass" in row.loc[("toy", "all", "ece_10_bins"), "definition"]
    assert "max softmax" in row.loc[("toy", "all", "ece_10_bins"), "definition"]
    assert row.loc[("crows_pairs", "all", "metric_score"), "value"] == pytest.approx(100 * 4 / 6)
    assert row.loc[("crows_pairs", "all", "distance_from_50"), "value"] == pytest.approx(
        100 * 4 / 6 - 50
    )
    assert row.loc[("crows_pairs", "gender", "metric_score"), "value"] == pytest.approx(200 / 3)
    assert row.loc[("crows_pairs", "race-color", "metric_score"), "n"] == 3
    for r in table[table["n"] > 10].itertuples():
        assert r.ci_low <= r.value + 1e-9 and r.value <= r.ci_high + 1e-9


def test_missing_item_values_are_counted_not_silently_used():
    wide = pd.DataFrame(
        {
            "item_id": range(4),
            "max_toxicity": [0.2, np.nan, 0.6, 0.4],
            "any_toxic": [0, np.nan, 1, 0],
            "mean_toxicity": [0.1, np.nan, 0.3, 0.2],
        }
    )
    table = summary.profile_table(
        to_items(wide, "toxicity", "p", ["max_toxicity", "any_toxic", "mean_toxicity"]),
        model="m",
        n_resamples=50,
    )
    emt = table[table["metric"] == "expected_maximum_toxicity"].iloc[0]
    assert emt["value"] == pytest.approx(0.4) and emt["n"] == 3


def test_comparison_uses_mcnemar_for_rates_and_pairs_items():
    _, ref = _calibration_items(1)
    wide_c, cand = _calibration_items(1, shift=0.25)  # same confidences, fewer correct
    cand = cand[
        ~((cand["item_id"] == "0") & (cand["metric"] == "correct"))
    ]  # item 0 lacks 'correct'
    cmp = summary.compare_profiles(ref, cand, n_resamples=500).set_index(
        ["dataset", "subgroup", "metric"]
    )
    acc = cmp.loc[("toy", "all", "accuracy")]
    ref_wide = ref.pivot_table(index="item_id", columns="metric", values="value")
    cand_wide = cand.pivot_table(index="item_id", columns="metric", values="value")
    shared = ref_wide.index.intersection(cand_wide.dropna().index)
    r, c = ref_wide.loc[shared, "correct"], cand_wide.loc[shared, "correct"]
    assert acc["n_pairs"] == len(shared) == 79 and acc["n_unpaired"] == 1
    assert acc["difference"] == pytest.approx(c.mean() - r.mean())
    assert acc["p_value"] == pytest.approx(mcnemar(r.to_numpy(), c.to_numpy())[0])
    assert acc["test"].startswith("exact McNemar")
    assert acc["ci_low"] <= acc["difference"] <= acc["ci_high"] and acc["difference"] < 0
    ece = cmp.loc[("toy", "all", "ece_10_bins")]
    assert ece["test"] == "paired bootstrap"
    assert ece["difference"] == pytest.approx(
        ece_equal_mass(cand_wide.loc[shared, "confidence"], c, 10)
        - ece_equal_mass(ref_wide.loc[shared, "confidence"], r, 10)
    )


def test_identical_sides_give_zero_differences():
    _, items = _calibration_items(2)
    cmp = summary.compare_profiles(items, items.copy(), n_resamples=200)
    assert (cmp["difference"].abs() < 1e-12).all()
    assert (cmp["p_value"] == 1.0).all()


def test_diversity_is_not_pooled_over_temperatures_and_summary_only_rows_pass_through():
    wide = pd.DataFrame({"item_id": [0, 1], "vendi_score": [2.0, 3.0]})
    items = pd.concat(
        [
            to_items(wide, "diversity", "creative", ["vendi_score"], "T=0.5"),
            to_items(
                wide.assign(vendi_score=[4.0, 5.0]), "diversity", "creative", ["vendi_score"], "T=1"
            ),
        ]
    )
    notes = pd.DataFrame(
        [
            {
                "part": "bias",
                "dataset": "seat",
                "subgroup": "weat1",
                "metric": "effect_size",
                "value": 0.7,
                "definition": "d",
            }
        ]
    )
    table = summary.profile_table(items, model="m", summary_only=notes, n_resamples=50)
    assert set(table["subgroup"]) == {"T=0.5", "T=1", "weat1"}
    assert table.set_index("subgroup").loc["T=1", "value"] == pytest.approx(4.5)
    cmp = summary.compare_profiles(
        items, items, ref_summary_only=notes, cand_summary_only=notes.assign(value=0.2)
    )
    seat = cmp[cmp["dataset"] == "seat"].iloc[0]
    assert seat["difference"] == pytest.approx(-0.5) and seat["test"].startswith("none")


def test_bad_item_tables_are_rejected():
    _, items = _calibration_items(3)
    with pytest.raises(ValueError, match="duplicated"):
        summary.profile_table(pd.concat([items, items.head(1)]), model="m")
    with pytest.raises(ValueError, match="lacks column"):
        summary.profile_table(items.drop(columns="subgroup"), model="m")


def _tox_items(k: list[int]) -> pd.DataFrame:
    wide = pd.DataFrame(
        {
            "item_id": range(len(k)),
            "max_toxicity": np.linspace(0.1, 0.9, len(k)),
            "any_toxic": [0.0, 1.0] * (len(k) // 2),
            "mean_toxicity": np.linspace(0.05, 0.5, len(k)),
            "n_scored": k,
        }
    )
    cols = ["max_toxicity", "any_toxic", "mean_toxicity", "n_scored"]
    return to_items(wide, "toxicity", "toxic_prompts", cols)


def test_every_row_shows_its_size_and_whether_it_is_below_the_paper():
    small = _tox_items([8, 8, 7, 8])  # one prompt lost a scored sample
    paper = _tox_items([25] * 4)
    t_small = summary.profile_table(small, model="m", n_resamples=50).set_index("metric")
    t_paper = summary.profile_table(paper, model="m", n_resamples=50).set_index("metric")
    emt = t_small.loc["expected_maximum_toxicity"]
    assert emt["n"] == 4 and emt["size"] == "4 prompts x 7-8 samples scored"
    assert emt["below_paper_size"] == True  # noqa: E712
    assert "25 samples per prompt" in emt["paper_size"]
    assert t_paper.loc["expected_maximum_toxicity", "below_paper_size"] == False  # noqa: E712
    assert t_paper.loc["toxicity_probability", "size"] == "4 prompts x 25 samples scored"
    assert "n_scored" not in t_small.index  # the sample count is the size, not a statistic
    cmp = summary.compare_profiles(small, paper, n_resamples=50)
    assert list(cmp.columns) == list(summary.COMPARISON_COLUMNS)
    # paired items: the smaller side's samples per prompt
    cmp = cmp.set_index("metric")
    assert cmp.loc["expected_maximum_toxicity", "size"] == "4 prompts x 7-8 samples scored"

    # next-token windows: below the paper under 100 windows or under 1,023 predicted tokens each
    def windows(n: int, tokens: float) -> pd.DataFrame:
        wide = pd.DataFrame(
            {
                "item_id": range(n),
                "n_predicted": [tokens] * n,
                "nll_sum": [2.0 * tokens] * n,
                "entropy_sum": [tokens] * n,
                "top1_sum": [0.5 * tokens] * n,
            }
        )
        return to_items(
            wide, "next_token", "xsum", ["n_predicted", "nll_sum", "entropy_sum", "top1_sum"]
        )

    for n, tokens, below in ((2, 1023.0, True), (100, 15.0, True), (100, 1023.0, False)):
        row = summary.profile_table(windows(n, tokens), model="m", n_resamples=20)
        row = row.set_index("metric").loc["perplexity"]
        assert row["below_paper_size"] == below, (n, tokens)
        assert row["size"] == f"{n:,} windows x {tokens:,.0f} predicted tokens"
        assert row["value"] == pytest.approx(np.exp(2.0))


def test_undefined_bootstrap_replicates_are_counted_in_the_profile():
    # BBQ s_DIS is undefined in a resample without a disambiguated non-unknown answer
    wide = pd.DataFrame(
        {
            "item_id": range(12),
            "predicted_biased": [1.0, 0.0] + [0.0] * 10,
            "predicted_unknown": [0.0, 0.0] + [1.0] * 10,
            "ambiguous": [0.0] * 12,
            "correct": [1.0] * 12,
        }
    )
    items = to_items(wide, "bias", "bbq", list(wide.columns[1:]))
    row = summary.profile_table(items, model="m", n_resamples=400).set_index("metric").loc["s_dis"]
    assert row["value"] == pytest.approx(0.0)  # 1 biased of 2 non-unknown: 2 * 1/2 - 1
    idx = np.random.default_rng(0).integers(0, 12, size=(400, 12))
    expected = int(np.sum((idx < 2).sum(axis=1) == 0))  # resamples without item 0 or 1
    assert expected > 0 and row["n_boot_nonfinite"] == expected
