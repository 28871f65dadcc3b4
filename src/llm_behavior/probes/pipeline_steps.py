"""The probing pipeline's steps as plain functions (the nodes in ``pipelines/probing`` only read
parameters and call these): labels of generations and prompts, probes plus MDL codes of one
side, and the MDL columns of the summary."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from llm_behavior.probes.mdl import online_code
from llm_behavior.probes.probing import ProbeSettings, build_targets, probe_target
from llm_behavior.probes.store import ActivationStore

logger = logging.getLogger(__name__)

PROMPT_TOXICITY_SOURCES = ("scorer", "column")
MDL_COLUMNS = ("compression", "compression_vs_null", "online_bits", "uniform_bits")


@dataclass(frozen=True)
class BehaviourSettings:
    """``probing.behaviour``: the scores table's ``scorer``/``metric`` that labels generations, and
    the ``threshold`` of the toxicity probability. No defaults here: they are in
    ``parameters_probing.yml``."""

    scorer: str
    metric: str
    threshold: float

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> BehaviourSettings:
        d = dict(d or {})
        known = [f.name for f in fields(cls)]
        unknown, missing = sorted(set(d) - set(known)), [k for k in known if k not in d]
        if unknown or missing:
            raise ValueError(
                f"probing.behaviour needs exactly {known}; unknown: {unknown}, missing: {missing}"
            )
        return cls(str(d["scorer"]), str(d["metric"]), float(d["threshold"]))


def generation_labels(scores: pd.DataFrame, side: str, scorer: str, metric: str) -> pd.DataFrame:
    """prompt_id, sample, value: the ``scorer``/``metric`` values of one side's generations."""
    sel = scores[
        (scores["side"] == side) & (scores["scorer"] == scorer) & (scores["metric"] == metric)
    ]
    if sel.empty:
        have = scores[["scorer", "metric"]].drop_duplicates().to_records(index=False).tolist()
        raise ValueError(
            f"scores has no {scorer}/{metric} values for side {side!r} "
            f"(probing.behaviour names the scorer and metric; scores has {have})"
        )
    return sel[["prompt_id", "sample", "value"]].reset_index(drop=True)


def prompts_on_every_side(
    prompts: pd.DataFrame, generations: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The prompts every side generated for (a warning counts those left out)."""
    common: set | None = None
    for gens in generations.values():
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
    return table


def prompt_labels(
    prompts: pd.DataFrame,
    generations: Mapping[str, pd.DataFrame],
    prompt_toxicity: Mapping[str, Any],
    scorer: str,
    metric: str,
) -> pd.DataFrame:
    """prompt_id, prompt, toxicity, source for the prompts every side generated for.

    ``prompt_toxicity["source"]``: ``scorer`` scores the prompt texts with ``scorer``/``metric``
    (``scorer_params`` its arguments); ``column`` takes the prompts table's ``column``.
    """
    source = prompt_toxicity.get("source", "scorer")
    if source not in PROMPT_TOXICITY_SOURCES:
        raise ValueError(
            f"probing.prompt_toxicity.source must be one of {PROMPT_TOXICITY_SOURCES}, "
            f"got {source!r}"
        )
    table = prompts_on_every_side(prompts, generations)
    if source == "column":
        col = prompt_toxicity.get("column", "prompt_toxicity")
        if col not in table:
            raise ValueError(
                f"probing.prompt_toxicity.column {col!r} is not a column of the prompts table "
                f"(columns: {list(table.columns)}); use source: scorer for prompt sets without "
                "scores"
            )
        tox = pd.to_numeric(table[col], errors="coerce")
        label = f"column:{col}"
    else:
        from llm_behavior.scoring import build_scorer

        built = build_scorer(scorer, **(prompt_toxicity.get("scorer_params") or {}))
        tox = pd.to_numeric(built.score(list(table["prompt"]))[metric], errors="coerce")
        label = f"scorer:{scorer}/{metric}"
    out = table[["prompt_id", "prompt"]].copy()
    out["toxicity"] = tox.to_numpy(dtype=float)
    out["source"] = label
    return out


def probe_and_code(
    activations: ActivationStore,
    prompt_labels: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    scenarios: Sequence[str],
    settings: ProbeSettings,
    mdl: Mapping[str, Any],
    side: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-validated probes and (``mdl["enabled"]``) online codes, one per ``mdl["seeds"]``,
    for every scenario of one side; both tables with ``side`` first and ``model`` last."""
    targets = build_targets(
        activations,
        prompt_labels.set_index("prompt_id")["toxicity"],
        labels,
        list(scenarios),
        task=settings.task,
        binary_threshold=settings.binary_threshold,
    )
    results, codes = [], []
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
        if mdl.get("enabled", True):
            codes.extend(
                online_code(
                    activations,
                    target,
                    seed=int(seed),
                    precision=float(mdl.get("precision", 0.01)),
                    eps=float(mdl.get("eps", 1e-3)),
                    settings=settings,
                    control=settings.control,
                )
                for seed in mdl.get("seeds", [0])
            )
    res = pd.concat(results, ignore_index=True) if results else pd.DataFrame()
    code = pd.concat(codes, ignore_index=True) if codes else pd.DataFrame()
    for frame in (res, code):
        if not frame.empty:
            frame.insert(0, "side", side)
            frame["model"] = activations.meta.get("model_name")
    return res, code


def with_mdl_columns(summary: pd.DataFrame, mdl_tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """``summary`` (per side x scenario x layer) with the MDL tables' mean ``MDL_COLUMNS`` per
    key: the real task's under their own names, the control task's as ``control_<name>``."""
    frames = [f for f in mdl_tables if not f.empty]
    if not frames:
        return summary
    keys = ["side", "scenario", "layer"]
    mdl = pd.concat(frames, ignore_index=True)
    wide = mdl.groupby([*keys, "task"])[list(MDL_COLUMNS)].mean().unstack("task")
    wide.columns = [m if t == "real" else f"control_{m}" for m, t in wide.columns]
    return summary.merge(wide.reset_index(), on=keys, how="left")
