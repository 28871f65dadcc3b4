"""Contrastive search pipeline: prompts + the model
pair -> searched prompt set, texts, clusters, views.

reference.language_model, candidate.language_model,
assistant.language_model, search.embedder, prompts
  (the models added from parameters by llm_behavior.hooks.ModelDatasetsHook)
  -> run_prompt_search        -> prompt_search_bank, prompt_search_cycles   (resumable per cycle)
  -> choose_searched_prompts  -> searched_prompts (search / heldout split, fresh re-scores)
  -> decode_search_split      -> contrastive_texts (both models, per-token KL kept, discovery /
  validation split) -> summarise_clusters       -> divergence_clusters (matched clusters, labels
  validated on held-out texts) -> render_token_view        -> divergence_token_view (HTML) ->
  summarise_search         -> prompt_search_summary
"""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline

from llm_behavior.pipelines.contrastive_search.nodes import (
    choose_searched_prompts,
    decode_search_split,
    render_token_view,
    run_prompt_search,
    summarise_clusters,
    summarise_search,
)

MODELS = ["reference.language_model", "candidate.language_model"]
# contrastive_search.assistant.model (a pair model when the same)
ASSISTANT = "assistant.language_model"
EMBEDDER = "search.embedder"  # contrastive_search.embedding_model


def create_pipeline(**kwargs: Any) -> Pipeline:
    return Pipeline(
        [
            Node(
                run_prompt_search,
                [*MODELS, ASSISTANT, EMBEDDER, "prompts", "params:contrastive_search"],
                ["prompt_search_bank", "prompt_search_cycles"],
                name="run_prompt_search",
            ),
            Node(
                choose_searched_prompts,
                [*MODELS, "prompt_search_bank", "params:contrastive_search"],
                "searched_prompts",
                name="choose_searched_prompts",
            ),
            Node(
                decode_search_split,
                [*MODELS, "searched_prompts", "params:contrastive_search"],
                "contrastive_texts",
                name="decode_search_split",
            ),
            Node(
                summarise_clusters,
                ["contrastive_texts", "params:contrastive_search", EMBEDDER, ASSISTANT],
                "divergence_clusters",
                name="summarise_clusters",
            ),
            Node(
                render_token_view,
                ["contrastive_texts", "params:contrastive_search"],
                "divergence_token_view",
                name="render_token_view",
            ),
            Node(
                summarise_search,
                [
                    "prompt_search_bank",
                    "prompt_search_cycles",
                    "searched_prompts",
                    "divergence_clusters",
                ],
                "prompt_search_summary",
                name="summarise_search",
            ),
        ],
        tags=["contrastive_search"],
    )
