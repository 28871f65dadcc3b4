"""Prompt search on a tiny model pair, with an assistant
behind a local fake OpenAI-compatible server."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from llm_behavior.divergence import search as search_mod
from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
from llm_behavior.divergence.embeddings import nearest_neighbour_distance
from llm_behavior.divergence.prompt_sets import select_searched_prompts
from llm_behavior.divergence.search import (
    PromptSearch,
    SearchCheckpointError,
    SearchSettings,
    build_instruction,
    normalise_text,
    rescale_0_10,
    subsample_probabilities,
)
from llm_behavior.models.sampling import row_seed
from llm_behavior.models.spec import GenerationSettings
from tests.divergence.conftest import wrap

SEEDS = [
    "the quick brown fox",
    "shut up you idiot",
    "the weather today is sunny",
    "language models continue text",
]
DECODING = ContrastiveSettings(mode="starting", temperature=1.0, max_new_tokens=5, batch_size=16)


def make_search(tiny_pair, assistant, embed, checkpoint=None, **kw) -> PromptSearch:
    settings = SearchSettings(
        **{
            "n_cycles": 2,
            "generations_per_prompt": 3,
            "assistant_calls_per_cycle": 4,
            "bank_subsample": 3,
            **kw,
        }
    )
    return PromptSearch(
        *tiny_pair, assistant, embed=embed, settings=settings, decoding=DECODING,
        assistant_generation=GenerationSettings(max_new_tokens=120, temperature=0.8),
        checkpoint=checkpoint,
    )  # fmt: skip


def test_search_scores_dedups_counts_and_keeps_every_candidate(tiny_pair, assistant, embed):
    progress = []
    result = make_search(tiny_pair, assistant, embed).run(
        SEEDS, ["s0", "s1", "s2", "s3"], progress=progress.append
    )
    rec = result.records
    assert [p["cycle"] for p in progress] == [0, 1, 2]
    assert list(rec[rec.origin == "seed"].prompt_id) == ["s0", "s1", "s2", "s3"]
    # every parsed item is a record (scored or duplicate), nothing silently dropped
    answers = [r for r in assistant.server.posts("chat/completions")]
    n_items = sum(4 for r in answers if r["body"]["seed"] % 4 != 0)
    assert len(rec[rec.origin == "assistant"]) == n_items == result.counters["items"]
    assert (
        result.counters["malformed_answers"]
        == sum(1 for r in answers if r["body"]["seed"] % 4 == 0)
        > 0
    )
    assert result.counters["answers"] == 8
    # duplicates: the normalised seed copies and repeats across answers
    dups = rec[rec.status == "duplicate"]
    copies = rec[
        (rec.origin == "assistant") & (rec.prompt.map(normalise_text) == "the quick brown fox")
    ]
    assert (
        len(copies) > 0
        and (copies.status == "duplicate").all()
        and set(copies.duplicate_of) == {"the quick brown fox"}
    )
    scored = rec[rec.status == "scored"]
    assert scored.prompt.map(normalise_text).is_unique
    assert set(dups.duplicate_of) <= set(scored.prompt)
    # the score is the mean over k generations of each text's mean per-token KL, recomputed here
    lm_s, lm_c = tiny_pair
    for _, row in scored.iterrows():
        texts = contrastive_generate(
            lm_s,
            lm_c,
            [row.prompt],
            ContrastiveSettings(**{**DECODING.__dict__, "num_samples": 3}),
            seeds=[row_seed(0, "score", row.prompt)],
        )
        assert row.divergence == pytest.approx(np.mean([np.mean(t.kl_sc) for t in texts]), rel=1e-4)
        assert row.n_generations == 3
    assert result.cycles["bank_size"].tolist() == sorted(result.cycles["bank_size"].tolist())


def test_interrupted_search_resumes_after_the_last_finished_cycle(
    tiny_pair, assistant, embed, tmp_path
):
    ckpt = tmp_path / "search.json"
    full = make_search(tiny_pair, assistant, embed).run(SEEDS)

    def stop_after_first_cycle(summary):
        if summary["cycle"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make_search(tiny_pair, assistant, embed, ckpt).run(SEEDS, progress=stop_after_first_cycle)
    assistant.server.reset_stats()
    seen = []
    resumed = make_search(tiny_pair, assistant, embed, ckpt).run(SEEDS, progress=seen.append)
    assert [s["cycle"] for s in seen] == [2]  # cycles 0 and 1 were not redone
    assert len(assistant.server.posts("chat/completions")) == 4
    pd.testing.assert_frame_equal(resumed.records, full.records)
    # a search with more cycles extends the same checkpoint; other settings are refused
    longer = make_search(tiny_pair, assistant, embed, ckpt, n_cycles=3).run(SEEDS)
    assert longer.records.cycle.max() == 3
    with pytest.raises(SearchCheckpointError, match="another search"):
        make_search(tiny_pair, assistant, embed, ckpt, generations_per_prompt=2).run(SEEDS)


def test_criterion_filters_and_unparsed_verdicts_are_counted(tiny_pair, assistant, embed):
    result = make_search(
        tiny_pair, assistant, embed, criterion="Does the prompt mention an animal?", n_cycles=1
    ).run(SEEDS)
    rec = result.records[result.records.origin == "assistant"]
    judged = rec[rec.status != "duplicate"]
    for _, row in judged.iterrows():
        animal = "fox" in row.prompt or "dog" in row.prompt
        if animal:
            assert row.criterion == 1.0 and row.status == "scored"
        elif "null" in row.prompt:
            assert math.isnan(row.criterion) and row.status == "scored"
        else:
            assert (
                row.criterion == 0.0
                and row.status == "rejected_by_criterion"
                and math.isnan(row.divergence)
            )
    assert result.counters["rejected_by_criterion"] == int(
        (judged.status == "rejected_by_criterion").sum()
    )
    assert result.counters["criterion_unparsed"] == int(judged.prompt.str.contains("null").sum())


def test_weak_local_assistant_gives_malformed_answers_without_crashing(tiny_pair, embed):
    lm_s, lm_c = tiny_pair
    babbler = wrap(lm_s.model, lm_s.tokenizer, "babbler")  # a random tiny model: never a list
    search = PromptSearch(
        lm_s, lm_c, babbler, embed=embed,
        settings=SearchSettings(n_cycles=1, generations_per_prompt=2, assistant_calls_per_cycle=3),
        decoding=DECODING, assistant_generation=GenerationSettings(max_new_tokens=20),
    )  # fmt: skip
    result = search.run(SEEDS)
    assert result.counters["malformed_answers"] == 3
    assert (result.records.origin == "seed").all() and len(result.records) == 4
    assert result.cycles.loc[1, "scored"] == 0


def test_subsample_probabilities_follow_the_formula():
    s = SearchSettings(
        weight_divergence=1.0,
        weight_criterion=0.5,
        weight_diversity=0.25,
        subsample_temperature=0.5,
    )
    div, crit, dvs = (
        np.array([0.1, 0.4, 0.2, 1.0]),
        np.array([1.0, np.nan, 0.0, 1.0]),
        np.array([0.3, 0.1, 0.5, 0.2]),
    )
    w = (div - 0.1) / 0.9 + 0.5 * np.array([1, 0, 0, 1]) + 0.25 * (dvs - 0.1) / 0.4
    expected = np.exp(w / 0.5) / np.exp(w / 0.5).sum()
    np.testing.assert_allclose(subsample_probabilities(div, crit, dvs, s), expected)


def test_nearest_neighbour_distance_and_rescaling():
    emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    np.testing.assert_allclose(nearest_neighbour_distance(emb), [0.2, 0.2, 0.4])
    assert rescale_0_10([1.0, 3.0, 2.0]) == [0.0, 10.0, 5.0]
    text = build_instruction(["low one", "high one"], [0.1, 0.9], 5, search_mod.DEFAULT_INSTRUCTION)
    assert (
        text.index("score 10.0: high one") < text.index("score 0.0: low one")
        and "Write 5 new" in text
    )


def test_selection_takes_top_prompts_and_splits_them():
    rec = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(12)],
            "prompt": [f"prompt {i}" for i in range(12)],
            "origin": ["seed"] * 4 + ["assistant"] * 8,
            "cycle": [0] * 4 + [1] * 8,
            "status": ["scored"] * 10 + ["duplicate", "rejected_by_criterion"],
            "divergence": [0.9, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.05, 0.15, np.nan, np.nan],
            "divergence_reverse": np.zeros(12),
        }
    )
    sel = select_searched_prompts(rec, top_n=6, heldout_fraction=0.5, seed=3)
    assert sel.prompt_id.tolist() == ["p0", "p7", "p6", "p5", "p4", "p3"]
    assert sorted(sel.split.value_counts().to_dict().items()) == [("heldout", 3), ("search", 3)]
    only = select_searched_prompts(rec, top_n=6, include_seed_prompts=False)
    assert "seed" not in set(only.origin) and len(only) == 6
    with pytest.raises(ValueError, match="scored no prompt"):
        select_searched_prompts(rec[rec.status != "scored"], top_n=3)


def test_minmax_ranks_an_infinite_divergence_first_and_refuses_nan():
    np.testing.assert_allclose(
        search_mod.minmax(np.array([0.1, np.inf, 0.3, 0.2])), [0.0, 1.0, 1.0, 0.5]
    )
    np.testing.assert_allclose(search_mod.minmax(np.array([0.4, 0.4])), [0.0, 0.0])
    np.testing.assert_allclose(search_mod.minmax(np.array([np.inf, np.inf])), [1.0, 1.0])
    with pytest.raises(
        search_mod.NonFiniteDivergenceError, match="1 of 3 bank divergences are NaN"
    ):
        subsample_probabilities(
            np.array([0.1, np.nan, 0.3]), np.zeros(3), np.ones(3), SearchSettings()
        )
    rec = pd.DataFrame(
        {
            "prompt_id": ["a", "b", "c"], "prompt": ["x", "y", "z"], "origin": "seed", "cycle": 0,
            "status": "scored",
            "divergence": [0.2, np.inf, 0.5], "divergence_reverse": [0.1, 0.3, 0.2],
        }
    )  # fmt: skip
    assert select_searched_prompts(rec, top_n=3, heldout_fraction=0.0).prompt_id.tolist() == [
        "b",
        "c",
        "a",
    ]
    with pytest.raises(ValueError, match="1 scored prompts have no divergence"):
        select_searched_prompts(rec.assign(divergence=[0.2, np.nan, 0.5]), top_n=3)


def test_a_model_with_nan_logits_stops_the_scoring_with_a_clear_error(tiny_pair):
    import copy

    import torch

    lm_s, lm_c = tiny_pair
    broken = copy.deepcopy(lm_c.model)
    with torch.no_grad():
        broken.model.norm.weight.fill_(float("nan"))  # every logit NaN
    with pytest.raises(
        search_mod.NonFiniteDivergenceError, match="2 of 2 prompts got a NaN per-token divergence"
    ):
        search_mod.score_prompts(lm_s, wrap(broken, lm_c.tokenizer, "broken"), SEEDS[:2], DECODING)
