"""Reporting pipeline definition."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.reporting.nodes import (
    gather_optional_outputs,
    render_report,
    score_token_divergence,
    select_divergent_texts,
    tracking_metrics,
)
from llm_behavior.report.build import OPTIONAL_NAMES


def create_pipeline(**kwargs: Any) -> Pipeline:
    """scores + generations + audit -> divergent texts with per-token log-ratios -> ``run_report``
    (HTML, logged as a tracking artifact) and ``audit_metrics``. The optional pipelines' outputs
    (``report.build.OPTIONAL_INPUTS``) are inputs by
    their catalog names: absent ones load as None."""
    return Pipeline(
        [
            Node(
                gather_optional_outputs,
                inputs=list(OPTIONAL_NAMES),
                outputs="report_artifacts",
                name="gather_optional_outputs",
            ),
            Node(
                select_divergent_texts,
                inputs=[
                    "scores",
                    "reference.generations",
                    "candidate.generations",
                    "params:reporting",
                    "params:auditing",
                ],
                outputs="report_divergent_texts",
                name="select_divergent_texts",
            ),
            Node(
                score_token_divergence,
                inputs=[
                    "report_divergent_texts",
                    "reference.language_model",
                    "candidate.language_model",
                    "params:reporting",
                ],
                outputs="report_token_divergence",
                name="score_token_divergence",
            ),
            Node(
                render_report,
                inputs={
                    "generation_summary": "generation_summary",
                    "audit_result": "audit_result",
                    "score_summary": "score_summary",
                    "divergent": "report_token_divergence",
                    "wealth_png": "audit_wealth_plot",
                    "distributions_png": "audit_distributions_plot",
                    "artifacts": "report_artifacts",
                    "run_version": "run_version",
                    "params": "params:reporting",
                    "reference": "params:reference",
                    "candidate": "params:candidate",
                    "replicate": "params:replicate",
                    "auditing": "params:auditing",
                },
                outputs="run_report",
                name="render_report",
            ),
            Node(
                tracking_metrics,
                inputs="audit_result",
                outputs="audit_metrics",
                name="audit_metrics",
            ),
        ],
        tags=["reporting"],
    )
