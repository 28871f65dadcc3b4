"""Diversity metrics and next-token statistics against
hand values and independent implementations."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from llm_behavior.profiles import diversity

TEXTS = [
    "the cat sat on the mat today",
    "the cat sat on a mat today",
    "a cat sat on the mat today",
    "the cat lay on the mat today",
]


def test_self_bleu_matches_nltk():
    from nltk.translate.bleu_score import sentence_bleu

    expected = np.mean(
        [
            100 * sentence_bleu([t.split() for j, t in enumerate(TEXTS) if j != i], h.split())
            for i, h in enumerate(TEXTS)
        ]
    )
    assert diversity.self_bleu(TEXTS) == pytest.approx(expected, abs=1e-6)
    assert diversity.self_bleu(["same words in a row here"] * 3) == pytest.approx(100.0)


SHORT = ["a b", "a b c", "completely unrelated words here", "a", "a b c d e f"]


def test_self_bleu_equals_sacrebleu_corpus_bleu_of_each_text_against_the_others():
    import sacrebleu

    for texts in (TEXTS, SHORT, ["x y z", "p q r"]):  # incl. short texts and no shared n-gram
        expected = np.mean(
            [
                sacrebleu.corpus_bleu([h], [[t] for j, t in enumerate(texts) if j != i]).score
                for i, h in enumerate(texts)
            ]
        )
        assert diversity.self_bleu(texts) == pytest.approx(expected, abs=1e-9)
    assert diversity.self_bleu(["x y z", "p q r"]) == pytest.approx(0.0)
    assert np.isnan(diversity.self_bleu(["one"]))


def test_vendi_score_equals_the_vendi_score_package():
    vendi = pytest.importorskip("vendi_score.vendi", reason="vendi-score (requirements-dev.txt)")
    rng = np.random.default_rng(4)
    for emb in (
        rng.normal(size=(12, 384)),  # k < d: full-rank Gram matrix
        rng.normal(size=(30, 5)),  # k > d: rank-deficient
        np.repeat(rng.normal(size=(3, 8)), 4, axis=0),  # duplicated samples
    ):
        k = diversity.cosine_matrix(emb)
        ours = diversity.vendi_score(k)
        assert ours == pytest.approx(vendi.score_K(k), rel=1e-9)
        assert ours == pytest.approx(vendi.score_dual(emb, normalize=True), rel=1e-7)
        assert diversity.diversity_metrics(["t"] * len(emb), emb)["vendi_score"] == pytest.approx(
            vendi.score_dual(emb, normalize=True), rel=1e-7
        )


def test_gzip_ncd_by_formula_and_extremes():
    def c(s):
        return len(gzip.compress(s.encode(), compresslevel=9, mtime=0))

    x, y = TEXTS[0], "completely different words about quantum chromodynamics and jazz"
    expected = (c(x + y) - min(c(x), c(y))) / max(c(x), c(y))
    assert diversity.gzip_ncd([x, y]) == pytest.approx(expected)
    assert diversity.gzip_ncd([x, x]) < diversity.gzip_ncd([x, y])


def test_ngram_jaccard_by_hand():
    # bigrams {ab, bc, cd} vs {ab, bc, ce}: 2/4; trigrams {abc, bcd} vs {abc, bce}: 1/3;
    # 4-grams: 0/2
    assert diversity.ngram_jaccard(["a b c d", "a b c e"]) == pytest.approx((0.5 + 1 / 3 + 0) / 3)
    assert diversity.ngram_jaccard(["a b c d", "a b c d"]) == pytest.approx(1.0)


def test_ngram_jaccard_counts_pairs_without_ngrams():
    # "a" and "x" have no bigram, no text has a trigram
    texts = ["a", "b c", "x"]
    value, skipped = diversity.ngram_jaccard_counted(texts, (2, 3))
    # order 2: pairs (0,1): {} | {bc} -> 0/1; (0,2): both empty, skipped; (1,2): 0/1 -> mean 0
    # order 3: every text is shorter than 3 words: all 3 pairs skipped, order left out
    assert skipped == 1 + 3
    assert value == pytest.approx(0.0)
    assert np.isnan(diversity.ngram_jaccard_counted(["a", "b"], (2,))[0])
    m = diversity.diversity_metrics(texts, np.eye(3), ngram_orders=(2, 3))
    assert m["ngram_jaccard_pairs_skipped"] == 4


def test_vendi_and_leinster_cobbold_identical_vs_orthogonal():
    n = 5
    identical = np.ones((n, 1)) @ np.ones((1, 8))
    orthogonal = np.eye(n, 8)
    for emb, expected in ((identical, 1.0), (orthogonal, float(n))):
        k = diversity.cosine_matrix(emb)
        assert diversity.vendi_score(k) == pytest.approx(expected)
        for q in (0.5, 1.0, 2.0, float("inf")):
            assert diversity.leinster_cobbold(k, q) == pytest.approx(expected)
        m = diversity.diversity_metrics([f"text {i}" for i in range(n)], emb)
        assert m["vendi_score"] == pytest.approx(expected)
        assert m["embedding_cosine"] == pytest.approx(1.0 if expected == 1.0 else 0.0)


def test_vendi_and_leinster_cobbold_by_hand():
    k = np.array([[1.0, 0.5], [0.5, 1.0]])
    # eigenvalues of K/2: 0.75, 0.25
    assert diversity.vendi_score(k) == pytest.approx(
        np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    )
    # Zp = (0.75, 0.75): D_1 = exp(-ln 0.75), D_2 = 1 / 0.75
    assert diversity.leinster_cobbold(k, 1.0) == pytest.approx(1 / 0.75)
    assert diversity.leinster_cobbold(k, 2.0) == pytest.approx(1 / 0.75)
    # unequal weights: p = (0.8, 0.2): Zp = (0.9, 0.6); D_2 = 1 / (0.8*0.9 + 0.2*0.6)
    assert diversity.leinster_cobbold(k, 2.0, np.array([0.8, 0.2])) == pytest.approx(1 / 0.84)


def test_vocab_fraction_by_hand():
    p = np.array([0.1, 0.5, 0.1, 0.3])
    assert diversity.vocab_fraction(p, 0.7) == 0.5  # 0.5 + 0.3
    assert diversity.vocab_fraction(p, 0.9) == 0.75  # + 0.1


def test_next_token_statistics_equal_direct_computation(tiny_lm):
    import torch

    texts = ["the quick brown fox jumps over the lazy dog"] * 6
    per_window, summary = diversity.next_token_statistics(
        tiny_lm, texts, window=16, n_windows=3, batch_size=2
    )
    windows = diversity.reference_windows(tiny_lm.tokenizer, texts, 16, 3)
    assert len(windows) == 3 and all(len(w) == 16 for w in windows)
    assert windows[0][0] == tiny_lm.tokenizer.bos_token_id
    nll, ent, top1, probs = [], [], [], []
    for w in windows:
        with torch.no_grad():
            logits = tiny_lm.model(input_ids=torch.tensor([w])).logits[0].double().numpy()
        for t in range(15):
            z = logits[t] - logits[t].max()
            p = np.exp(z) / np.exp(z).sum()
            nll.append(-np.log(p[w[t + 1]]))
            ent.append(-(p * np.log(p)).sum())
            top1.append(p.max())
            probs.append(p)
    assert per_window["n_predicted"].tolist() == [15.0] * 3
    assert summary["perplexity"] == pytest.approx(np.exp(np.mean(nll)), rel=1e-4)
    assert summary["entropy"] == pytest.approx(np.mean(ent), rel=1e-4)
    assert summary["top1_confidence"] == pytest.approx(np.mean(top1), rel=1e-4)
    avg = np.mean(probs, axis=0)
    assert summary["vocab_fraction_90"] == pytest.approx(diversity.vocab_fraction(avg, 0.9))
    with pytest.raises(ValueError, match="windows"):
        diversity.next_token_statistics(tiny_lm, texts[:1], window=16, n_windows=50)
    with pytest.raises(ValueError, match="n_windows must be >= 1, got 0"):
        diversity.next_token_statistics(tiny_lm, texts, window=16, n_windows=0)


def test_diversity_table_groups_by_prompt_and_temperature():
    gens = pd.DataFrame(
        {
            "prompt_set": ["creative"] * 4 + ["factual"] * 2,
            "temperature": [0.5, 0.5, 1.0, 1.0, 0.5, 0.5],
            "prompt_id": [0] * 6,
            "text": ["a b c d", "a b c d", "a b c d", "w x y z", "p q r s", "p q r s"],
        }
    )

    def encode(texts):  # one orthogonal direction per distinct text
        vocab = {t: i for i, t in enumerate(sorted(set(texts)))}
        return np.eye(len(texts), 8)[[vocab[t] for t in texts]]

    table = diversity.diversity_table(gens, encode).set_index(["prompt_set", "temperature"])
    assert table.loc[("creative", 0.5), "vendi_score"] == pytest.approx(1.0)
    assert table.loc[("creative", 1.0), "vendi_score"] == pytest.approx(2.0)
    assert table.loc[("creative", 1.0), "ngram_jaccard"] == pytest.approx(0.0)
    assert table.loc[("factual", 0.5), "self_bleu"] == pytest.approx(100.0)
    assert table["n_samples"].tolist() == [2, 2, 2]
