"""Score generation tables with the scorers named in parameters (plain Python, no Kedro).

A scorer entry in parameters is ``{name: <registered scorer>, as: <label, optional>,
params: {...}}``; ``as`` lets one scorer run twice with different settings (the label fills the
``scorer`` column of the scores table). Each scorer is built once and applied to every side.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.schemas import SCORE_COLUMNS
from llm_behavior.scoring.base import Scorer, build_scorer, scorer_class, to_long
from llm_behavior.scoring.cache import ScoreCache, score_with_cache, scorer_config_hash

logger = logging.getLogger(__name__)

KEY_COLUMNS = ("prompt_id", "sample", "side")
REQUIRED_COLUMNS = ("prompt_id", "sample", "text")
SUMMARY_COLUMNS = ("side", "scorer", "metric", "mean", "std", "n", "n_missing")


@dataclass
class BuiltScorer:
    """A scorer built from one parameters entry, with its cache key."""

    label: str
    name: str
    params: dict[str, Any]
    scorer: Scorer
    config_hash: str = field(default="")


def parse_specs(specs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, name, params) per entry; clear errors for malformed or duplicate entries."""
    if not isinstance(specs, Sequence) or isinstance(specs, str) or not specs:
        raise ValueError("scoring.scorers must be a non-empty list of {name, as?, params?} entries")
    parsed, labels = [], set()
    for n, spec in enumerate(specs):
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise ValueError(f"scoring.scorers[{n}] must be a mapping with a 'name'; got {spec!r}")
        extra = set(spec) - {"name", "as", "params"}
        if extra:
            raise ValueError(
                f"scoring.scorers[{n}] has unknown keys {sorted(extra)}; allowed: name, as, params"
            )
        name = str(spec["name"])
        try:
            scorer_class(name)
        except ValueError as exc:
            raise ValueError(f"{exc} (scoring.scorers[{n}])") from exc
        label = str(spec.get("as") or name)
        if label in labels:
            raise ValueError(f"scorer label {label!r} used twice; give one entry an 'as:' label")
        labels.add(label)
        params = dict(spec.get("params") or {})
        parsed.append((label, name, params))
    return parsed


def build_scorers(specs: Sequence[Mapping[str, Any]]) -> list[BuiltScorer]:
    """Build each listed scorer once; unexpected parameters are named with the accepted ones."""
    built = []
    for label, name, params in parse_specs(specs):
        accepted = [p for p in inspect.signature(scorer_class(name)).parameters if p != "self"]
        unexpected = sorted(set(params) - set(accepted))
        if unexpected:
            raise ValueError(
                f"scorer {label!r} ({name}) got unknown "
                f"parameters {unexpected}; accepted: {accepted}"
            )
        start = time.perf_counter()
        scorer = build_scorer(name, **params)
        item = BuiltScorer(label, name, params, scorer)
        item.config_hash = scorer_config_hash(name, params, scorer)
        logger.info("Built scorer %s (%s) in %.1f s", label, name, time.perf_counter() - start)
        built.append(item)
    metric_keys = [(b.label, m) for b in built for m in b.scorer.metrics]
    if len(metric_keys) != len(set(metric_keys)):
        raise ValueError(
            "two scorers produce the same (scorer, metric); label them apart with 'as:'"
        )
    return built


def check_generations(table: pd.DataFrame, side: str) -> pd.DataFrame:
    """Validated copy of one side's generations with a ``side`` column equal to ``side``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{side} generations lack columns {missing}; have {list(table.columns)}")
    table = table.reset_index(drop=True).copy()
    if "side" in table.columns:
        other = sorted(set(table["side"].dropna().astype(str)) - {side})
        if other:
            raise ValueError(f"{side} generations hold rows of side(s) {other}")
    table["side"] = side
    dupes = table.duplicated(["prompt_id", "sample"])
    if dupes.any():
        first = table.loc[dupes, ["prompt_id", "sample"]].iloc[0].tolist()
        raise ValueError(
            f"{side} generations repeat (prompt_id, sample) {first} ({int(dupes.sum())} duplicates)"
        )
    return table


def score_tables(
    tables: Mapping[str, pd.DataFrame],
    scorers: Sequence[BuiltScorer],
    cache_path: str | Path | None = None,
    reference_column: str = "reference",
    chunk_size: int = 512,
) -> pd.DataFrame:
    """Long scores table (schemas.SCORE_COLUMNS) of every side with every scorer.

    Every (row, metric) appears once: failures and empty texts as NaN + reason. Texts whose
    prompt set has no ``reference_column`` get references None (reference-based scorers say so).
    Texts are scored ``chunk_size`` at a time (progress bar; each chunk reaches the cache at once,
    so an interrupted run keeps what it computed).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    cache = ScoreCache(cache_path) if cache_path else None
    parts = []
    try:
        for side, raw in tables.items():
            table = check_generations(raw, side)
            keys = table[list(KEY_COLUMNS)]
            texts = table["text"].tolist()
            refs = table[reference_column].tolist() if reference_column in table.columns else None
            for item in scorers:
                start = time.perf_counter()
                wide, n_new = _score_in_chunks(
                    item, texts, refs, cache, chunk_size, desc=f"{side}/{item.label}"
                )
                logger.info(
                    "Scored %s side with %s: %d texts, %d "
                    "computed, %d from cache or repeats, %.1f s",
                    side,
                    item.label,
                    len(texts),
                    n_new,
                    len(texts) - n_new,
                    time.perf_counter() - start,
                )
                parts.append(to_long(wide, keys, item.label, item.scorer.metrics))
    finally:
        if cache is not None:
            cache.close()
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS}).astype(
            {"value": float}
        )
    scores = pd.concat(parts, ignore_index=True)[list(SCORE_COLUMNS)]
    scores["reason"] = scores["reason"].astype(object)
    warn_failed_scorers(scores)
    return scores


def warn_failed_scorers(scores: pd.DataFrame) -> list[str]:
    """One warning per scorer that gave NaN on every text (e.g. an API scorer without network),
    with the count and the most common reason; returns the warnings' texts."""
    texts = []
    for scorer, part in scores.groupby("scorer", sort=True):
        if part.empty or part["value"].notna().any():
            continue
        reasons = part["reason"].dropna().astype(str)
        reason = reasons.value_counts().index[0] if len(reasons) else "no reason recorded"
        n_texts = part[list(KEY_COLUMNS)].drop_duplicates().shape[0]
        text = (
            f"scorer {scorer!r} failed on every text: {n_texts} texts, all {len(part)} scores NaN "
            f"(sides: {', '.join(sorted(part['side'].unique()))}); most common reason: {reason}"
        )
        logger.warning(text)
        texts.append(text)
    return texts


def _score_in_chunks(
    item: BuiltScorer,
    texts: list[Any],
    refs: list[Any] | None,
    cache: ScoreCache | None,
    chunk_size: int,
    *,
    desc: str,
) -> tuple[pd.DataFrame, int]:
    """score_with_cache over consecutive chunks, with a progress bar on terminals."""
    from tqdm.auto import tqdm

    frames, n_new = [], 0
    with tqdm(
        total=len(texts), desc=f"scoring {desc}", unit="text", disable=None, leave=False
    ) as bar:
        for start in range(0, max(len(texts), 1), chunk_size):
            chunk = slice(start, start + chunk_size)
            wide, n = score_with_cache(
                item.scorer,
                texts[chunk],
                refs[chunk] if refs is not None else None,
                cache,
                item.config_hash,
            )
            frames.append(wide)
            n_new += n
            bar.update(len(wide))
    return pd.concat(frames, ignore_index=True), n_new


def summarise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per side, scorer and metric: mean, std (ddof=1), n (non-missing) and n_missing."""
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"scores table lacks columns {missing}")
    values = scores["value"].astype(float)
    frame = scores[["side", "scorer", "metric"]].assign(value=values, missing=values.isna())
    grouped = frame.groupby(["side", "scorer", "metric"], sort=True, dropna=False)
    summary = grouped.agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n=("value", "count"),
        n_missing=("missing", "sum"),
    ).reset_index()
    summary["n"] = summary["n"].astype(np.int64)
    summary["n_missing"] = summary["n_missing"].astype(np.int64)
    return summary[list(SUMMARY_COLUMNS)]
