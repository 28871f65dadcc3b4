"""text_characteristics: readability and MTLD checked by hand and against direct implementations."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest

from llm_behavior.scoring import build_scorer
from llm_behavior.scoring.text_characteristics import UNDEFINED, mtld

HAND = "Yesterday was beautiful. We walked outside."


@pytest.fixture(scope="module")
def scorer():
    return build_scorer("text_characteristics")


def test_metric_names_are_short_and_cover_the_components(scorer):
    expected = {
        "n_tokens",
        "n_sentences",
        "flesch_reading_ease",
        "gunning_fog",
        "rix",
        "lix",
        "smog",
        "dependency_distance_mean",
        "first_order_coherence",
        "entropy",
        "perplexity",
        "passed_quality_check",
        "duplicate_ngram_chr_fraction_5",
        "symbol_to_word_ratio_hash",
        "contains_lorem_ipsum",
        "mtld",
    }
    assert expected <= set(scorer.metrics)
    assert all(re.fullmatch(r"[a-z0-9_]+", m) for m in scorer.metrics)
    assert "oov_ratio" not in scorer.metrics


def test_readability_by_hand(scorer):
    # words (punctuation dropped): yesterday was beautiful we walked outside -> 6 words, 2 sentences
    # syllables by pyphen hyphenation (what textdescriptives counts): yes-ter-day 3, was 1,
    # beau-ti-ful 3, we 1, walked 1, out-side 2 -> 11; words with >= 3 syllables: 2
    # words longer than 6 characters: yesterday, beautiful, outside -> 3
    row = scorer.score([HAND]).iloc[0]
    words, sentences, syllables, hard, long_words = 6, 2, 11, 2, 3
    assert row["n_tokens"] == words and row["n_sentences"] == sentences
    assert row["rix"] == pytest.approx(long_words / sentences)  # 1.5
    assert row["lix"] == pytest.approx(words / sentences + 100 * long_words / words)  # 53
    assert row["gunning_fog"] == pytest.approx(
        0.4 * (words / sentences + 100 * hard / words)
    )  # 14.533
    assert row["flesch_reading_ease"] == pytest.approx(
        206.835 - 1.015 * words / sentences - 84.6 * syllables / words
    )  # 48.69
    assert row["flesch_kincaid_grade"] == pytest.approx(
        0.39 * words / sentences + 11.8 * syllables / words - 15.59
    )
    assert np.isnan(row["smog"]) and row["reason"] == UNDEFINED  # SMOG needs >= 3 sentences


def lexicalrichness_words(text: str) -> list[str]:
    """lexicalrichness's documented tokenisation: lower,
    drop digits and dashes, punctuation -> space."""
    text = re.sub(r"[0-9]+", "", text.lower()).replace("-", "")
    for p in string.punctuation:
        text = text.replace(p, " ")
    return text.split()


def mtld_direct(words: list[str], threshold: float = 0.72) -> float:
    """MTLD after McCarthy & Jarvis (2010): mean of
    forward and backward passes with a partial factor."""

    def one_pass(seq: list[str]) -> float:
        factors, types, count = 0.0, set(), 0
        for word in seq:
            count += 1
            types.add(word)
            if len(types) / count <= threshold:
                factors, types, count = factors + 1, set(), 0
        if count:
            factors += (1 - len(types) / count) / (1 - threshold)
        return len(seq) / factors

    return (one_pass(words) + one_pass(words[::-1])) / 2


MTLD_TEXTS = [
    "The cat sat on the mat and the dog sat on the log, and then the cat and the dog sat together "
    "on the mat while the bird sang on the log.",
    "I said no, no, no! You never listen. You never, ever listen to what I say to you.",
    "Rain fell on the town all night; by morning the river had risen, the roads were closed, and "
    "the town was quiet as the rain fell and fell on the river and the roads.",
]


def test_mtld_hand_worked_and_direct_implementation(scorer):
    # forward: the cat the -> TTR 2/3 <= 0.72 (factor 1), then "cat the dog" all new (partial 0)
    # backward: dog the cat the cat -> 3/5 (factor 1), then "the": partial 0. MTLD = 6/1 = 6
    assert mtld("the cat the cat the dog") == pytest.approx(6.0)
    wide = scorer.score(MTLD_TEXTS)
    for text, value in zip(MTLD_TEXTS, wide["mtld"]):
        assert value == pytest.approx(mtld_direct(lexicalrichness_words(text)), rel=1e-12)
    assert np.isnan(mtld("!!! ...")) and np.isnan(mtld("123"))


def test_empty_whitespace_and_missing_texts(scorer):
    wide = scorer.score(["", "  \n ", None, float("nan"), HAND])
    metrics = list(scorer.metrics)
    assert wide.loc[:3, metrics].isna().all().all()
    assert wide["reason"].tolist()[:4] == [
        "empty text",
        "whitespace-only text",
        "missing text",
        "missing text",
    ]
    assert wide.loc[4, "n_tokens"] == 6


def test_batched_equals_one_at_a_time(scorer):
    texts = MTLD_TEXTS + [HAND, "Go away!"]
    batched = scorer.score(texts)
    single = [scorer.score([t]) for t in texts]
    for i, one in enumerate(single):
        np.testing.assert_allclose(
            batched.loc[i, list(scorer.metrics)].to_numpy(dtype=float),
            one.loc[0, list(scorer.metrics)].to_numpy(dtype=float),
            rtol=1e-6,
            equal_nan=True,
        )
    assert set(batched["passed_quality_check"].dropna()) <= {0.0, 1.0}


def test_subset_of_metrics_and_errors():
    small = build_scorer(
        "text_characteristics",
        components=["descriptive_stats", "readability"],
        metrics=["rix", "mtld"],
    )
    assert small.metrics == ("rix", "mtld")
    wide = small.score([HAND])
    assert wide.at[0, "rix"] == pytest.approx(1.5)
    assert list(wide.columns) == ["rix", "mtld", "reason"]
    with pytest.raises(ValueError, match="unknown metrics"):
        build_scorer(
            "text_characteristics", components=["readability"], metrics=["coherence_of_vibes"]
        )
    with pytest.raises(ValueError, match="unknown components"):
        build_scorer("text_characteristics", components=["sentiment"])
