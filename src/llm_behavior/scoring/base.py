"""The scorer interface: texts in, one float per (text, metric) out, NaN + reason on failure.

A scorer is a small class registered by name (``@register_scorer("name")``) and built from
parameters with :func:`build_scorer`. ``score`` returns a wide frame aligned with the input
(one row per text, one float column per metric, plus a ``reason`` column that is None where
every metric was computed and says why otherwise). :func:`to_long` turns it into the long
scores table of :mod:`llm_behavior.schemas`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

_REGISTRY: dict[str, type[Scorer]] = {}

#: Optional boolean column of a scorer's wide output: True where the failure may not recur
#: (rate limit, network error), so the row must not be cached. Ignored by :func:`to_long`.
TRANSIENT_COLUMN = "transient"


class Scorer(ABC):
    """Scores texts on one or more behaviours."""

    name: str = ""
    metrics: tuple[str, ...] = ()
    needs_references: bool = False
    #: Bump when the scorer's computation changes, so cached scores are recomputed.
    version: str = "1"

    def fingerprint(self) -> dict[str, Any]:
        """What, besides the parameters, determines the scores (library versions, weight hashes).

        Part of the cache key of every score; JSON-serialisable; never holds secrets.
        """
        return {}

    @abstractmethod
    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        """Wide frame: len(texts) rows in input order, columns ``metrics`` + ``reason``."""


def register_scorer(name: str) -> Callable[[type[Scorer]], type[Scorer]]:
    """Class decorator that registers a scorer under ``name``."""

    def wrap(cls: type[Scorer]) -> type[Scorer]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"Scorer {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def available_scorers() -> list[str]:
    return sorted(_REGISTRY)


def _import_scorer(path: str) -> type[Scorer]:
    """``package.module:ClassName`` -> the Scorer
    subclass (a user's scorer outside this package)."""
    import importlib

    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"Scorer {path!r}: cannot import {class_name!r} from {module_name!r} ({exc})"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise ValueError(f"Scorer {path!r} is not a subclass of llm_behavior.scoring.Scorer")
    return cls


def scorer_class(name: str) -> type[Scorer]:
    """The class of a registered scorer, or of one given as ``package.module:ClassName``."""
    import llm_behavior.scoring  # noqa: F401  (registers the built-in scorers)

    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        cls = _import_scorer(name)
        if not cls.name:
            cls.name = name
        return cls
    raise ValueError(
        f"Unknown scorer {name!r}; available: {available_scorers()} (or give "
        "'package.module:ClassName')"
    )


def build_scorer(name: str, **kwargs: Any) -> Scorer:
    """Instantiate a scorer by registered name or import path; unknown names list the known ones."""
    return scorer_class(name)(**kwargs)


def to_long(
    wide: pd.DataFrame, keys: pd.DataFrame, scorer: str, metrics: Sequence[str]
) -> pd.DataFrame:
    """Long table (keys columns + scorer, metric, value, reason) from a scorer's wide output.

    ``keys`` holds the identifying columns (prompt_id, sample, side), row-aligned with ``wide``.
    A NaN value always carries a reason (the scorer's, or "missing value").
    """
    if len(wide) != len(keys):
        raise ValueError(f"scorer {scorer!r} returned {len(wide)} rows for {len(keys)} texts")
    parts = []
    reason = wide["reason"] if "reason" in wide else pd.Series([None] * len(wide))
    for metric in metrics:
        values = pd.to_numeric(wide[metric], errors="coerce").to_numpy(dtype=float)
        part = keys.reset_index(drop=True).copy()
        part["scorer"] = scorer
        part["metric"] = metric
        part["value"] = values
        r = reason.reset_index(drop=True).astype(object)
        r = r.where(pd.isna(values), None)
        part["reason"] = r.where(~(pd.isna(values) & r.isna()), "missing value")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def text_problem(text: object) -> str | None:
    """Why ``text`` cannot be scored (missing, not a string, empty, whitespace only), or None."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return "missing text"
    if not isinstance(text, str):
        return f"text is not a string ({type(text).__name__})"
    if not text:
        return "empty text"
    if not text.strip():
        return "whitespace-only text"
    return None


def usable_texts(texts: Sequence[object], metrics: Sequence[str]) -> tuple[pd.DataFrame, list[int]]:
    """A :func:`nan_frame` whose ``reason`` names each unusable text's problem, and the indices of
    the usable texts (the ones a scorer computes)."""
    problems = [text_problem(t) for t in texts]
    out = nan_frame(len(texts), metrics)
    out["reason"] = pd.Series(problems, dtype=object)
    return out, [i for i, p in enumerate(problems) if p is None]


def nan_frame(n: int, metrics: Sequence[str]) -> pd.DataFrame:
    """Wide frame of ``n`` rows with every metric NaN and ``reason`` None (filled by the caller)."""
    frame = pd.DataFrame(np.full((n, len(metrics)), np.nan), columns=list(metrics))
    frame["reason"] = pd.Series([None] * n, dtype=object)
    return frame
