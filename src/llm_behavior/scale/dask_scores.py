"""Large generation and score sets on Dask: score partitions in parallel, reduce on the cluster.

The work that grows with the data (scoring every text, summarising every score, selecting the
audited behaviours' scores out of all metrics) runs on Dask's scheduler: local threads by default,
a ``distributed`` cluster when one is configured (``llm_behavior.hooks.DaskClientHook``). The
sequential test itself is inherently ordered and O(n) in numpy; it runs on the reduced table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.schemas import SCORE_COLUMNS
from llm_behavior.scoring.run import SUMMARY_COLUMNS, BuiltScorer, build_scorers, score_tables

# Explicit dtypes: Dask writes parquet from its ``meta``, and object columns have no Arrow type.
SCORE_DTYPES: dict[str, Any] = {c: "str" for c in SCORE_COLUMNS} | {
    "sample": np.int64,
    "value": float,
}


def empty_scores() -> pd.DataFrame:
    """A scores table with no rows and the schema's dtypes (Dask's ``meta``)."""
    return pd.DataFrame({c: pd.Series(dtype=SCORE_DTYPES[c]) for c in SCORE_COLUMNS})


@lru_cache(maxsize=8)
def _scorers(specs_json: str) -> list[BuiltScorer]:
    """Scorers built once per worker process (models load once, not once per partition)."""
    return build_scorers(json.loads(specs_json))


def score_partition(
    part: pd.DataFrame, specs_json: str, reference_column: str = "reference", chunk_size: int = 512
) -> pd.DataFrame:
    """The long scores of one partition of stacked generations (a ``side`` column per row)."""
    if part.empty:
        return empty_scores()
    if "side" not in part.columns:
        raise ValueError("generations for distributed scoring need a 'side' column")
    tables = {
        str(side): rows.drop(columns="side") for side, rows in part.groupby("side", sort=True)
    }
    scores = score_tables(
        tables,
        _scorers(specs_json),
        cache_path=None,
        reference_column=reference_column,
        chunk_size=chunk_size,
    )
    return scores.astype(SCORE_DTYPES)


def score_generations_dask(
    generations: Any,
    specs: Sequence[Mapping[str, Any]],
    reference_column: str = "reference",
    chunk_size: int = 512,
) -> Any:
    """Lazy Dask scores table: each partition of ``generations`` scored where it lives."""
    specs_json = json.dumps(list(specs), sort_keys=True, default=str)
    _scorers(specs_json)  # fail here, on the client, on an unknown scorer or bad parameter
    return generations.map_partitions(
        score_partition, specs_json, reference_column, chunk_size, meta=empty_scores()
    )


def summarise_scores_dask(scores: Any) -> pd.DataFrame:
    """Per side, scorer and metric: mean, std (ddof=1), n and n_missing, computed on Dask.

    Same table as :func:`llm_behavior.scoring.run.summarise_scores` on the concatenated data.
    """
    frame = scores[["side", "scorer", "metric", "value"]].assign(
        missing=scores["value"].isna().astype("int64")
    )
    grouped = frame.groupby(["side", "scorer", "metric"], dropna=False)
    summary = grouped.agg({"value": ["mean", "std", "count"], "missing": "sum"}).compute()
    summary.columns = ["mean", "std", "n", "n_missing"]
    summary = (
        summary.reset_index()
        .sort_values(["side", "scorer", "metric"], kind="stable")
        .reset_index(drop=True)
    )
    summary["n"] = summary["n"].astype(np.int64)
    summary["n_missing"] = summary["n_missing"].astype(np.int64)
    return summary[list(SUMMARY_COLUMNS)]


def select_behaviour_scores(
    scores: Any, behaviours: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """The rows of the audited behaviours' metrics (and scorers where named), computed on Dask.

    This is the reduction before the audit: of every metric of every scorer, only those the audit
    reads leave the cluster, as a pandas long table with the scores schema.
    """
    if not behaviours:
        raise ValueError("no behaviours to audit")
    keep = None
    for name, b in behaviours.items():
        if "metric" not in b:
            raise ValueError(f"behaviour {name!r} has no metric")
        cond = scores["metric"] == b["metric"]
        if b.get("scorer"):
            cond = cond & (scores["scorer"] == b["scorer"])
        keep = cond if keep is None else keep | cond
    selected = scores[keep].compute()
    return selected[list(SCORE_COLUMNS)].reset_index(drop=True)
