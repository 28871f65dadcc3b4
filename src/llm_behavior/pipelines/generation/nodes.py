"""Thin nodes of the generation pipeline."""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_behavior.chunks import ChunkStore
from llm_behavior.generation import formatting_report, generate_continuations
from llm_behavior.models.base import LanguageModel
from llm_behavior.models.spec import GenerationSettings
from llm_behavior.prompts import load_prompt_set
from llm_behavior.sides import side_spec


def select_prompts(prompt_params: dict[str, Any]) -> pd.DataFrame:
    """The run's prompt table (bundled set or user file; seeded subset)."""
    return load_prompt_set(
        prompt_params["source"],
        n_prompts=prompt_params.get("n_prompts"),
        seed=int(prompt_params.get("seed", 0)),
        split=prompt_params.get("split"),
    )


def generate_side(  # noqa: PLR0917 (Kedro passes node inputs by position)
    language_model: LanguageModel,
    prompts: pd.DataFrame,
    generation_cache: ChunkStore,
    reference_params: dict[str, Any],
    side_params: dict[str, Any],
    generation_options: dict[str, Any],
    *,
    side: str,
) -> pd.DataFrame:
    """Continuations of one side's model (resumable; cached by content hash).

    Decoding settings are the ``generation`` of :func:`llm_behavior.sides.side_spec` (the side's
    model, the replicate's the reference's, with the side's ``seed_offset`` added to the seed).
    """
    spec = side_spec({"reference": reference_params, side: side_params}, side)
    return generate_continuations(
        language_model,
        prompts,
        side=side,
        store=generation_cache,
        settings=GenerationSettings.from_dict(spec["generation"]),
        chunk_prompts=int(generation_options.get("chunk_prompts", 64)),
    )


def summarise_generations(*tables: pd.DataFrame) -> dict[str, Any]:
    """Per-side summary and formatting flags (e.g. chat template on one side only)."""
    return formatting_report({str(t["side"].iloc[0]): t for t in tables if len(t)})
