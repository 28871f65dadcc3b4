"""Generation: prompts -> continuations of each side's model (reference, candidate, replicate).

One template pipeline, instantiated per side by namespace (``reference.generations`` ...). Each
node reads the reference's and its own side's parameters; ``llm_behavior.sides.side_spec`` makes
the side's spec from them (the replicate: the reference's model with its own seed offset).
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.generation.nodes import (
    generate_side,
    select_prompts,
    summarise_generations,
)
from llm_behavior.schemas import SIDES


def side_template(side: str) -> Pipeline:
    func = update_wrapper(partial(generate_side, side=side), generate_side)
    return Pipeline(
        [
            Node(
                func,
                inputs=[
                    "language_model",
                    "prompts",
                    "generation_cache",
                    "params:reference",
                    "params:side",
                    "params:generation_options",
                ],
                outputs="generations",
                name="generate_continuations",
                tags=["generation"],
            )
        ]
    )


def side_pipeline(side: str) -> Pipeline:
    parameters = {
        "params:generation_options": "params:generation_options",
        "params:reference": "params:reference",
        "params:side": f"params:{side}",
    }
    return Pipeline(
        side_template(side),
        namespace=side,
        inputs={"prompts", "generation_cache"},
        parameters=parameters,
        tags=[side],
    )


def create_pipeline(**kwargs) -> Pipeline:
    prompts = Pipeline(
        [
            Node(
                select_prompts,
                "params:prompts",
                "prompts",
                name="select_prompts",
                tags=["generation"],
            )
        ]
    )
    sides = sum((side_pipeline(s) for s in SIDES), Pipeline([]))
    summary = Pipeline(
        [
            Node(
                summarise_generations,
                [f"{s}.generations" for s in SIDES],
                "generation_summary",
                name="summarise_generations",
                tags=["generation"],
            )
        ]
    )
    return prompts + sides + summary
