"""Figures of an audit: wealth trajectories against their rejection thresholds (the rejection points
marked), and the sides' score distributions as ECDFs (readable where they overlap)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Fixed colours and line styles per side, so that the figures never rely on blended translucency.
SIDE_STYLES = {
    "reference": {"color": "#1f77b4", "ls": "-"},
    "candidate": {"color": "#d62728", "ls": "-"},
    "replicate": {"color": "#7f7f7f", "ls": "--"},
}


def first_crossing(log_wealth: np.ndarray, threshold: float) -> int | None:
    """1-based index of the first step whose wealth reaches ``threshold`` (None: never)."""
    hit = np.flatnonzero(np.asarray(log_wealth, dtype=float) >= np.log(threshold) - 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def wealth_figure(
    log_wealth: Mapping[str, np.ndarray],
    alpha: float,
    per_behaviour_threshold: float | None = None,
    title: str = "Audit wealth",
    unit: str = "pairs",
) -> Figure:
    """Wealth (log scale) against the data seen (``unit``: pairs or prompts), with the rejection
    line 1/alpha for ``combined``, the per-behaviour line, and a marker where each trajectory first
    reaches its line (the rejection point)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    combined_line = 1.0 / alpha
    behaviour_line = per_behaviour_threshold or combined_line
    n_steps = max((np.asarray(v).size for v in log_wealth.values()), default=1)
    n_marked = 0
    for name, values in log_wealth.items():
        lw = np.asarray(values, dtype=float)
        steps = np.arange(1, lw.size + 1)
        style = {"lw": 2.2, "color": "black"} if name == "combined" else {"lw": 1.2}
        (line,) = ax.plot(steps, np.exp(np.clip(lw, -700, 700)), label=name, **style)
        stop = first_crossing(lw, combined_line if name == "combined" else behaviour_line)
        if stop is not None:
            point = (stop, float(np.exp(min(lw[stop - 1], 700))))
            ax.plot(
                *point,
                marker="o",
                ms=7,
                color=line.get_color(),
                markeredgecolor="black",
                ls="none",
                zorder=5,
            )
            right = stop > 0.6 * n_steps  # labels near the right edge go to the left of the point
            ax.annotate(
                f"{name} rejects at {stop}",
                point,
                textcoords="offset points",
                fontsize=8,
                zorder=6,
                xytext=(-8 if right else 8, 14 + 12 * n_marked),
                ha="right" if right else "left",
                color=line.get_color(),
                arrowprops={"arrowstyle": "-", "color": line.get_color(), "lw": 0.8},
                bbox={
                    "boxstyle": "round,pad=0.2",
                    "fc": "white",
                    "ec": line.get_color(),
                    "lw": 0.8,
                },
            )
            n_marked += 1
    ax.axhline(combined_line, color="red", ls="--", label=f"1/alpha = {combined_line:g} (combined)")
    if per_behaviour_threshold is not None and per_behaviour_threshold != combined_line:
        ax.axhline(
            per_behaviour_threshold,
            color="orange",
            ls=":",
            label=f"K/alpha = {per_behaviour_threshold:g} (per behaviour)",
        )
    ax.set_yscale("log")
    ax.set_xlabel(f"{unit} seen")
    ax.set_ylabel("wealth (e-value), log scale")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted values, fraction of values <= each), NaN dropped."""
    v = np.sort(np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))])
    return v, np.arange(1, v.size + 1) / max(v.size, 1)


def distributions_figure(
    scores: Mapping[str, Mapping[str, np.ndarray]],
    title: str = "Score distributions (ECDF)",
    xlabels: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per behaviour: each side's empirical CDF of its scores (NaN ignored). A curve to
    the right of another means higher scores; the largest vertical gap is the Kolmogorov-Smirnov
    distance. ``xlabels``: per behaviour, what its x axis is (default: the audited score in [0,
    1])."""
    names = list(scores)
    fig, axes = plt.subplots(
        1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.6), squeeze=False
    )
    for ax, name in zip(axes[0], names, strict=False):
        for side, values in scores[name].items():
            x, y = ecdf(values)
            style = SIDE_STYLES.get(side, {"ls": "-."})
            mean = f"{x.mean():.3f}" if x.size else "n/a"
            if x.size:
                ax.step(
                    np.concatenate([[0.0], x]),
                    np.concatenate([[0.0], y]),
                    where="post",
                    lw=1.6,
                    label=f"{side} (n={x.size}, mean={mean})",
                    **style,
                )
            else:
                ax.plot([], [], label=f"{side} (no scores)", **style)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(0.0, 1.02)
        ax.set_title(name)
        ax.set_xlabel((xlabels or {}).get(name, "audited score in [0, 1]"))
        ax.set_ylabel("fraction of texts with score \u2264 x")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
