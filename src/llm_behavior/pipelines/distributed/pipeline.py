"""Distributed pipeline definition."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.auditing import create_pipeline as create_auditing_pipeline
from llm_behavior.pipelines.distributed.nodes import (
    behaviour_scores,
    score_partitions,
    summarise_partitions,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    """generations (Dask, partitioned parquet) -> ``scores_partitioned`` -> summary, and the audited
    behaviours' scores -> the auditing pipeline's nodes (unchanged) -> ``audit_result``.

    For a score set made elsewhere: ``kedro run --pipelines
    distributed --from-inputs scores_partitioned``.
    """
    dask_nodes = Pipeline(
        [
            Node(
                score_partitions,
                inputs=["generations_partitioned", "params:scoring"],
                outputs="scores_partitioned",
                name="score_partitions",
            ),
            Node(
                summarise_partitions,
                inputs="scores_partitioned",
                outputs="score_summary",
                name="summarise_partitions",
            ),
            Node(
                behaviour_scores,
                inputs=["scores_partitioned", "params:auditing"],
                outputs="behaviour_scores",
                name="select_behaviour_scores",
            ),
        ]
    )
    audit = Pipeline(create_auditing_pipeline(), inputs={"scores": "behaviour_scores"})
    return Pipeline([dask_nodes, audit], tags=["distributed"])
