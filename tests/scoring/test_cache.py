"""Score cache: hits, dedupe, keys (params, references,
fingerprint), nothing recomputed needlessly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.scoring import build_scorer
from llm_behavior.scoring.cache import ScoreCache, score_with_cache, scorer_config_hash, text_key

TEXTS = ["you idiot", "nice weather", "", "you idiot", None, "go away you fool"]


def spy(scorer):
    """Record the texts each score() call receives."""
    calls: list[list] = []
    original = scorer.score

    def score(texts, references=None):
        calls.append(list(texts))
        return original(texts, references)

    scorer.score = score
    return calls


def test_second_run_reads_cache_and_equals_fresh_scores(tmp_path):
    scorer = build_scorer("profanity_check")
    calls = spy(scorer)
    fresh = build_scorer("profanity_check").score(TEXTS)
    cache = ScoreCache(tmp_path / "c.sqlite")
    config = scorer_config_hash("profanity_check", {}, scorer)
    first, n1 = score_with_cache(scorer, TEXTS, None, cache, config)
    # repeated "you idiot" scored once
    assert n1 == 5 and calls == [["you idiot", "nice weather", "", None, "go away you fool"]]
    second, n2 = score_with_cache(scorer, TEXTS, None, cache, config)
    assert n2 == 0 and len(calls) == 1
    for out in (first, second):
        np.testing.assert_array_equal(out["toxicity"].to_numpy(), fresh["toxicity"].to_numpy())
        assert out["reason"].tolist() == fresh["reason"].tolist()
    cache.close()
    # persists on disk
    reopened = ScoreCache(tmp_path / "c.sqlite")
    assert len(reopened) == 5
    _, n3 = score_with_cache(scorer, TEXTS + ["a new text"], None, reopened, config)
    assert n3 == 1 and calls[-1] == ["a new text"]


def test_config_hash_depends_on_params_not_on_spelled_out_defaults():
    a = build_scorer("translation_quality")
    assert scorer_config_hash("translation_quality", {}, a) == scorer_config_hash(
        "translation_quality", {"tokenize": "13a"}, a
    )
    b = build_scorer("translation_quality", lowercase=True)
    assert scorer_config_hash("translation_quality", {}, a) != scorer_config_hash(
        "translation_quality", {"lowercase": True}, b
    )


def test_reference_is_part_of_the_key_for_reference_scorers(tmp_path):
    scorer = build_scorer("translation_quality")
    calls = spy(scorer)
    cache = ScoreCache(tmp_path / "c.sqlite")
    out, n = score_with_cache(
        scorer, ["a cat", "a cat", "a cat"], ["a cat", "the dog", "a cat"], cache, "t"
    )
    assert n == 2 and calls[0] == ["a cat", "a cat"]
    assert out.at[0, "bleu"] == pytest.approx(100.0) and out.at[2, "bleu"] == pytest.approx(100.0)
    assert out.at[1, "bleu"] < 100
    assert text_key("a", "b", True) != text_key("a", "c", True)
    assert text_key("a", "b", False) == text_key("a", "c", False)
    assert text_key(None) != text_key("") != text_key("None")


def test_wrong_row_count_is_an_error(tmp_path):
    scorer = build_scorer("profanity_check")
    scorer.score = lambda texts, references=None: pd.DataFrame(
        {"toxicity": [0.1], "reason": [None]}
    )
    with pytest.raises(ValueError, match="returned 1 rows for 2 texts"):
        score_with_cache(scorer, ["a", "b"], None, None, "x")
