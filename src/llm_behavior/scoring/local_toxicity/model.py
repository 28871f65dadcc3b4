"""The trained local_toxicity model: TF-IDF LR, stacker, the attribute rule, and the model that
loads them from a model directory (inference only; training is in :mod:`.training`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from llm_behavior.scoring.local_toxicity.embedding import EmbeddingHead, normalize_text
from llm_behavior.scoring.local_toxicity.toxblock import HEADS, ToxBlock

METRICS = ("toxicity", "severe_toxicity", "insult", "threat", "identity_attack", "obscene")
#: tox-block head used for each attribute without a label in the training corpus.
ATTRIBUTE_HEADS = {
    "severe_toxicity": "severe_toxic",
    "insult": "insult",
    "threat": "threat",
    "identity_attack": "identity_hate",
    "obscene": "obscene",
}


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


def vectorizer_config_to_json(params: dict) -> dict:
    out = {}
    for block, p in params.items():
        out[block] = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items() if k != "dtype"
        }
    return out


def vectorizer_config_from_json(cfg: dict) -> dict:
    out = {}
    for block, p in cfg.items():
        out[block] = {**p, "ngram_range": tuple(p["ngram_range"]), "dtype": np.float64}
    return out


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
                f"{meta_path} is missing: run `python -m "
                "llm_behavior.scoring.local_toxicity prepare`"
            )
        info = json.loads(meta_path.read_text(encoding="utf-8"))
        lr = TfidfLR.load(
            Path(model_dir) / "tfidf_lr.npz", vectorizer_config_from_json(info["vectorizers"])
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
