"""Headline results of the optional pipelines (contrastive search, probing, profiling), from
their outputs that exist (``report.build.OPTIONAL_INPUTS``, by catalog dataset name).

Each function returns one or two plain sentences (without the pipeline's name), or None when the
files hold nothing to say. Columns a file lacks are left out of the sentence (never filled with a
made-up value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from llm_behavior.report.verdict import NA, number, signed


def _num(summary: Mapping[str, Any], key: str, digits: int = 3) -> str:
    return number(summary.get(key), digits) if summary.get(key) is not None else NA


def contrastive_headline(files: Mapping[str, Any]) -> str | None:
    """Mean per-token KL divergence of the searched prompts against random bundled ones."""
    summary = files.get("prompt_search_summary")
    if not isinstance(summary, Mapping):
        return None
    text = (
        "mean divergence (per-token KL, nats) "
        f"{_num(summary, 'mean_divergence_random_bundled_prompts')} "
        f"on {summary.get('n_random_bundled_prompts', NA)} random bundled prompts, "
        f"{_num(summary, 'mean_divergence_assistant_prompts')} on "
        f"{summary.get('n_assistant_prompts_scored', NA)} assistant-proposed prompts"
    )
    if summary.get("mean_divergence_fresh_heldout") is not None:
        text += (
            f"; the chosen held-out prompts on fresh generations: "
            f"{_num(summary, 'mean_divergence_fresh_heldout')} "
            "(the unbiased figure: not used to choose them)"
        )
    return text + "."


def probing_headline(files: Mapping[str, Any]) -> str | None:
    """Per side, the layer whose probe predicts the behaviour best (selectivity over the control
    task), and the layer where the two models differ most."""
    summary = files.get("probe_summary")
    parts = []
    if isinstance(summary, pd.DataFrame) and not summary.empty and "pearson_r" in summary.columns:
        key = "selectivity" if "selectivity" in summary.columns else "pearson_r"
        frame = summary.dropna(subset=[key])
        if "side" not in frame.columns:
            frame = frame.assign(side="model")
        for side, group in frame.groupby("side", sort=False):
            best = group.loc[group[key].idxmax()]
            scenario = f", {best['scenario']}" if "scenario" in best.index else ""
            control = (
                f", control task {number(best['control_pearson_r'], 2)}"
                if "control_pearson_r" in best.index and pd.notna(best["control_pearson_r"])
                else ""
            )
            parts.append(
                f"{side}: best layer {best['layer']} (probe r = "
                f"{number(best['pearson_r'], 2)}{control}{scenario})"
            )
    diff = files.get("probe_side_difference")
    if (
        isinstance(diff, pd.DataFrame)
        and not diff.empty
        and {"difference", "layer"} <= set(diff.columns)
    ):
        top = diff.loc[diff["difference"].abs().idxmax()]
        p = (
            f", p = {number(top['p_value'], 2)}"
            if "p_value" in top.index and pd.notna(top["p_value"])
            else ""
        )
        parts.append(
            "largest candidate \u2212 reference difference in probe r: "
            f"{signed(top['difference'], 2)} at layer "
            f"{top['layer']}{p}"
        )
    return ("; ".join(parts) + ".") if parts else None


def _overall(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison's overall rows (no subgroup)."""
    if "subgroup" not in comparison.columns:
        return comparison
    sub = comparison["subgroup"]
    return comparison[sub.isna() | sub.astype(str).isin(["all", "overall", ""])]


def profiling_headline(files: Mapping[str, Any], alpha: float = 0.05) -> str | None:
    """How many overall statistics differ at p < alpha, the one with the smallest p-value and its n,
    and how many statistics rest on fewer items or samples than their paper used."""
    comparison = files.get("profile_comparison")
    if (
        not isinstance(comparison, pd.DataFrame)
        or comparison.empty
        or "p_value" not in comparison.columns
    ):
        return None
    overall = _overall(comparison).dropna(subset=["p_value"])
    if overall.empty:
        return None
    significant = overall[overall["p_value"] < alpha]
    text = (
        f"{len(significant)} of {len(overall)} overall statistics differ at p < {number(alpha)} "
        "(per test, not corrected for multiplicity)"
    )
    if not significant.empty:
        top = significant.loc[significant["p_value"].idxmin()]
        where = " / ".join(
            str(top[c])
            for c in ("part", "dataset", "metric")
            if c in top.index and pd.notna(top[c])
        )
        ci = (
            f" (95% CI {signed(top['ci_low'], 2)} to {signed(top['ci_high'], 2)})"
            if {"ci_low", "ci_high"} <= set(top.index) and pd.notna(top["ci_low"])
            else ""
        )
        diff = signed(top["difference"], 3) if "difference" in top.index else NA
        size = (
            f", n = {top['size']}"
            if "size" in top.index and isinstance(top["size"], str) and top["size"]
            else f", n = {number(top['n_pairs'], 0)}"
            if "n_pairs" in top.index and pd.notna(top["n_pairs"])
            else ""
        )
        text += (
            f"; strongest: {where}, candidate \u2212 reference {diff}{ci}, p = "
            f"{number(top['p_value'], 2)}{size}"
        )
    n_below, parts = _flagged(overall, "below_paper_size")
    if n_below:
        text += (
            f"; {n_below} of them rest on fewer items or samples than their paper used ({parts}: "
            "column size vs paper_size; runs/profile_paper.yml runs the papers' sizes)"
        )
    n_same, parts = _flagged(overall, "identical_requests")
    if n_same:
        text += (
            f"; {n_same} compare identical requests to identical weights ({parts}): "
            "their difference is 0 by construction, not evidence of no difference"
        )
    return text + "."


def _flagged(overall: pd.DataFrame, column: str) -> tuple[int, str]:
    """How many rows have the boolean flag ``column`` set (read from CSV: "True"/"true"), and their
    parts, comma-separated; (0, "") when the column is absent."""
    if column not in overall.columns:
        return 0, ""
    flag = overall[column].astype(str).str.lower() == "true"
    return int(flag.sum()), ", ".join(sorted(overall.loc[flag, "part"].astype(str).unique()))


HEADLINES = {
    "contrastive_search": contrastive_headline,
    "probing": probing_headline,
    "profiling": profiling_headline,
}
# the datasets each headline is read from, the first one its main source
HEADLINE_SOURCES: dict[str, tuple[str, ...]] = {
    "contrastive_search": ("prompt_search_summary",),
    "probing": ("probe_summary", "probe_side_difference"),
    "profiling": ("profile_comparison",),
}


def headlines(artifacts: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """{pipeline: headline} for the optional pipelines whose outputs exist and say something."""
    out = {}
    for name, build in HEADLINES.items():
        if artifacts.get(name):
            line = build(artifacts[name])
            if line:
                out[name] = line
    return out
