"""Thin nodes of the contrastive search pipeline (the science is in ``llm_behavior.divergence``).

The reference model is the *starting* model s, the candidate the *comparison* model c.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_behavior.divergence.decoding import ContrastiveSettings
from llm_behavior.divergence.embeddings import Embedder
from llm_behavior.divergence.headline import search_headline
from llm_behavior.divergence.pair import check_pair
from llm_behavior.divergence.prompt_sets import select_searched_prompts
from llm_behavior.divergence.search import PromptSearch, SearchSettings, score_prompts
from llm_behavior.divergence.summaries import (
    SummarySettings,
    assign_split,
    decode_both_models,
    summarise_divergence,
)
from llm_behavior.jsonable import to_jsonable
from llm_behavior.models import GenerationSettings, LanguageModel
from llm_behavior.report.divergence_page import divergence_html
from llm_behavior.schemas import PAIR_SIDES


def _decoding(params: dict[str, Any]) -> ContrastiveSettings:
    return ContrastiveSettings.from_dict(params.get("decoding"))


def seed_prompt_sample(prompts: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of the bundled prompts: the search's seeds and its baseline."""
    if prompts.empty or "prompt" not in prompts.columns:
        raise ValueError("contrastive_search needs the `prompts` table (columns prompt_id, prompt); it is empty")
    if n is None or n >= len(prompts):
        return prompts.reset_index(drop=True)
    return prompts.sample(n=int(n), random_state=int(seed)).reset_index(drop=True)


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
    search_params = dict(params.get("search") or {})
    checkpoint = search_params.pop("checkpoint", None)
    resume = bool(search_params.pop("resume", True))
    seeds = seed_prompt_sample(prompts, params.get("seed_prompts", {}).get("n"), params.get("seed_prompts", {}).get("seed", 0))
    assistant_params = params.get("assistant") or {}
    search = PromptSearch(
        reference,
        candidate,
        assistant,
        embed=embedder,
        settings=SearchSettings.from_dict(search_params),
        decoding=_decoding(params),
        assistant_generation=GenerationSettings.from_dict(assistant_params.get("generation")),
        checkpoint=checkpoint,
    )
    result = search.run(seeds["prompt"].tolist(), seeds["prompt_id"].astype(str).tolist(), resume=resume)
    return result.records, result.cycles


def choose_searched_prompts(
    reference: LanguageModel, candidate: LanguageModel, records: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The top prompts with a search/heldout split, re-scored on fresh generations (other seeds)."""
    sel = dict(params.get("selection") or {})
    fresh_k = int(sel.pop("fresh_generations", 0))
    chosen = select_searched_prompts(records, **sel)
    direction = (params.get("search") or {}).get("direction", "forward")
    if fresh_k:
        decoding = ContrastiveSettings.from_dict({**(params.get("decoding") or {}), "num_samples": fresh_k})
        scores = score_prompts(reference, candidate, chosen["prompt"].tolist(), decoding, direction=direction, seed="fresh")
        chosen["divergence_fresh"] = [s["divergence"] for s in scores]
        chosen["divergence_fresh_reverse"] = [s["divergence_reverse"] for s in scores]
    return chosen


DECODE_KEYS = ("max_prompts", "samples_per_prompt")  # summaries keys read by decode_search_split


def _direction(params: dict[str, Any]) -> str:
    return (params.get("search") or {}).get("direction", "forward")


def _summary_settings(params: dict[str, Any]) -> SummarySettings:
    p = {k: v for k, v in (params.get("summaries") or {}).items() if k not in DECODE_KEYS}
    return SummarySettings.from_dict(p)


def decode_search_split(
    reference: LanguageModel, candidate: LanguageModel, searched: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Both models' texts (per-token divergences kept) on the top ``search``-split prompts.

    ``divergence`` follows ``search.direction``; ``split`` holds out a share of the prompts
    (``summaries.validation_fraction``) whose texts only validate the summaries' labels.
    """
    p = params.get("summaries") or {}
    settings = _summary_settings(params)
    top = searched[searched["split"] == "search"].sort_values("divergence", ascending=False)
    top = top.head(int(p.get("max_prompts", 10)))
    texts = decode_both_models(
        reference,
        candidate,
        top["prompt"].tolist(),
        top["prompt_id"].astype(str).tolist(),
        _decoding(params),
        samples_per_prompt=int(p.get("samples_per_prompt", 10)),
        seed=settings.seed,
        side_names=PAIR_SIDES,
        direction=_direction(params),
    )
    return assign_split(texts, settings.validation_fraction, settings.seed)


def summarise_clusters(
    texts: pd.DataFrame, params: dict[str, Any], embedder: Embedder, assistant: LanguageModel
) -> dict[str, Any]:
    """Each model's texts clustered, clusters matched, contrasts labelled and validated on held-out texts."""
    settings = _summary_settings(params)
    summary = summarise_divergence(
        texts,
        embedder,
        settings,
        assistant=assistant if settings.label_contrasts else None,
        sides=PAIR_SIDES,
        direction=_direction(params),
    )
    return to_jsonable(summary)


def render_token_view(texts: pd.DataFrame, params: dict[str, Any]) -> str:
    """The colour-coded HTML view of the most divergent texts (``token_view.direction``, else the search's)."""
    view = params.get("token_view") or {}
    return divergence_html(
        texts,
        title="Where the reference and candidate models diverge (per-token KL)",
        max_texts=int(view.get("max_texts", 40)),
        direction=view.get("direction") or _direction(params),
    )


def summarise_search(
    records: pd.DataFrame, cycles: pd.DataFrame, searched: pd.DataFrame, clusters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The search's headline figures (``divergence.headline.search_headline``)."""
    return search_headline(records, cycles, searched, clusters)
