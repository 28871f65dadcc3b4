"""The contrastive search's HTML page: the top texts by divergence, each token shaded by its KL."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from llm_behavior.divergence.tables import DIRECTION_LABELS, token_values
from llm_behavior.report.html import shaded_tokens


def _red(value: float, vmax: float) -> str:
    """White -> red background for a divergence value (alpha = value / vmax, capped at 1)."""
    alpha = 0.0 if not math.isfinite(value) or vmax <= 0 else min(max(value / vmax, 0.0), 1.0)
    return f"rgba(220, 38, 38, {alpha:.3f})"


def kl_token_spans(pieces: Sequence[str], values: Sequence[float], vmax: float) -> str:
    """HTML spans, one per token, coloured by its divergence (tooltip: the value)."""
    return shaded_tokens(pieces, values, lambda v: _red(v, vmax), lambda v: f"KL {v:.4f}")


def divergence_html(
    frame: pd.DataFrame,
    *,
    title: str = "Where the two models diverge",
    max_texts: int = 50,
    direction: str = "forward",
    vmax: float | None = None,
) -> str:
    """A self-contained HTML page: the top texts by mean
    divergence in ``direction``, each token shaded by it.

    ``vmax`` (the value shaded fully red) defaults to the 99th percentile of all token values.
    """
    if frame.empty:
        return (
            f"<!doctype html><html><body><h1>{html.escape(title)}</h1>"
            "<p>No texts.</p></body></html>"
        )
    values = [token_values(row, direction) for _, row in frame.iterrows()]
    means = np.array([v.mean() if v.size else np.nan for v in values])
    order = np.argsort(-np.nan_to_num(means, nan=-np.inf), kind="stable")[:max_texts]
    all_values = np.concatenate([v for v in values if v.size] or [np.zeros(1)])
    scale = float(vmax) if vmax is not None else float(np.nanpercentile(all_values, 99))
    label = DIRECTION_LABELS[direction]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        ".text{font-family:monospace;white-space:pre-wrap;border:1px solid #ddd;padding:.5em;"
        "margin:.3em 0 1.2em}"
        ".meta{color:#555;font-size:90%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Each generated token is shaded by {html.escape(label)} "
        "between the two models' next-token distributions "
        f"at that position (raw logits); full red = {scale:.3f} "
        "nats or more. Hover a token for its value. "
        "Texts are ordered by their mean over generated tokens.</p>",
    ]
    for i in order:
        row = frame.iloc[i]
        side = f" ({html.escape(str(row['side']))} model's text)" if "side" in row else ""
        parts.append(
            f"<div class='meta'>#{int(row['rank']) if 'rank' in row else ''} prompt "
            f"<b>{html.escape(str(row['prompt_id']))}</b>"
            f" sample {row['sample']}{side}: mean "
            f"{html.escape(label)} {means[i]:.4f}; mean KL(p_s || p_c)"
            f" {np.mean(row['token_kl']):.4f}, KL(p_c || p_s) "
            f"{np.mean(row['token_kl_reverse']):.4f};"
            f" perplexity starting {row['perplexity_starting']:.2f}, comparison "
            f"{row['perplexity_comparison']:.2f}</div>"
        )
        parts.append(f"<div class='meta'>Prompt: {html.escape(str(row['prompt']))}</div>")
        parts.append(
            "<div class='text'>"
            f"{kl_token_spans(list(row['token_pieces']), list(values[i]), scale)}</div>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)
