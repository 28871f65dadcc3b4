"""Thin nodes of the profiling pipeline (the science is in :mod:`llm_behavior.profiles`)."""

from __future__ import annotations

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


def profile_toxicity(
    language_model: LanguageModel, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """k samples per toxic prompt -> generations (with scores), per-prompt items, counts."""
    return parts.run_toxicity(language_model, params.get("toxicity") or {}, seed=_seed(params))


def profile_text(
    language_model: LanguageModel, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Greedy generations on benign prompts -> generations, text-characteristics items."""
    return parts.run_text(language_model, params.get("text") or {}, seed=_seed(params))


def profile_bias(
    language_model: LanguageModel, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CrowS-Pairs / StereoSet / BBQ items and SEAT rows."""
    return parts.run_bias(
        language_model,
        params.get("bias") or {},
        seed=_seed(params),
        batch_size=_batch(params),
        request_format=_format(params),
    )


def profile_calibration(language_model: LanguageModel, params: dict[str, Any]) -> pd.DataFrame:
    """Multiple-choice items: correct, confidence, Brier."""
    return parts.run_calibration(
        language_model,
        params.get("calibration") or {},
        seed=_seed(params),
        batch_size=_batch(params),
        request_format=_format(params),
    )


def profile_next_token(
    language_model: LanguageModel, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Next-token entropy / top-1 / perplexity per reference window, vocabulary fractions."""
    return parts.run_next_token(
        language_model, params.get("next_token") or {}, request_format=_format(params)
    )


def profile_diversity(
    language_model: LanguageModel, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Samples per (prompt, temperature) -> generations, diversity items."""
    return parts.run_diversity(language_model, params.get("diversity") or {}, seed=_seed(params))


def profile_utility(language_model: LanguageModel, params: dict[str, Any]) -> pd.DataFrame:
    """lm-eval results (optional extra)."""
    return parts.run_utility_part(
        language_model, params.get("utility") or {}, seed=_seed(params), batch_size=_batch(params)
    )


def model_label(model_params: dict[str, Any] | None) -> str:
    model_params = model_params or {}
    return str(model_params.get("name") or model_params.get("source") or "model")


def assemble_profile(  # noqa: PLR0917  (Kedro passes node inputs positionally)
    language_model: LanguageModel,
    model_params: dict[str, Any],
    params: dict[str, Any],
    toxicity_items: pd.DataFrame,
    text_items: pd.DataFrame,
    bias_items: pd.DataFrame,
    calibration_items: pd.DataFrame,
    next_token_items: pd.DataFrame,
    diversity_items: pd.DataFrame,
    toxicity_notes: pd.DataFrame,
    bias_notes: pd.DataFrame,
    next_token_notes: pd.DataFrame,
    utility_notes: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """All parts' items and summary-only rows -> (items, summary-only rows, the model's profile
    table, each row with its request format and the side's weights fingerprint)."""
    frames = [
        f
        for f in (
            toxicity_items,
            text_items,
            bias_items,
            calibration_items,
            next_token_items,
            diversity_items,
        )
        if len(f)
    ]
    items = pd.concat(frames, ignore_index=True) if frames else empty_items()
    notes_frames = [
        f for f in (toxicity_notes, bias_notes, next_token_notes, utility_notes) if len(f)
    ]
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
