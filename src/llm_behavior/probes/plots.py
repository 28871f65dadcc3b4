"""Per-layer probing curves of both models of a pair,
with control curves and behaviour beside them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_behavior.probes.probing import SCENARIOS

SIDE_COLORS = {"reference": "tab:blue", "candidate": "tab:red", "replicate": "tab:gray"}


def _behaviour_text(behaviour: pd.DataFrame | None) -> str:
    if behaviour is None or behaviour.empty:
        return ""
    lines = []
    for _, row in behaviour.iterrows():
        lines.append(
            f"{row['side']}: EMT {row['emt']:.3f}, tox. prob. {row['toxicity_probability']:.3f} "
            f"({int(row['n_prompts'])} prompts, k={int(row['k_min'])}"
            + (f"-{int(row['k_max'])}" if row["k_max"] != row["k_min"] else "")
            + ")"
        )
    return "\n".join(lines)


def size_text(part: pd.DataFrame) -> str:
    """``n = P prompts, R rows`` of one scenario's
    summary rows (per side where the sides differ)."""
    if "n_prompts" not in part or part["n_prompts"].isna().all():
        return ""
    cols = ["n_prompts"] + (["n_rows"] if "n_rows" in part else [])
    by_side = (
        part.groupby("side", sort=False)[cols].max()
        if "side" in part
        else part[cols].max().to_frame().T
    )

    def one(row: pd.Series) -> str:
        text = f"{int(row['n_prompts'])} prompts"
        if "n_rows" in row and pd.notna(row["n_rows"]) and row["n_rows"] != row["n_prompts"]:
            text += f", {int(row['n_rows'])} rows"
        return text

    if len(by_side.drop_duplicates()) <= 1:
        return "n = " + one(by_side.iloc[0])
    return "; ".join(f"{side}: n = {one(row)}" for side, row in by_side.iterrows())


def plot_probe_curves(
    summary: pd.DataFrame,
    behaviour: pd.DataFrame | None = None,
    metric: str = "pearson_r",
    *,
    title: str = "",
    differences: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> Any:
    """Figure: one panel per scenario, metric per layer for each side, dashed control curves.

    ``differences`` (from :func:`llm_behavior.probes.probing.compare_sides`, same metric): layers
    where the two models differ at level ``alpha`` are marked with a black star.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    scenarios = [s for s in SCENARIOS if s in set(summary["scenario"])]
    ncols = 2 if len(scenarios) > 1 else 1
    nrows = (len(scenarios) + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(6 * ncols, 3.6 * nrows + 0.9), squeeze=False, sharey=True
    )
    markers = {"reference": "o", "candidate": "s"}
    for ax, scenario in zip(axes.flat, scenarios):
        part = summary[summary["scenario"] == scenario]
        for side, unsorted in part.groupby("side", sort=False):
            rows = unsorted.sort_values("layer")
            color = SIDE_COLORS.get(str(side))
            ax.plot(
                rows["layer"],
                rows[metric],
                marker=markers.get(str(side), "^"),
                ms=3,
                color=color,
                label=f"{side}",
            )
            std = f"{metric}_std"
            if std in rows and rows[std].notna().any():
                ax.fill_between(
                    rows["layer"],
                    rows[metric] - rows[std],
                    rows[metric] + rows[std],
                    color=color,
                    alpha=0.15,
                )
            ctrl = f"control_{metric}"
            if ctrl in rows and rows[ctrl].notna().any():
                ax.plot(
                    rows["layer"],
                    rows[ctrl],
                    ls="--",
                    color=color,
                    alpha=0.8,
                    label=f"{side} control",
                )
        if differences is not None and not differences.empty:
            sig = differences[
                (differences["scenario"] == scenario) & (differences["p_value"] < alpha)
            ]
            if len(sig):
                top = part.groupby("layer")[metric].max()
                ax.scatter(
                    sig["layer"],
                    top.reindex(sig["layer"]).to_numpy() + 0.04,
                    marker="*",
                    color="black",
                    s=40,
                    zorder=5,
                    label=f"models differ (p < {alpha})",
                )
        spec = SCENARIOS[scenario]
        n_text = size_text(part)
        ax.set_title(
            f"{scenario}: {spec['label']} toxicity from {spec['encoding']} encodings"
            + (f"\n{n_text}" if n_text else ""),
            fontsize=10,
        )
        ax.set_xlabel("layer (0 = embeddings)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric.replace("_", " "))
        ax.axhline(0, color="black", lw=0.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(scenarios) :]:
        ax.axis("off")
    text = _behaviour_text(behaviour)
    fig.suptitle((title + "\n" if title else "") + text, fontsize=9)
    fig.tight_layout()
    return fig


def probing_figures(
    summary: pd.DataFrame,
    behaviour: pd.DataFrame | None,
    title: str,
    differences: pd.DataFrame | None = None,
) -> tuple[Any, Any]:
    """Pearson r per layer (with control curves, stars where the sides differ) and MDL
    compression per layer (R^2 where there are no codes), both models together; the r figure's
    title says how many runs (folds x seeds) stand behind each mean and band."""
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
