"""The audit's figures as flat metrics for a tracking store (MLflow and the like; no Kedro here).

Wealth is given as log10 (it spans tens of orders of magnitude); a figure the audit result lacks
is left out (never given as 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llm_behavior.report.verdict import audit_verdict, p_value_bound

BEHAVIOUR_FIGURES = ("mean_shift", "prompts_to_rejection", "pairs_to_rejection")


def log10_wealth(value: Any) -> float | None:
    """log10 of a wealth (None when absent or not positive: never logged as 0)."""
    return math.log10(float(value)) if value is not None and float(value) > 0 else None


def behaviour_metrics(
    name: str, behaviour: Mapping[str, Any], floor: Mapping[str, Any], alpha: Any
) -> dict[str, float | None]:
    """One behaviour's figures, keyed ``<name>.<figure>`` (None: the result lacks it)."""
    metrics: dict[str, float | None] = {f"{name}.rejected": float(bool(behaviour.get("rejected")))}
    for key in BEHAVIOUR_FIGURES:
        metrics[f"{name}.{key}"] = behaviour.get(key)
    metrics[f"{name}.p_value_bound"] = p_value_bound(behaviour, alpha)
    metrics[f"{name}.log10_max_wealth"] = log10_wealth(behaviour.get("max_wealth"))
    metrics[f"{name}.distance"] = (floor.get("reference_vs_candidate") or {}).get("d_hat")
    metrics[f"{name}.distance_over_noise_floor"] = floor.get("candidate_distance_over_noise_floor")
    return metrics


def audit_metrics(audit_result: Mapping[str, Any]) -> dict[str, float]:
    """The audit's figures by name, as floats; those the result lacks are left out."""
    metrics: dict[str, float | None] = {
        "rejected": float(bool(audit_result.get("rejected"))),
        "prompts_used": audit_result.get("prompts_used"),
        "pairs_used": audit_result.get("pairs_used", audit_result.get("samples_used")),
        "log10_final_wealth": log10_wealth(audit_result.get("final_wealth")),
        "log10_max_wealth": log10_wealth(audit_result.get("max_wealth")),
        # derived from max wealth when absent
        "p_value_bound": audit_verdict(audit_result).p_value_bound,
    }
    aa = audit_result.get("aa_audit") or {}
    if aa:
        metrics["aa_rejected"] = float(bool(aa.get("rejected")))
        metrics["aa_log10_max_wealth"] = log10_wealth(aa.get("max_wealth"))
    floors = audit_result.get("noise_floor") or {}
    for name, behaviour in (audit_result.get("behaviours") or {}).items():
        floor = floors.get(name) if isinstance(floors.get(name), dict) else {}
        metrics.update(behaviour_metrics(name, behaviour, floor, audit_result.get("alpha")))
    return {k: float(v) for k, v in metrics.items() if v is not None}
