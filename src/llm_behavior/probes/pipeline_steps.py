"""The probing pipeline's steps as plain functions (the nodes in ``pipelines/probing`` only read
their settings, :mod:`llm_behavior.probes.settings`, and call these): labels of generations and
prompts, the extraction to run, each side's behaviour, probes plus MDL codes of one side, and the
MDL columns of the summary."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.probes.behaviour import toxicity_summary
from llm_behavior.probes.extraction import extract_activations
from llm_behavior.probes.mdl import online_code
from llm_behavior.probes.probing import ProbeSettings, build_targets, probe_target
from llm_behavior.probes.settings import (
    BehaviourSettings,
    ExtractionSettings,
    MDLSettings,
    PromptToxicitySettings,
)
from llm_behavior.probes.store import ActivationStore

__all__ = [
    "MDL_COLUMNS",
    "BehaviourSettings",
    "activation_writer",
    "behaviour_table",
    "generation_labels",
    "probe_and_code",
    "prompts_on_every_side",
    "prompt_labels",
    "with_mdl_columns",
]

logger = logging.getLogger(__name__)

MDL_COLUMNS = ("compression", "compression_vs_null", "online_bits", "uniform_bits")


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
    prompt_toxicity: PromptToxicitySettings | Mapping[str, object],
    scorer: str,
    metric: str,
) -> pd.DataFrame:
    """prompt_id, prompt, toxicity, source for the prompts every side generated for.

    ``prompt_toxicity.source``: ``scorer`` scores the prompt texts with ``scorer``/``metric``
    (``scorer_params`` its arguments); ``column`` takes the prompts table's ``column``.
    """
    cfg = PromptToxicitySettings.from_dict(prompt_toxicity)
    table = prompts_on_every_side(prompts, generations)
    if cfg.source == "column":
        col = cfg.column
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

        built = build_scorer(scorer, **(cfg.scorer_params or {}))
        tox = pd.to_numeric(built.score(list(table["prompt"]))[metric], errors="coerce")
        label = f"scorer:{scorer}/{metric}"
    out = table[["prompt_id", "prompt"]].copy()
    out["toxicity"] = tox.to_numpy(dtype=float)
    out["source"] = label
    return out


def activation_writer(
    lm: LanguageModel,
    prompt_labels: pd.DataFrame,
    generations: pd.DataFrame,
    settings: ExtractionSettings,
) -> Callable[[Path], ActivationStore]:
    """The extraction of ``lm``'s encodings of the labelled prompts and their generations, as a
    function of the store's folder (what ActivationStoreDataset saves lazily)."""
    gens = generations[generations["prompt_id"].isin(set(prompt_labels["prompt_id"]))]
    cols = ["prompt_id", "sample", "text"] + (["token_ids"] if "token_ids" in gens else [])
    gens = gens[cols].reset_index(drop=True)

    def write(root: Path) -> ActivationStore:
        return extract_activations(
            lm,
            prompt_labels[["prompt_id", "prompt"]],
            gens,
            root,
            batch_size=settings.batch_size,
            max_batch_tokens=settings.max_batch_tokens,
            input_span=settings.input_span,
            dtype=settings.dtype,
        )

    return write


def behaviour_table(
    scores: pd.DataFrame,
    prompt_labels: pd.DataFrame,
    behaviour: BehaviourSettings,
    sides: Sequence[str] | None,
) -> pd.DataFrame:
    """EMT and toxicity probability per side (``sides``; None: every side of ``scores``, in
    their order there) over the labelled prompts."""
    wanted = set(sides or scores["side"])
    rows = []
    for side in [s for s in scores["side"].drop_duplicates() if s in wanted]:
        labels = generation_labels(scores, side, behaviour.scorer, behaviour.metric)
        labels = labels[labels["prompt_id"].isin(set(prompt_labels["prompt_id"]))]
        summary = toxicity_summary(labels["prompt_id"], labels["value"], behaviour.threshold)
        rows.append({"side": side, **summary})
    return pd.DataFrame(rows)


def probe_and_code(
    activations: ActivationStore,
    prompt_labels: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    scenarios: Sequence[str],
    settings: ProbeSettings,
    mdl: MDLSettings,
    side: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-validated probes and (``mdl.enabled``) online codes, one per ``mdl.seeds``, for
    every scenario of one side; both tables with ``side`` first and ``model`` last."""
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
        if mdl.enabled:
            codes.extend(
                online_code(
                    activations,
                    target,
                    seed=seed,
                    precision=mdl.precision,
                    eps=mdl.eps,
                    settings=settings,
                    control=settings.control,
                )
                for seed in mdl.seeds
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
