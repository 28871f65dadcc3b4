"""The contrastive search's headline: random bundled prompts vs assistant prompts vs the chosen set,
and the contrast labels that held up on held-out texts."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)


def search_headline(
    records: pd.DataFrame,
    cycles: pd.DataFrame,
    searched: pd.DataFrame,
    clusters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Headline figures: random bundled prompts (the seeds) vs assistant prompts vs the chosen set,
    and the labels that held up on held-out texts."""
    scored = records[records["status"] == "scored"]
    seeds, proposed = scored[scored["origin"] == "seed"], scored[scored["origin"] == "assistant"]
    out: dict[str, Any] = {
        "mean_divergence_random_bundled_prompts": _mean(seeds["divergence"]),
        "n_random_bundled_prompts": len(seeds),
        "mean_divergence_assistant_prompts": _mean(proposed["divergence"]),
        "n_assistant_prompts_scored": len(proposed),
        "mean_divergence_selected_at_search": _mean(searched["divergence"]),
        "n_selected": len(searched),
        "assistant_answers": int(cycles.get("answers", pd.Series(dtype=float)).fillna(0).sum()),
        "malformed_answers": int(
            cycles.get("malformed_answers", pd.Series(dtype=float)).fillna(0).sum()
        ),
        "duplicates": int((records["status"] == "duplicate").sum()),
        "rejected_by_criterion": int((records["status"] == "rejected_by_criterion").sum()),
    }
    if "divergence_fresh" in searched.columns:
        for split in ("search", "heldout"):
            part = searched[searched["split"] == split]
            out[f"mean_divergence_fresh_{split}"] = _mean(part["divergence_fresh"])
    if clusters:
        out.update(_validated_headline(clusters))
    logger.info(
        "Prompt search: mean divergence of random bundled prompts %s, of assistant prompts %s, "
        "of the chosen held-out prompts on fresh generations %s",
        _shown(out["mean_divergence_random_bundled_prompts"]),
        _shown(out["mean_divergence_assistant_prompts"]),
        _shown(out.get("mean_divergence_fresh_heldout")),
    )
    if clusters:
        shown = "; ".join(
            f"{d['describes']}: {d['label']!r} (AUC "
            f"{d['auc']:.2f}, adjusted p {d['p_adjusted']:.3g})"
            for d in out["validated_differences"][:5]
        )
        logger.info(
            "Divergence summaries: %d of %d contrast labels validated on held-out texts (%s)%s",
            out["summary_labels_validated"], out["summary_labels_tested"],
            out["summary_validation"],
            f": {shown}" if shown else "",
        )  # fmt: skip
    return out


def _validated_headline(clusters: dict[str, Any]) -> dict[str, Any]:
    """How many contrast labels were tested and which held up (adjusted p <= alpha), best first."""
    settings, counts = clusters.get("settings", {}), clusters.get("counts", {})
    validated = [
        {k: c.get(k) for k in ("describes", "label", "auc", "p_value", "p_adjusted", "pair")}
        for c in clusters.get("contrasts", [])
        if c.get("validated")
    ]
    return {
        "summary_labels_tested": counts.get("n_tested", 0),
        "summary_labels_validated": len(validated),
        "summary_validation": (
            f"{settings.get('judge')} judge on "
            f"{counts.get('n_validation_prompts', 0)} held-out prompts, "
            "one-sided within-prompt permutation test of the AUC, "
            f"{settings.get('correction')}-adjusted p <= "
            f"{settings.get('alpha')}"
        ),
        "validated_differences": validated,
    }


def _mean(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.mean()) if len(v) else None


def _shown(value: float | None) -> str:
    """A mean for the log: four decimals, or "n/a" where there was nothing to average."""
    return "n/a" if value is None else f"{value:.4f}"
