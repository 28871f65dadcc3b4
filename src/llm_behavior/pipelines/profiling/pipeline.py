"""Profiling: a per-model profile (one template pipeline per side) + the side-by-side comparison.

Per side (namespace ``reference`` / ``candidate``), one node per part of the registry
``nodes.PARTS`` (a new part is one entry there plus its datasets in ``catalog_profiling.yml``),
each persisted, so a part can be re-run alone
(``kedro run --pipelines profiling --nodes reference.profile_bias,...``); a part disabled in
``parameters_profiling.yml`` returns empty tables at once. Then ``assemble_profile`` writes the
side's profile table, and ``compare_profiles`` / ``plot_profiles`` put the two sides together.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.profiling import nodes
from llm_behavior.schemas import PAIR_SIDES


def side_template() -> Pipeline:
    """One node per entry of ``nodes.PARTS``, then ``assemble_profile`` over their tables."""
    model, params = "language_model", "params:profiling"
    tags = ["profiling"]
    part_nodes = [
        Node(
            nodes.part_node(part),
            [model, params],
            part.datasets() if len(part.outputs) > 1 else part.datasets()[0],
            name=f"profile_{part.name}",
            tags=tags,
        )
        for part in nodes.PARTS
    ]
    assemble = Node(
        nodes.assemble_profile,
        [model, "params:model", params, *nodes.ITEM_TABLES, *nodes.NOTE_TABLES],
        ["profiling_items", "profiling_summary_only", "profile_table"],
        name="assemble_profile",
        tags=tags,
    )
    return Pipeline([*part_nodes, assemble])


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
