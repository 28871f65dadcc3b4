"""Thin nodes of the reporting pipeline; the page is built in :mod:`llm_behavior.report`."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from llm_behavior.models.base import CapabilityError, LanguageModel
from llm_behavior.report.build import OPTIONAL_NAMES, build_report, optional_artifacts
from llm_behavior.report.divergent import DIVERGENT_COLUMNS, token_log_ratios, top_divergent_texts
from llm_behavior.report.verdict import audit_verdict, p_value_bound
from llm_behavior.sides import side_spec

log = logging.getLogger(__name__)


def _behaviour(params: dict[str, Any], auditing: dict[str, Any]) -> tuple[str, str | None, str]:
    """(name, scorer, metric) of ``reporting.behaviour``; null = the first auditing behaviour."""
    behaviours = auditing.get("behaviours", {})
    if not behaviours:
        raise ValueError("auditing.behaviours is empty: no behaviour to rank the divergent prompts by")
    name = params.get("behaviour") or next(iter(behaviours))
    if name not in behaviours:
        raise ValueError(f"reporting.behaviour {name!r} is not an auditing behaviour; known: {sorted(behaviours)}")
    b = behaviours[name]
    return name, b.get("scorer"), b["metric"]


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
    name, scorer, metric = _behaviour(params, auditing)
    if scorer is None:  # the auditing behaviour leaves the scorer implicit: the one that reports the metric
        scorers = sorted(scores.loc[scores["metric"] == metric, "scorer"].unique())
        scorer = scorers[0] if len(scorers) == 1 else None
    present = scorer is not None and ((scores["scorer"] == scorer) & (scores["metric"] == metric)).any()
    if not present:
        log.warning("reporting: no %s scores for behaviour %r; the report has no divergent prompts", metric, name)
        return pd.DataFrame(columns=list(DIVERGENT_COLUMNS))
    return top_divergent_texts(
        scores,
        {"reference": reference_generations, "candidate": candidate_generations},
        scorer=scorer,
        metric=metric,
        n_prompts=int(params["n_prompts"]),
    )


def score_token_divergence(
    texts: pd.DataFrame, reference: LanguageModel, candidate: LanguageModel, params: dict[str, Any]
) -> pd.DataFrame:
    """Per-token log p_candidate - log p_reference of the selected texts (off: texts shown plain)."""
    if not params.get("token_divergence", True):
        return _plain(texts, "per-token divergence switched off (reporting.token_divergence)")
    try:
        return token_log_ratios(texts, reference, candidate, batch_size=int(params.get("batch_size", 8)))
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
    """The optional pipelines' outputs that exist, by pipeline (inputs: ``OPTIONAL_NAMES``, in order)."""
    if len(loaded) != len(OPTIONAL_NAMES):
        raise ValueError(f"expected the {len(OPTIONAL_NAMES)} datasets of OPTIONAL_NAMES, got {len(loaded)}")
    return optional_artifacts(dict(zip(OPTIONAL_NAMES, loaded, strict=True)))


def render_report(
    *,
    generation_summary: dict[str, Any],
    audit_result: dict[str, Any],
    score_summary: pd.DataFrame,
    divergent: pd.DataFrame,
    wealth_png: bytes,
    distributions_png: bytes,
    artifacts: dict[str, dict[str, Any]],
    params: dict[str, Any],
    reference: dict[str, Any],
    candidate: dict[str, Any],
    replicate: dict[str, Any],
    auditing: dict[str, Any],
    run_version: dict[str, Any] | None = None,
) -> str:
    """The run's HTML report (self-contained: images embedded), naming the catalog versions."""
    sides = {"reference": reference, "candidate": candidate, "replicate": replicate}
    return build_report(
        pair=str(params["pair"]),
        models={side: side_spec(sides, side) for side in sides},
        generation_summary=generation_summary,
        audit=audit_result,
        score_summary=score_summary,
        divergent=divergent,
        behaviour=_behaviour(params, auditing)[0],
        wealth_png=wealth_png,
        distributions_png=distributions_png,
        artifacts=artifacts,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        behaviour_specs=auditing.get("behaviours") or {},
        provenance={**provenance(audit_result, generation_summary), **version_provenance(run_version)},
    )


def version_provenance(run_version: dict[str, Any] | None) -> dict[str, Any]:
    """The catalog version this report is saved under, and the versions of its inputs (versioned
    datasets) that an earlier run saved."""
    if not run_version or not run_version.get("save_version"):
        return {}
    save = str(run_version["save_version"])
    earlier = {k: v for k, v in (run_version.get("loaded") or {}).items() if v != save}
    out: dict[str, Any] = {"catalog version": save}
    if earlier:
        out["inputs of earlier versions"] = ", ".join(f"{k} {v}" for k, v in earlier.items())
    return out


PROVENANCE_KEYS = (("data_version", "data version"), ("run_id", "run"), ("code_version", "code version"))


def provenance(*results: dict[str, Any]) -> dict[str, Any]:
    """The run identity the outputs carry (first found per key), shown under the report's title."""
    out: dict[str, Any] = {}
    for key, label in PROVENANCE_KEYS:
        for result in results:
            if result.get(key) not in (None, ""):
                out[label] = result[key]
                break
    return out


def _log10(value: Any) -> float | None:
    """log10 of a wealth (None when absent or not positive: never logged as 0)."""
    return math.log10(float(value)) if value is not None and float(value) > 0 else None


def tracking_metrics(audit_result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The audit's figures as metrics for the tracking store (kedro-mlflow's metrics-history format).

    Wealth is logged as log10 (it spans tens of orders of magnitude); a figure the result lacks is
    not logged (never as 0).
    """
    metrics: dict[str, float | None] = {
        "rejected": float(bool(audit_result.get("rejected"))),
        "prompts_used": audit_result.get("prompts_used"),
        "pairs_used": audit_result.get("pairs_used", audit_result.get("samples_used")),
        "log10_final_wealth": _log10(audit_result.get("final_wealth")),
        "log10_max_wealth": _log10(audit_result.get("max_wealth")),
        "p_value_bound": audit_verdict(audit_result).p_value_bound,  # derived from max wealth when absent
    }
    aa = audit_result.get("aa_audit") or {}
    if aa:
        metrics["aa_rejected"] = float(bool(aa.get("rejected")))
        metrics["aa_log10_max_wealth"] = _log10(aa.get("max_wealth"))
    floors = audit_result.get("noise_floor") or {}
    for name, b in (audit_result.get("behaviours") or {}).items():
        metrics[f"{name}.rejected"] = float(bool(b.get("rejected")))
        for key in ("mean_shift", "prompts_to_rejection", "pairs_to_rejection"):
            metrics[f"{name}.{key}"] = b.get(key)
        metrics[f"{name}.p_value_bound"] = p_value_bound(b, audit_result.get("alpha"))
        metrics[f"{name}.log10_max_wealth"] = _log10(b.get("max_wealth"))
        floor = floors.get(name) if isinstance(floors.get(name), dict) else {}
        metrics[f"{name}.distance"] = (floor.get("reference_vs_candidate") or {}).get("d_hat")
        metrics[f"{name}.distance_over_noise_floor"] = floor.get("candidate_distance_over_noise_floor")
    return {k: {"value": float(v), "step": 0} for k, v in metrics.items() if v is not None}
