"""Tables of contrastive texts (ranked by divergence) and their colour-coded HTML token view."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from llm_behavior.divergence.decoding import ContrastiveSettings, ContrastiveText
from llm_behavior.report.html import shaded_tokens

TEXT_COLUMNS: tuple[str, ...] = (
    "rank",
    "prompt_id",
    "sample",
    "prompt",
    "text",
    "mode",
    "divergence",  # mean KL(p_s || p_c) over generated positions
    "divergence_reverse",  # mean KL(p_c || p_s)
    "perplexity_starting",
    "perplexity_comparison",
    "n_new_tokens",
    "finish_reason",
    "seed",
    "token_pieces",
    "token_kl",
    "token_kl_reverse",
)


def texts_frame(
    texts: Sequence[ContrastiveText],
    prompt_ids: Sequence[str] | None = None,
    settings: ContrastiveSettings | None = None,
) -> pd.DataFrame:
    """One row per decoded text, ranked by divergence (1 = most divergent); per-token lists kept."""
    mode = settings.mode if settings is not None else ""
    rows = [
        {
            "prompt_id": str(prompt_ids[t.prompt_index]) if prompt_ids is not None else str(t.prompt_index),
            "sample": t.sample,
            "prompt": t.prompt,
            "text": t.text,
            "mode": mode,
            "divergence": t.mean_kl,
            "divergence_reverse": t.mean_kl_reverse,
            "perplexity_starting": t.perplexity_starting,
            "perplexity_comparison": t.perplexity_comparison,
            "n_new_tokens": t.n_tokens,
            "finish_reason": t.finish_reason,
            "seed": str(t.seed),  # 63-bit: kept exact as text
            "token_pieces": list(t.pieces),
            "token_kl": [float(x) for x in t.kl_sc],
            "token_kl_reverse": [float(x) for x in t.kl_cs],
        }
        for t in texts
    ]
    df = pd.DataFrame(rows, columns=[c for c in TEXT_COLUMNS if c != "rank"])
    df = df.sort_values("divergence", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


def _colour(value: float, vmax: float) -> str:
    """White -> red background for a divergence value (alpha = value / vmax, capped at 1)."""
    alpha = 0.0 if not math.isfinite(value) or vmax <= 0 else min(max(value / vmax, 0.0), 1.0)
    return f"rgba(220, 38, 38, {alpha:.3f})"


def token_spans(pieces: Sequence[str], values: Sequence[float], vmax: float) -> str:
    """HTML spans, one per token, coloured by its divergence (tooltip: the value)."""
    return shaded_tokens(pieces, values, lambda v: _colour(v, vmax), lambda v: f"KL {v:.4f}")


def divergence_html(
    frame: pd.DataFrame,
    *,
    title: str = "Where the two models diverge",
    max_texts: int = 50,
    column: str = "token_kl",
    vmax: float | None = None,
) -> str:
    """A self-contained HTML page: the top texts, each token shaded by its per-token divergence.

    ``vmax`` (the value shaded fully red) defaults to the 99th percentile of all token values.
    """
    if frame.empty:
        return f"<!doctype html><html><body><h1>{html.escape(title)}</h1><p>No texts.</p></body></html>"
    top = frame.sort_values("divergence", ascending=False, kind="stable").head(max_texts)
    all_values = np.concatenate([np.asarray(v, dtype=float) for v in frame[column] if len(v)] or [np.zeros(1)])
    scale = float(vmax) if vmax is not None else float(np.nanpercentile(all_values, 99)) if all_values.size else 1.0
    label = "KL(p_s || p_c)" if column == "token_kl" else "KL(p_c || p_s)"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        ".text{font-family:monospace;white-space:pre-wrap;border:1px solid #ddd;padding:.5em;margin:.3em 0 1.2em}"
        ".meta{color:#555;font-size:90%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Each generated token is shaded by {label} between the two models' next-token distributions "
        f"at that position (raw logits); full red = {scale:.3f} nats or more. Hover a token for its value.</p>",
    ]
    for _, row in top.iterrows():
        parts.append(
            f"<div class='meta'>#{int(row['rank']) if 'rank' in row else ''} prompt <b>{html.escape(str(row['prompt_id']))}</b>"
            f" sample {row['sample']}: mean KL {row['divergence']:.4f} (reverse {row['divergence_reverse']:.4f});"
            f" perplexity starting {row['perplexity_starting']:.2f}, comparison {row['perplexity_comparison']:.2f}</div>"
        )
        parts.append(f"<div class='meta'>Prompt: {html.escape(str(row['prompt']))}</div>")
        parts.append(f"<div class='text'>{token_spans(list(row['token_pieces']), list(row[column]), scale)}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
