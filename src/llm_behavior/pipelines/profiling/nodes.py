"""Thin nodes of the profiling pipeline (the science is in :mod:`llm_behavior.profiles`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.profiles import assemble, parts, plots, summary
from llm_behavior.profiles.settings import ProfilingSettings


@dataclass(frozen=True)
class ProfilingPart:
    """One part of a model's profile: ``run(model, params[name], **shared settings)``.

    Its node is ``profile_<name>``; its outputs are the datasets ``profiling_<name>_<output>``
    (``items``: per-item rows for the profile table; ``notes``: summary-only rows).
    """

    name: str
    run: Callable[..., Any]
    outputs: tuple[str, ...]
    shared: tuple[str, ...]  # pipeline-wide settings (settings.SHARED_KEYS) it takes as keywords
    doc: str

    def datasets(self) -> list[str]:
        return [f"profiling_{self.name}_{out}" for out in self.outputs]


PARTS: tuple[ProfilingPart, ...] = (
    ProfilingPart(
        "toxicity",
        parts.run_toxicity,
        ("generations", "items", "notes"),
        ("seed",),
        "k samples per toxic prompt -> generations (with scores), per-prompt items, counts.",
    ),
    ProfilingPart(
        "text",
        parts.run_text,
        ("generations", "items"),
        ("seed",),
        "Greedy generations on benign prompts -> generations, text-characteristics items.",
    ),
    ProfilingPart(
        "bias",
        parts.run_bias,
        ("items", "notes"),
        ("seed", "batch_size", "request_format"),
        "CrowS-Pairs / StereoSet / BBQ items and SEAT rows.",
    ),
    ProfilingPart(
        "calibration",
        parts.run_calibration,
        ("items",),
        ("seed", "batch_size", "request_format"),
        "Multiple-choice items: correct, confidence, Brier.",
    ),
    ProfilingPart(
        "next_token",
        parts.run_next_token,
        ("items", "notes"),
        ("request_format",),
        "Next-token entropy / top-1 / perplexity per reference window, vocabulary fractions.",
    ),
    ProfilingPart(
        "diversity",
        parts.run_diversity,
        ("generations", "items"),
        ("seed",),
        "Samples per (prompt, temperature) -> generations, diversity items.",
    ),
    ProfilingPart(
        "utility",
        parts.run_utility_part,
        ("notes",),
        ("seed", "batch_size"),
        "lm-eval results (optional extra).",
    ),
)

# assemble_profile's inputs after (model, model params, params): these items, then these notes
ITEM_TABLES = [f"profiling_{p.name}_items" for p in PARTS if "items" in p.outputs]
NOTE_TABLES = [f"profiling_{p.name}_notes" for p in PARTS if "notes" in p.outputs]


def part_node(part: ProfilingPart) -> Callable[[LanguageModel, dict[str, Any]], Any]:
    """The node function ``profile_<part>``: the part's settings and the shared ones it takes."""

    def profile(language_model: LanguageModel, params: dict[str, Any]) -> Any:
        settings = ProfilingSettings.from_dict(params)
        return part.run(language_model, settings.part(part.name), **settings.shared(part.shared))

    profile.__name__ = profile.__qualname__ = f"profile_{part.name}"
    profile.__doc__ = part.doc
    return profile


def model_label(model_params: dict[str, Any] | None) -> str:
    """The side's name in tables and figures: the model's ``name``, else its ``source``."""
    model_params = model_params or {}
    return str(model_params.get("name") or model_params.get("source") or "model")


def assemble_profile(
    language_model: LanguageModel,
    model_params: dict[str, Any],
    params: dict[str, Any],
    *tables: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The parts' items (``ITEM_TABLES``) then summary-only rows (``NOTE_TABLES``) -> (items,
    summary-only rows, the model's profile table, each row with its request format and the
    side's weights fingerprint)."""
    item_tables, note_tables = assemble.split_tables(tables, ITEM_TABLES, NOTE_TABLES)
    settings = ProfilingSettings.from_dict(params)
    label = model_label(model_params)
    return assemble.side_profile(language_model, label, settings, item_tables, note_tables)


def compare_sides(  # noqa: PLR0917
    reference_items: pd.DataFrame,
    candidate_items: pd.DataFrame,
    reference_notes: pd.DataFrame,
    candidate_notes: pd.DataFrame,
    reference_table: pd.DataFrame,
    candidate_table: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """Candidate - reference on the same items, paired tests and CIs; rows whose two sides sent
    identical requests to identical weights flagged (``identical_requests``)."""
    settings = ProfilingSettings.from_dict(params)
    comparison = summary.compare_profiles(
        reference_items,
        candidate_items,
        ref_summary_only=reference_notes,
        cand_summary_only=candidate_notes,
        n_resamples=settings.comparison.n_resamples,
        confidence=settings.comparison.confidence,
        seed=settings.seed,
    )
    return summary.flag_identical_requests(comparison, reference_table, candidate_table)


def plot_profiles(  # noqa: PLR0917
    reference_items: pd.DataFrame,
    candidate_items: pd.DataFrame,
    reference_table: pd.DataFrame,
    candidate_table: pd.DataFrame,
    reference_model: dict[str, Any],
    candidate_model: dict[str, Any],
) -> tuple[Any, Any, Any]:
    """Reliability diagram, diversity vs temperature, bias scores: both models on each figure."""
    ref, cand = (
        f"reference: {model_label(reference_model)}",
        f"candidate: {model_label(candidate_model)}",
    )
    items = {ref: reference_items, cand: candidate_items}
    return (
        plots.reliability_diagram(items),
        plots.diversity_vs_temperature(items),
        plots.bias_scores({ref: reference_table, cand: candidate_table}),
    )
