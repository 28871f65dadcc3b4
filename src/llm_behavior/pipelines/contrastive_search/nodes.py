"""Thin nodes of the contrastive search pipeline (the science is in ``llm_behavior.divergence``).

The reference model is the *starting* model s, the candidate the *comparison* model c. Each node
reads ``params:contrastive_search`` as
:class:`~llm_behavior.divergence.settings.ContrastiveSearchSettings` (unknown or missing keys are
errors); the assistant and the embedder are catalog datasets.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_behavior.divergence.embeddings import Embedder
from llm_behavior.divergence.headline import search_headline
from llm_behavior.divergence.pair import check_pair
from llm_behavior.divergence.prompt_sets import (
    seed_prompt_sample,
    select_searched_prompts,
    top_search_prompts,
)
from llm_behavior.divergence.search import PromptSearch, fresh_divergences
from llm_behavior.divergence.settings import ContrastiveSearchSettings
from llm_behavior.divergence.summaries import assign_split, decode_both_models, summarise_divergence
from llm_behavior.jsonable import to_jsonable
from llm_behavior.models import LanguageModel
from llm_behavior.report.divergence_page import divergence_html
from llm_behavior.schemas import PAIR_SIDES


def run_prompt_search(  # noqa: PLR0917 (Kedro passes node inputs by position)
    reference: LanguageModel,
    candidate: LanguageModel,
    assistant: LanguageModel,
    embedder: Embedder,
    prompts: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All searched prompts with divergence and status, and the per-cycle log (resumable)."""
    check_pair(reference, candidate)
    s = ContrastiveSearchSettings.from_dict(params)
    seeds = seed_prompt_sample(prompts, s.seed_prompts.n, s.seed_prompts.seed)
    search = PromptSearch(
        reference,
        candidate,
        assistant,
        embed=embedder,
        settings=s.search,
        decoding=s.decoding,
        assistant_generation=s.assistant_generation,
        checkpoint=s.checkpoint,
    )
    result = search.run(
        seeds["prompt"].tolist(), seeds["prompt_id"].astype(str).tolist(), resume=s.resume
    )
    return result.records, result.cycles


def choose_searched_prompts(
    reference: LanguageModel,
    candidate: LanguageModel,
    records: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """The top prompts with a search/heldout split, re-scored on fresh generations (other seeds)."""
    s = ContrastiveSearchSettings.from_dict(params)
    chosen = select_searched_prompts(records, **s.selection.select_kwargs())
    if not s.selection.fresh_generations:
        return chosen
    n = s.selection.fresh_generations
    return fresh_divergences(reference, candidate, chosen, s.decoding, n, direction=s.direction)


def decode_search_split(
    reference: LanguageModel,
    candidate: LanguageModel,
    searched: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """Both models' texts (per-token divergences kept) on the top ``search``-split prompts.

    ``divergence`` follows ``search.direction``; ``split`` holds out a share of the prompts
    (``summaries.validation_fraction``) whose texts only validate the summaries' labels.
    """
    s = ContrastiveSearchSettings.from_dict(params)
    top = top_search_prompts(searched, s.max_prompts)
    texts = decode_both_models(
        reference,
        candidate,
        top["prompt"].tolist(),
        top["prompt_id"].astype(str).tolist(),
        s.decoding,
        samples_per_prompt=s.samples_per_prompt,
        seed=s.summaries.seed,
        side_names=PAIR_SIDES,
        direction=s.direction,
    )
    return assign_split(texts, s.summaries.validation_fraction, s.summaries.seed)


def summarise_clusters(
    texts: pd.DataFrame, params: dict[str, Any], embedder: Embedder, assistant: LanguageModel
) -> dict[str, Any]:
    """Each model's texts clustered, clusters matched,
    contrasts labelled and validated on held-out texts."""
    s = ContrastiveSearchSettings.from_dict(params)
    summary = summarise_divergence(
        texts,
        embedder,
        s.summaries,
        assistant=assistant if s.summaries.label_contrasts else None,
        sides=PAIR_SIDES,
        direction=s.direction,
    )
    return to_jsonable(summary)


def render_token_view(texts: pd.DataFrame, params: dict[str, Any]) -> str:
    """The colour-coded HTML view of the most divergent
    texts (``token_view.direction``, else the search's)."""
    s = ContrastiveSearchSettings.from_dict(params)
    return divergence_html(
        texts,
        title="Where the reference and candidate models diverge (per-token KL)",
        max_texts=s.token_view.max_texts,
        direction=s.token_view.direction or s.direction,
    )


def summarise_search(
    records: pd.DataFrame,
    cycles: pd.DataFrame,
    searched: pd.DataFrame,
    clusters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The search's headline figures (``divergence.headline.search_headline``)."""
    return search_headline(records, cycles, searched, clusters)
