"""The part runners on a tiny model: shapes, seeding, scorer reuse, disabled parts, plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.profiles import parts, plots, summary
from llm_behavior.profiles.items import ITEM_COLUMNS
from llm_behavior.profiles.settings import SettingsError
from tests.profiles.base_settings import bias_only, part_params


class WordScorer:
    """A stand-in toxicity scorer: 1.0 when the text
    contains 'you', else 0.0; NaN for empty text."""

    name = "word_scorer"
    metrics = ("toxicity",)

    def score(self, texts, references=None):
        vals = [np.nan if not t.strip() else float("you" in t) for t in texts]
        return pd.DataFrame(
            {"toxicity": vals, "reason": [None if t.strip() else "empty" for t in texts]}
        )


def fake_encoder(texts):
    rng = np.random.default_rng(len(texts))
    return rng.normal(size=(len(texts), 16))


TOX = part_params(
    "toxicity",
    n_prompts=3,
    samples_per_prompt=4,
    generation={"max_new_tokens": 6, "top_p": 0.9, "batch_size": 12},
)


def test_toxicity_part_generates_k_samples_and_summarises(tiny_lm):
    gens, items, notes = parts.run_toxicity(tiny_lm, TOX, seed=0, scorer=WordScorer())
    assert len(gens) == 12 and gens.groupby("prompt_id").size().tolist() == [4, 4, 4]
    assert list(items.columns) == list(ITEM_COLUMNS)
    per_prompt = gens.groupby("prompt_id")["toxicity"].max().dropna()
    got = items[items["metric"] == "max_toxicity"].set_index("item_id")["value"]
    assert got.to_dict() == {str(k): v for k, v in per_prompt.items()}
    assert notes.set_index("metric").loc["samples_per_prompt", "value"] == 4
    # same seed -> same samples; another seed -> other samples
    again, _, _ = parts.run_toxicity(tiny_lm, TOX, seed=0, scorer=WordScorer())
    other, _, _ = parts.run_toxicity(tiny_lm, TOX, seed=1, scorer=WordScorer())
    assert again["text"].tolist() == gens["text"].tolist()
    assert other["text"].tolist() != gens["text"].tolist()


def test_sampling_parts_show_progress_in_generations(tiny_lm, capsys):
    parts.run_toxicity(tiny_lm, TOX, seed=0, scorer=WordScorer())
    err = capsys.readouterr().err
    assert "profiling toxicity" in err and "12/12" in err  # 3 prompts x 4 samples


def test_toxicity_with_the_registered_profanity_scorer(tiny_lm):
    gens, items, _ = parts.run_toxicity(
        tiny_lm, {**TOX, "scorer": {"name": "profanity_check"}}, seed=0
    )
    assert gens["toxicity"].between(0, 1).all()
    assert set(items["metric"]) == {"max_toxicity", "any_toxic", "mean_toxicity", "n_scored"}
    n_scored = items[items["metric"] == "n_scored"].set_index("item_id")["value"]
    assert n_scored.to_dict() == {
        str(k): float(v) for k, v in gens.groupby("prompt_id")["toxicity"].count().items()
    }


def test_text_part_reuses_the_text_characteristics_scorer(tiny_lm):
    cfg = part_params(
        "text",
        n_prompts=2,
        generation={"max_new_tokens": 12},
        scorer={"name": "text_characteristics", "metrics": ["n_tokens", "mtld"]},
    )
    gens, items = parts.run_text(tiny_lm, cfg, seed=0)
    assert len(gens) == 2 and gens["prompt"].str.startswith("Write a short paragraph").all()
    assert set(items["metric"]) == {"n_tokens", "mtld"}
    ntok = items[items["metric"] == "n_tokens"].set_index("item_id")["value"]
    # the random tiny model may write only whitespace: that text is kept as NaN, never dropped
    blank = gens.set_index(gens["prompt_id"].astype(str))["text"].str.strip() == ""
    assert ntok.isna().to_dict() == blank.to_dict()
    assert (ntok.dropna() >= 0).all()


def test_diversity_part_items_per_temperature(tiny_lm):
    cfg = part_params(
        "diversity",
        temperatures=[0.5, 1.5],
        samples_per_prompt=3,
        n_prompts=None,
        creative_prompts=["Write a poem.", "Tell a story."],
        factual_prompts=["What is 2 + 2?"],
        generation={"max_new_tokens": 6},
    )
    gens, items = parts.run_diversity(tiny_lm, cfg, seed=0, encode=fake_encoder)
    assert len(gens) == 2 * 3 * 3  # temperatures x prompts x k
    assert set(items["subgroup"]) == {"T=0.5", "T=1.5"}
    assert set(items["dataset"]) == {"creative", "factual"}
    assert {
        "self_bleu",
        "gzip_ncd",
        "ngram_jaccard",
        "embedding_cosine",
        "vendi_score",
        "leinster_cobbold_q1",
    } <= set(items["metric"])
    with pytest.raises(ValueError, match="> 0"):
        parts.run_diversity(tiny_lm, {**cfg, "temperatures": [0.0]}, encode=fake_encoder)


def test_disabled_parts_return_empty_tables(tiny_lm):
    off = {"enabled": False}
    assert parts.run_toxicity(tiny_lm, part_params("toxicity", **off))[1].empty
    assert parts.run_text(tiny_lm, part_params("text", **off))[1].empty
    assert parts.run_calibration(tiny_lm, part_params("calibration", **off)).empty
    assert parts.run_next_token(tiny_lm, part_params("next_token", **off))[0].empty
    assert parts.run_utility_part(tiny_lm, part_params("utility", **off)).empty
    items, notes = parts.run_bias(tiny_lm, bias_only())
    assert items.empty and notes.empty


def test_parts_reject_unknown_and_missing_settings(tiny_lm):
    with pytest.raises(SettingsError, match=r"profiling.toxicity: unknown keys \['n_prompt'\]"):
        parts.run_toxicity(tiny_lm, {**part_params("toxicity"), "n_prompt": 3})
    with pytest.raises(SettingsError, match=r"profiling.text: missing keys \['scorer'\]"):
        parts.run_text(tiny_lm, {k: v for k, v in part_params("text").items() if k != "scorer"})
    with pytest.raises(
        SettingsError, match="profiling.bias.seat.n_permutations must be an integer"
    ):
        parts.run_bias(tiny_lm, bias_only(seat={"n_permutations": "many"}))


def test_bias_part_rejects_unknown_seat_tests(tiny_lm):
    with pytest.raises(ValueError, match="weat42"):
        parts.run_bias(tiny_lm, bias_only(seat={"tests": ["weat42"]}))


def test_plots_draw_both_models(tiny_lm, tiny_lm_b):
    cfg = part_params("calibration", datasets=["piqa"], n_items=12)
    a, b = parts.run_calibration(tiny_lm, cfg), parts.run_calibration(tiny_lm_b, cfg)
    fig = plots.reliability_diagram({"a": a, "b": b}, n_bins=4)
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # diagonal + one curve per model
    assert "ECE" in ax.get_legend().get_texts()[1].get_text()
    ta, tb = (
        summary.profile_table(
            parts.run_bias(m, bias_only(crows_pairs={"n_items": 9}))[0], model="x", n_resamples=20
        )
        for m in (tiny_lm, tiny_lm_b)
    )
    fig = plots.bias_scores({"a": ta, "b": tb})
    assert len(fig.axes[0].patches) == 2 * 10  # 9 bias types + "all", per model
    empty = plots.diversity_vs_temperature({"a": a})
    assert "not run" in empty.axes[0].texts[0].get_text()
