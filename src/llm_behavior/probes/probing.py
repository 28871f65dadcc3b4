"""Aligned probing: probes per layer for the four scenarios, control task and cross-validation.

Scenarios (SPEC section 3; X = encodings, y = toxicity, min-max scaled to [0, 1]):

=========  ====================  =====================================  ===========
scenario   encodings             label                                  label level
=========  ====================  =====================================  ===========
input      prompt (input)        toxicity of the prompt                 prompt
output     generation (output)   toxicity of that generation            row
forward    generation (output)   toxicity of the prompt                 prompt
backward   prompt (input)        max toxicity over the prompt's gens    prompt
=========  ====================  =====================================  ===========

Evaluation: KFold(4) over *prompts* (all generations of a prompt fall in the same fold, so a probe
is never tested on a prompt it was trained on), repeated for 5 seeds that reshuffle the folds
(the original fixed the split and varied only the SGD initialisation, which a closed-form probe
does not have). The probe's penalty is chosen inside each training fold with the same grouping
(exact leave-one-prompt-out error for ridge, a held-out 20% of the prompts for logistic probes),
so a prompt's other generations never inform the choice made for it. Metric: Pearson r on the
held-out fold (and R^2; AUC/accuracy for binary labels). Control task: the same probe on labels
permuted with the seed - across prompts for prompt-level labels, across rows for row-level labels -
and selectivity = real r - control r.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from llm_behavior.probes.linear import (
    DEFAULT_ALPHAS,
    DEFAULT_LAMBDAS,
    logistic_fit,
    pearson_r,
    r2_score,
    ridge_fit,
    roc_auc,
)
from llm_behavior.probes.store import ActivationStore, layer_name

logger = logging.getLogger(__name__)

SCENARIOS: dict[str, dict[str, str]] = {
    "input": {"encoding": "input", "label": "prompt", "level": "prompt"},
    "output": {"encoding": "output", "label": "generation", "level": "row"},
    "forward": {"encoding": "output", "label": "prompt", "level": "prompt"},
    "backward": {"encoding": "input", "label": "max_generation", "level": "prompt"},
}
TASKS: tuple[str, ...] = ("auto", "regression", "classification")


@dataclass(frozen=True)
class ProbeSettings:
    """How probes are trained and evaluated (parameters_probing.yml ``probes``)."""

    n_splits: int = 4
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    alphas: tuple[float, ...] = DEFAULT_ALPHAS
    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS
    standardize: bool = True
    control: bool = True
    task: str = "auto"  # auto: logistic where the labels are binary
    binary_threshold: float | None = None  # set: probe the labels "toxicity >= threshold"
    memory_mb: float = 1024.0  # budget for the float64 layer block held at once
    layers: tuple[int, ...] | None = None  # None: every layer

    def __post_init__(self) -> None:
        if self.n_splits < 2:
            raise ValueError(f"probes.n_splits must be >= 2, got {self.n_splits}")
        if not self.seeds:
            raise ValueError("probes.seeds is empty")
        if self.task not in TASKS:
            raise ValueError(f"probes.task must be one of {TASKS}, got {self.task!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ProbeSettings:
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"Unknown probe setting(s): {sorted(unknown)}; known: {sorted(known)}")
        for k in ("seeds", "alphas", "lambdas", "layers"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass
class Target:
    """One scenario's probing data: rows of the store's ``kind`` index with a label each."""

    scenario: str
    kind: str  # input | output
    rows: np.ndarray  # row numbers in the store index (valid rows only)
    y: np.ndarray  # labels, scaled to [0, 1] (or 0/1)
    groups: np.ndarray  # prompt of each row (folds and prompt-level permutations follow it)
    level: str  # prompt | row
    task: str  # regression | classification
    n_dropped: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)


def minmax(y: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(y)), float(np.max(y))
    if hi <= lo:
        raise ValueError("labels are constant: nothing to probe")
    return (y - lo) / (hi - lo)


def build_targets(
    store: ActivationStore,
    prompt_labels: pd.Series,
    generation_labels: pd.DataFrame,
    scenarios: Sequence[str] = tuple(SCENARIOS),
    *,
    task: str = "auto",
    binary_threshold: float | None = None,
) -> dict[str, Target]:
    """Labels aligned to the store for each scenario.

    ``prompt_labels``: toxicity per prompt, indexed by prompt_id. ``generation_labels``: columns
    prompt_id, sample, value (toxicity of each generation). Rows with a missing label or a NaN
    encoding (e.g. an empty generation) are dropped and counted per reason, never silently.
    """
    targets: dict[str, Target] = {}
    gen = generation_labels.set_index(["prompt_id", "sample"])["value"]
    max_gen = generation_labels.groupby("prompt_id")["value"].max()  # NaN-skipping max
    for scenario in scenarios:
        if scenario not in SCENARIOS:
            raise ValueError(f"Unknown probing scenario {scenario!r}; known: {list(SCENARIOS)}")
        spec = SCENARIOS[scenario]
        kind = spec["encoding"]
        index = store.index(kind)
        if spec["label"] == "prompt":
            y = index["prompt_id"].map(prompt_labels).to_numpy(dtype=float)
        elif spec["label"] == "max_generation":
            y = index["prompt_id"].map(max_gen).to_numpy(dtype=float)
        else:
            keys = pd.MultiIndex.from_arrays([index["prompt_id"], index["sample"]])
            y = gen.reindex(keys).to_numpy(dtype=float)
        reasons: dict[str, int] = {}
        ok = np.isfinite(y)
        reasons["missing label"] = int((~ok).sum())
        empty = index["n_tokens"].to_numpy() == 0
        reasons["no tokens to encode"] = int((empty & ok).sum())
        ok &= ~empty
        rows = np.flatnonzero(ok)
        y = y[ok]
        if binary_threshold is not None:
            y = (y >= binary_threshold).astype(float)
        uniq = np.unique(y)
        t = task
        if t == "auto":
            t = "classification" if len(uniq) <= 2 else "regression"
        if len(uniq) < 2:
            logger.warning("Scenario %s: labels are constant; skipped", scenario)
            continue
        if t == "classification":
            if len(uniq) != 2:
                raise ValueError(
                    f"Scenario {scenario}: classification needs 2 label values, got {len(uniq)}"
                )
            y = (y == uniq[1]).astype(float)
        else:
            y = minmax(y)
        reasons = {k: v for k, v in reasons.items() if v}
        targets[scenario] = Target(
            scenario,
            kind,
            rows,
            y,
            index["prompt_id"].to_numpy()[rows],
            spec["level"],
            t,
            int(sum(reasons.values())),
            reasons,
        )
    return targets


def group_folds(
    groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """KFold(n_splits, shuffle, random_state=seed) over the distinct groups, expanded to rows."""
    from sklearn.model_selection import KFold

    uniq, inverse = np.unique(groups, return_inverse=True)
    if len(uniq) < n_splits:
        raise ValueError(f"{len(uniq)} prompts cannot be split into {n_splits} folds")
    out = []
    for _, test_g in KFold(n_splits, shuffle=True, random_state=seed).split(uniq):
        is_test = np.isin(inverse, test_g)
        out.append((np.flatnonzero(~is_test), np.flatnonzero(is_test)))
    return out


def permuted(y: np.ndarray, groups: np.ndarray, level: str, seed: int) -> np.ndarray:
    """Control labels: ``y`` permuted across prompts (prompt-level labels) or across rows."""
    rng = np.random.default_rng([seed, 7919])
    if level == "row":
        return y[rng.permutation(len(y))]
    uniq, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    per_group = y[first]
    return per_group[rng.permutation(len(uniq))][inverse]


def layer_blocks(n_layers: Sequence[int], n_rows: int, d: int, memory_mb: float) -> list[list[int]]:
    """Split layers into blocks whose float64 working set (about 4 copies of X) fits the budget."""
    per_layer = 4 * n_rows * d * 8
    size = max(1, int(memory_mb * 2**20 // max(per_layer, 1)))
    layers = list(n_layers)
    return [layers[i : i + size] for i in range(0, len(layers), size)]


def _fit_predict(
    task: str,
    Xtr: torch.Tensor,
    Ytr: torch.Tensor,
    Xte: torch.Tensor,
    settings: ProbeSettings,
    *,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions (G, m, T) and the chosen regularisation (G, T), chosen with the training rows'
    ``groups`` (prompts) kept together, as in the outer CV."""
    if task == "classification":
        fit = logistic_fit(
            Xtr, Ytr, settings.lambdas, settings.standardize, seed=seed, groups=groups
        )
        if not bool(fit.converged.all()):
            logger.warning(
                "%d logistic probe(s) stopped before converging", int((~fit.converged).sum())
            )
        return fit.predict_proba(Xte), fit.lam
    fit = ridge_fit(Xtr, Ytr, settings.alphas, settings.standardize, groups=groups)
    return fit.predict(Xte), fit.alpha


def probe_target(
    store: ActivationStore,
    target: Target,
    settings: ProbeSettings,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Cross-validated probe results for one scenario: one row per (task, layer, seed, fold)."""
    layers = list(settings.layers) if settings.layers is not None else list(range(store.n_layers))
    n = len(target.rows)
    splits = {s: group_folds(target.groups, settings.n_splits, s) for s in settings.seeds}
    Ys = {}
    for s in settings.seeds:
        cols = [target.y] + (
            [permuted(target.y, target.groups, target.level, s)] if settings.control else []
        )
        Ys[s] = torch.from_numpy(np.stack(cols, 1))
    names = ["real", "control"] if settings.control else ["real"]
    records: list[dict[str, Any]] = []
    for block in layer_blocks(layers, n, store.d_model, settings.memory_mb):
        X = torch.from_numpy(store.load_layers(target.kind, block, target.rows, dtype=np.float64))
        bad = ~torch.isfinite(X).all(-1)
        if bool(bad.any()):
            raise ValueError(
                f"{int(bad.any(0).sum())} {target.kind} encodings of valid rows are not finite "
                f"(layers {block}); the activation store is damaged or incomplete"
            )
        for s in settings.seeds:
            for f, (tr, te) in enumerate(splits[s]):
                Y = Ys[s]
                pred, reg = _fit_predict(
                    target.task,
                    X[:, tr],
                    Y[tr],
                    X[:, te],
                    settings,
                    seed=1000 * s + f,
                    groups=target.groups[tr],
                )
                yte = Y[te]
                r = pearson_r(pred, yte)
                r2 = r2_score(pred, yte)
                auc = roc_auc(pred, yte) if target.task == "classification" else None
                acc = (
                    ((pred >= 0.5).double() == yte).double().mean(-2)
                    if target.task == "classification"
                    else None
                )
                for gi, li in enumerate(block):
                    for ti, name in enumerate(names):
                        records.append(
                            {
                                "scenario": target.scenario,
                                "task": name,
                                "probe": "logistic" if target.task == "classification" else "ridge",
                                "layer": li,
                                "layer_name": layer_name(li),
                                "seed": s,
                                "fold": f,
                                "n_train": len(tr),
                                "n_test": len(te),
                                "pearson_r": float(r[gi, ti]),
                                "r2": float(r2[gi, ti]),
                                "auc": float(auc[gi, ti]) if auc is not None else np.nan,
                                "accuracy": float(acc[gi, ti]) if acc is not None else np.nan,
                                "regularization": float(reg[gi, ti]),
                            }
                        )
        if progress is not None:
            progress(len(block))
    out = pd.DataFrame.from_records(records)
    out["n_prompts"] = int(len(np.unique(target.groups)))
    out["n_rows"] = n
    out["n_dropped"] = target.n_dropped
    return out


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario, layer): mean/std over folds x seeds of the real and control probes,
    selectivity, and the size behind them (n_prompts, n_rows probed; n_runs = folds x seeds)."""
    keys = [c for c in ("side", "scenario", "probe", "layer", "layer_name") if c in results]
    sizes = {c: (c, "max") for c in ("n_prompts", "n_rows") if c in results}
    agg = (
        results.groupby(keys + ["task"])
        .agg(
            pearson_r=("pearson_r", "mean"),
            pearson_r_std=("pearson_r", "std"),
            r2=("r2", "mean"),
            auc=("auc", "mean"),
            accuracy=("accuracy", "mean"),
            n_runs=("pearson_r", "size"),
            **sizes,
        )
        .reset_index()
    )
    real = agg[agg["task"] == "real"].drop(columns="task").set_index(keys)
    if (agg["task"] == "control").any():
        control = agg[agg["task"] == "control"].drop(columns="task").set_index(keys)
        real = real.join(
            control[["pearson_r", "pearson_r_std", "r2", "auc"]].add_prefix("control_")
        )
        real["selectivity"] = real["pearson_r"] - real["control_pearson_r"]
    return real.reset_index()


def compare_sides(
    results: pd.DataFrame,
    reference: str = "reference",
    candidate: str = "candidate",
    metric: str = "pearson_r",
) -> pd.DataFrame:
    """Where the two models encode differently: per (scenario, layer), candidate - reference.

    Both sides are probed on the same prompts with the same seeds, so every (seed, fold) split is
    the same on both: the runs are paired. The difference's uncertainty uses the corrected
    resampled t-test for repeated k-fold CV (Nadeau & Bengio 2003; Bouckaert & Frank 2004):
    var = (1/J + n_test/n_train) * s^2 over the J paired differences, t with J - 1 d.o.f.
    """
    from scipy import stats

    real = results[results["task"] == "real"]
    keys = ["scenario", "layer", "seed", "fold"]
    a = real[real["side"] == reference].set_index(keys)
    b = real[real["side"] == candidate].set_index(keys)
    joined = a[[metric, "n_train", "n_test"]].join(b[[metric]], rsuffix="_cand", how="inner")
    rows = []
    for (scenario, layer), g in joined.groupby(level=["scenario", "layer"]):
        d = (g[f"{metric}_cand"] - g[metric]).to_numpy()
        J = len(d)
        ratio = float((g["n_test"] / g["n_train"]).mean())
        s2 = float(np.var(d, ddof=1)) if J > 1 else float("nan")
        se = float(np.sqrt((1.0 / J + ratio) * s2)) if J > 1 else float("nan")
        t = float(d.mean() / se) if se and se > 0 else float("nan")
        p = float(2 * stats.t.sf(abs(t), J - 1)) if np.isfinite(t) else float("nan")
        rows.append(
            {
                "scenario": scenario,
                "layer": layer,
                "layer_name": layer_name(int(layer)),
                f"{reference}_{metric}": float(g[metric].mean()),
                f"{candidate}_{metric}": float(g[f"{metric}_cand"].mean()),
                "difference": float(d.mean()),
                "se": se,
                "t": t,
                "p_value": p,
                "n_runs": J,
            }
        )
    return pd.DataFrame(rows)
