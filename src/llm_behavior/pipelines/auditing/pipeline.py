"""Auditing pipeline definition."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.auditing.nodes import (
    audit_folds,
    audit_report,
    audit_shift,
    pair_scores,
    plot_distributions,
    plot_wealth,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    """scores -> paired behaviour scores -> sequential audit (+ A/A, noise floor) and fold runs
    -> ``audit_result`` (JSON) + wealth and distribution plots."""
    return Pipeline(
        [
            Node(
                pair_scores,
                inputs=["scores", "params:auditing"],
                outputs=["audit_pairs", "audit_pairing"],
                name="pair_behaviour_scores",
            ),
            Node(
                audit_shift,
                inputs=["audit_pairs", "audit_pairing", "params:auditing"],
                outputs="audit_state",
                name="audit_shift",
            ),
            Node(
                audit_folds,
                inputs=["audit_pairs", "audit_pairing", "audit_state", "params:auditing"],
                outputs="audit_fold_results",
                name="audit_folds",
            ),
            Node(
                audit_report,
                inputs=["audit_state", "audit_fold_results"],
                outputs="audit_result",
                name="audit_report",
            ),
            Node(
                plot_wealth,
                inputs="audit_state",
                outputs="audit_wealth_plot",
                name="plot_audit_wealth",
            ),
            Node(
                plot_distributions,
                inputs=["audit_pairs", "audit_pairing"],
                outputs="audit_distributions_plot",
                name="plot_score_distributions",
            ),
        ],
        tags=["auditing"],
    )
