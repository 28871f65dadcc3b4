"""Word-level toxicity with alt-profanity-check (offline default).

``profanity_check.predict_prob`` is a scikit-learn linear model over word n-grams: fast
(~100k texts/s) and offline, but it sees word choice only (a threat without swear words
scores ~0.5, implicit identity hate ~0.1; see /work/shared/ASSETS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.scoring.base import Scorer, register_scorer, usable_texts


@register_scorer("profanity_check")
class ProfanityCheckScorer(Scorer):
    """Probability that a text is offensive, from alt-profanity-check (metric ``toxicity``)."""

    metrics = ("toxicity",)

    def __init__(self) -> None:
        from profanity_check import predict_prob  # loads the pickled model once

        self._predict_prob = predict_prob

    def fingerprint(self) -> dict[str, Any]:
        return {"alt-profanity-check": version("alt-profanity-check")}

    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        out, valid = usable_texts(texts, self.metrics)
        if valid:
            probs = np.asarray(self._predict_prob([texts[i] for i in valid]), dtype=float)
            out.loc[valid, "toxicity"] = probs
        return out
