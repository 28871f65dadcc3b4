"""Thin nodes over llm_behavior.scale.dask_scores."""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_behavior.scale.dask_scores import (
    score_generations_dask,
    select_behaviour_scores,
    summarise_scores_dask,
)


def score_partitions(generations: Any, params: dict[str, Any]) -> Any:
    """Lazy Dask scores of every partition of the stacked generations (computed when saved)."""
    return score_generations_dask(
        generations,
        params["scorers"],
        reference_column=params.get("reference_column", "reference"),
        chunk_size=int(params.get("chunk_size", 512)),
    )


def summarise_partitions(scores: Any) -> pd.DataFrame:
    """Per side/scorer/metric summary, reduced on Dask."""
    return summarise_scores_dask(scores)


def behaviour_scores(scores: Any, auditing: dict[str, Any]) -> pd.DataFrame:
    """Only the audited behaviours' rows (pandas), selected on Dask."""
    return select_behaviour_scores(scores, auditing["behaviours"])
