"""Thin nodes of the reporting pipeline; the page is built in :mod:`llm_behavior.report`."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from llm_behavior.models.base import CapabilityError, LanguageModel
from llm_behavior.report.build import OPTIONAL_NAMES, optional_artifacts
from llm_behavior.report.divergent import behaviour_divergent_texts, token_log_ratios
from llm_behavior.report.run_report import report_behaviour, run_report
from llm_behavior.report.tracking import audit_metrics

log = logging.getLogger(__name__)


def select_divergent_texts(
    scores: pd.DataFrame,
    reference_generations: pd.DataFrame,
    candidate_generations: pd.DataFrame,
    params: dict[str, Any],
    auditing: dict[str, Any],
) -> pd.DataFrame:
    """The top prompts by behaviour-score difference, with each side's highest-scoring text.

    An optional behaviour that was not scored gives an empty table (the report says so).
    """
    name, scorer, metric = report_behaviour(params, auditing)
    generations = {"reference": reference_generations, "candidate": candidate_generations}
    return behaviour_divergent_texts(
        scores,
        generations,
        behaviour=name,
        scorer=scorer,
        metric=metric,
        n_prompts=int(params["n_prompts"]),
    )


def score_token_divergence(
    texts: pd.DataFrame, reference: LanguageModel, candidate: LanguageModel, params: dict[str, Any]
) -> pd.DataFrame:
    """Per-token log p_candidate - log p_reference of
    the selected texts (off: texts shown plain)."""
    if not params.get("token_divergence", True):
        return _plain(texts, "per-token divergence switched off (reporting.token_divergence)")
    try:
        return token_log_ratios(
            texts, reference, candidate, batch_size=int(params.get("batch_size", 8))
        )
    except CapabilityError as err:
        log.warning("per-token divergence not computed: %s", err)
        return _plain(texts, str(err))


def _plain(texts: pd.DataFrame, note: str) -> pd.DataFrame:
    out = texts.copy()
    out["token_pieces"] = [[] for _ in range(len(out))]
    out["token_log_ratio"] = [[] for _ in range(len(out))]
    out["mean_log_ratio"] = float("nan")
    out["token_note"] = note
    return out


def gather_optional_outputs(*loaded: Any) -> dict[str, dict[str, Any]]:
    """The optional pipelines' outputs that exist, by
    pipeline (inputs: ``OPTIONAL_NAMES``, in order)."""
    if len(loaded) != len(OPTIONAL_NAMES):
        raise ValueError(
            f"expected the {len(OPTIONAL_NAMES)} datasets of OPTIONAL_NAMES, got {len(loaded)}"
        )
    return optional_artifacts(dict(zip(OPTIONAL_NAMES, loaded, strict=True)))


def render_report(
    *,
    params: dict[str, Any],
    reference: dict[str, Any],
    candidate: dict[str, Any],
    replicate: dict[str, Any],
    auditing: dict[str, Any],
    run_version: dict[str, Any] | None = None,
    **outputs: Any,
) -> str:
    """The run's HTML report, naming the catalog versions.

    ``outputs``: the other pipelines' outputs by ``report.run_report.REPORT_OUTPUTS`` name.
    """
    sides = {"reference": reference, "candidate": candidate, "replicate": replicate}
    return run_report(
        outputs, params=params, sides=sides, auditing=auditing, run_version=run_version
    )


def tracking_metrics(audit_result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The audit's figures (``report.tracking.audit_metrics``)
    in kedro-mlflow's metrics-history format."""
    return {
        name: {"value": value, "step": 0} for name, value in audit_metrics(audit_result).items()
    }
