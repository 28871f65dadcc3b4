"""Thin nodes of the profiling pipeline (the science is in :mod:`llm_behavior.profiles`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.profiles import parts, plots, requests, summary
from llm_behavior.profiles.items import empty_items


def _seed(params: dict[str, Any]) -> int:
    return int(params.get("seed", 0))


def _batch(params: dict[str, Any]) -> int:
    return int(params.get("batch_size", 16))


def _format(params: dict[str, Any]) -> str:
    return requests.check_mode(str(params.get("request_format", "spec")))


# the pipeline-wide settings a part may take, read from ``params:profiling``
_SHARED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "seed": _seed,
    "batch_size": _batch,
    "request_format": _format,
}


@dataclass(frozen=True)
class ProfilingPart:
    """One part of a model's profile: ``run(model, params[name], **shared settings)``.

    Its node is ``profile_<name>``; its outputs are the datasets ``profiling_<name>_<output>``
    (``items``: per-item rows for the profile table; ``notes``: summary-only rows).
    """

    name: str
    run: Callable[..., Any]
    outputs: tuple[str, ...]
    shared: tuple[str, ...]  # keys of _SHARED the run takes as keyword arguments
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
        shared = {key: _SHARED[key](params) for key in part.shared}
        return part.run(language_model, params.get(part.name) or {}, **shared)

    profile.__name__ = profile.__qualname__ = f"profile_{part.name}"
    profile.__doc__ = part.doc
    return profile


def model_label(model_params: dict[str, Any] | None) -> str:
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
    if len(tables) != len(ITEM_TABLES) + len(NOTE_TABLES):
        raise ValueError(
            f"assemble_profile takes {len(ITEM_TABLES)} item tables then {len(NOTE_TABLES)} note "
            f"tables ({ITEM_TABLES + NOTE_TABLES}), got {len(tables)}"
        )
    frames = [f for f in tables[: len(ITEM_TABLES)] if len(f)]
    items = pd.concat(frames, ignore_index=True) if frames else empty_items()
    notes_frames = [f for f in tables[len(ITEM_TABLES) :] if len(f)]
    notes = pd.concat(notes_frames, ignore_index=True) if notes_frames else parts.empty_summary()
    boot = params.get("bootstrap") or {}
    table = summary.profile_table(
        items,
        model=model_label(model_params),
        summary_only=notes,
        n_resamples=int(boot.get("n_resamples", 1000)),
        confidence=float(boot.get("confidence", 0.95)),
        seed=_seed(params),
    )
    table = summary.annotate_requests(
        table,
        lambda part, dataset: requests.part_format(language_model, part, dataset, _format(params)),
        requests.weights_fingerprint(language_model),
    )
    return items, notes, table


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
    cfg = params.get("comparison") or {}
    comparison = summary.compare_profiles(
        reference_items,
        candidate_items,
        ref_summary_only=reference_notes,
        cand_summary_only=candidate_notes,
        n_resamples=int(cfg.get("n_resamples", 2000)),
        confidence=float(cfg.get("confidence", 0.95)),
        seed=_seed(params),
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
