"""Profiling: a per-model profile (one template pipeline per side) + the side-by-side comparison.

Per side (namespace ``reference`` / ``candidate``), one node per part, each persisted, so a part
can be re-run alone (``kedro run --pipeline profiling --nodes reference.profile_bias,...``); a
part disabled in ``parameters_profiling.yml`` returns empty tables at once. Then
``assemble_profile`` writes the side's profile table, and ``compare_profiles`` / ``plot_profiles``
put the two sides together.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.profiling import nodes
from llm_behavior.schemas import PAIR_SIDES

PARTS = ("toxicity", "text", "bias", "calibration", "next_token", "diversity", "utility")


def side_template() -> Pipeline:
    model, params = "language_model", "params:profiling"
    tags = ["profiling"]
    return Pipeline(
        [
            Node(
                nodes.profile_toxicity,
                [model, params],
                [
                    "profiling_toxicity_generations",
                    "profiling_toxicity_items",
                    "profiling_toxicity_notes",
                ],
                name="profile_toxicity",
                tags=tags,
            ),
            Node(
                nodes.profile_text,
                [model, params],
                ["profiling_text_generations", "profiling_text_items"],
                name="profile_text",
                tags=tags,
            ),
            Node(
                nodes.profile_bias,
                [model, params],
                ["profiling_bias_items", "profiling_bias_notes"],
                name="profile_bias",
                tags=tags,
            ),
            Node(
                nodes.profile_calibration,
                [model, params],
                "profiling_calibration_items",
                name="profile_calibration",
                tags=tags,
            ),
            Node(
                nodes.profile_next_token,
                [model, params],
                ["profiling_next_token_items", "profiling_next_token_notes"],
                name="profile_next_token",
                tags=tags,
            ),
            Node(
                nodes.profile_diversity,
                [model, params],
                ["profiling_diversity_generations", "profiling_diversity_items"],
                name="profile_diversity",
                tags=tags,
            ),
            Node(
                nodes.profile_utility,
                [model, params],
                "profiling_utility_notes",
                name="profile_utility",
                tags=tags,
            ),
            Node(
                nodes.assemble_profile,
                [
                    model,
                    "params:model",
                    params,
                    "profiling_toxicity_items",
                    "profiling_text_items",
                    "profiling_bias_items",
                    "profiling_calibration_items",
                    "profiling_next_token_items",
                    "profiling_diversity_items",
                    "profiling_toxicity_notes",
                    "profiling_bias_notes",
                    "profiling_next_token_notes",
                    "profiling_utility_notes",
                ],
                ["profiling_items", "profiling_summary_only", "profile_table"],
                name="assemble_profile",
                tags=tags,
            ),
        ]
    )


def side_pipeline(side: str) -> Pipeline:
    return Pipeline(
        side_template(),
        namespace=side,
        parameters={"params:profiling": "params:profiling"},
        tags=[side],
    )


def create_pipeline(**kwargs) -> Pipeline:
    sides = sum((side_pipeline(s) for s in PAIR_SIDES), Pipeline([]))
    ref, cand = PAIR_SIDES
    joint = Pipeline(
        [
            Node(
                nodes.compare_sides,
                [
                    f"{ref}.profiling_items",
                    f"{cand}.profiling_items",
                    f"{ref}.profiling_summary_only",
                    f"{cand}.profiling_summary_only",
                    f"{ref}.profile_table",
                    f"{cand}.profile_table",
                    "params:profiling",
                ],
                "profile_comparison",
                name="compare_profiles",
                tags=["profiling"],
            ),
            Node(
                nodes.plot_profiles,
                [
                    f"{ref}.profiling_items",
                    f"{cand}.profiling_items",
                    f"{ref}.profile_table",
                    f"{cand}.profile_table",
                    f"params:{ref}.model",
                    f"params:{cand}.model",
                ],
                ["profile_reliability_diagram", "profile_diversity_plot", "profile_bias_plot"],
                name="plot_profiles",
                tags=["profiling"],
            ),
        ]
    )
    return sides + joint
