"""Profile plots: reliability diagrams, diversity vs temperature, bias scores (one or more models).

Each function takes {model label: item table or profile table} and returns a matplotlib Figure
(the Agg backend; nothing is shown). Empty inputs give a figure that says so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from llm_behavior.profiles.calibration import ece_equal_mass, reliability_table
from llm_behavior.profiles.sizes import PAPER_SIZES, PER_ITEM_METRIC


def _figure(n_panels: int, ncols: int = 3, size: tuple[float, float] = (4.2, 3.6)):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, int(np.ceil(n_panels / ncols)))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False
    )
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _empty(message: str):
    fig, (ax,) = _figure(1)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return fig


def reliability_diagram(items_by_model: Mapping[str, pd.DataFrame], n_bins: int = 10):
    """Accuracy vs mean confidence per equal-mass bin, one panel per calibration dataset."""
    cal = {m: it[it["part"] == "calibration"] for m, it in items_by_model.items()}
    datasets = sorted({d for it in cal.values() for d in it["dataset"].unique()})
    if not datasets:
        return _empty("calibration part not run")
    fig, axes = _figure(len(datasets))
    for ax, ds in zip(axes, datasets):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
        for model, it in cal.items():
            wide = it[it["dataset"] == ds].pivot_table(
                index="item_id", columns="metric", values="value"
            )
            if wide.empty:
                continue
            wide = wide.dropna(subset=["confidence", "correct"])
            table = reliability_table(
                wide["confidence"].to_numpy(), wide["correct"].to_numpy(), n_bins
            )
            ece = ece_equal_mass(wide["confidence"].to_numpy(), wide["correct"].to_numpy(), n_bins)
            ax.plot(
                table["mean_confidence"],
                table["accuracy"],
                marker="o",
                label=f"{model} (n = {len(wide)} items, ECE {ece:.3f})",
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean confidence in bin")
        ax.set_ylabel("accuracy in bin")
        ax.set_title(f"{ds}: {n_bins} equal-mass bins")
        ax.legend(fontsize=7)
    fig.suptitle(
        "Reliability (confidence = max softmax over options' mean token log-likelihoods)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def diversity_vs_temperature(items_by_model: Mapping[str, pd.DataFrame]):
    """Mean over prompts of each diversity metric vs temperature; a line per (model, prompt set)."""
    div = {m: it[it["part"] == "diversity"] for m, it in items_by_model.items()}
    metrics = sorted(
        {x for it in div.values() for x in it["metric"].unique()} - {PER_ITEM_METRIC["diversity"]}
    )
    if not metrics:
        return _empty("diversity part not run")
    fig, axes = _figure(len(metrics), ncols=4, size=(3.8, 3.2))
    styles = {"creative": "-", "factual": "--"}
    for ax, metric in zip(axes, metrics):
        for i, (model, it) in enumerate(div.items()):
            sub = it[it["metric"] == metric].copy()
            sub["temperature"] = sub["subgroup"].str.removeprefix("T=").astype(float)
            k = it[it["metric"] == PER_ITEM_METRIC["diversity"]]
            for pset, frame in sub.groupby("dataset", sort=True):
                curve = frame.groupby("temperature")["value"].mean()
                n_prompts = frame.groupby("temperature")["value"].count().min()
                ks = k[k["dataset"] == pset]["value"]
                size = f"n = {n_prompts} prompts" + (
                    f" x {ks.min():.0f} samples" if len(ks) else ""
                )
                ax.plot(
                    curve.index,
                    curve.to_numpy(),
                    ls=styles.get(pset, ":"),
                    marker="o",
                    color=f"C{i}",
                    label=f"{model} / {pset} ({size})",
                )
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("temperature")
    axes[0].legend(fontsize=7)
    paper = PAPER_SIZES["diversity"]
    fig.suptitle(
        "Output diversity vs temperature (mean over "
        f"prompts; sizes in the legend, paper: {paper.text})",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def bias_scores(profiles_by_model: Mapping[str, pd.DataFrame]):
    """CrowS-Pairs metric score and StereoSet SS per bias type (ideal 50), bars per model."""
    panels = [
        ("crows_pairs", "metric_score", "CrowS-Pairs: % more-stereotyping preferred"),
        ("stereoset", "ss", "StereoSet SS"),
    ]
    have = [
        p
        for p in panels
        if any(
            ((t["dataset"] == p[0]) & (t["metric"] == p[1])).any()
            for t in profiles_by_model.values()
        )
    ]
    if not have:
        return _empty("bias part (CrowS-Pairs / StereoSet) not run")
    fig, axes = _figure(len(have), ncols=1, size=(9, 3.6))
    for ax, (ds, metric, title) in zip(axes, have):
        frames = {
            m: t[(t["dataset"] == ds) & (t["metric"] == metric)].set_index("subgroup")
            for m, t in profiles_by_model.items()
        }
        groups = sorted(
            {g for f in frames.values() for g in f.index}, key=lambda g: (g != "all", g)
        )
        width = 0.8 / max(1, len(frames))
        x = np.arange(len(groups))
        n_of = {
            g: "/".join(sorted({f"{f.loc[g, 'n']:.0f}" for f in frames.values() if g in f.index}))
            for g in groups
        }
        for i, (model, frame) in enumerate(frames.items()):
            f = frame.reindex(groups)
            err = np.vstack(
                [
                    (f["value"] - f["ci_low"]).clip(lower=0),
                    (f["ci_high"] - f["value"]).clip(lower=0),
                ]
            )
            ax.bar(
                x + i * width, f["value"], width, yerr=np.nan_to_num(err), capsize=2, label=model
            )
        ax.axhline(50, color="grey", ls="--", lw=1)
        ax.set_xticks(
            x + width * (len(frames) - 1) / 2,
            [f"{g} (n={n_of[g]})" for g in groups],
            rotation=30,
            ha="right",
            fontsize=8,
        )
        ax.set_ylim(0, 100)
        ax.set_title(f"{title} (ideal 50; bars: 95% bootstrap CI)", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
