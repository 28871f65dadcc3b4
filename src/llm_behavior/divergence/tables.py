"""Tables of contrastive texts (ranked by divergence) and their colour-coded HTML token view."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from llm_behavior.divergence.decoding import ContrastiveSettings, ContrastiveText
from llm_behavior.report.html import shaded_tokens

DIRECTIONS: tuple[str, ...] = ("forward", "reverse", "symmetric")

TEXT_COLUMNS: tuple[str, ...] = (
    "rank",
    "prompt_id",
    "sample",
    "prompt",
    "text",
    "mode",
    "direction",  # which per-text mean ``divergence`` is
    "divergence",  # the ``direction``'s mean over generated positions
    "divergence_forward",  # mean KL(p_s || p_c) over generated positions
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


def text_divergence(text: ContrastiveText, direction: str = "forward") -> float:
    """A text's mean per-token divergence: KL(p_s || p_c) (forward), KL(p_c || p_s) (reverse) or their mean."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if direction == "forward":
        return text.mean_kl
    if direction == "reverse":
        return text.mean_kl_reverse
    return (text.mean_kl + text.mean_kl_reverse) / 2


def texts_frame(
    texts: Sequence[ContrastiveText],
    prompt_ids: Sequence[str] | None = None,
    settings: ContrastiveSettings | None = None,
    *,
    direction: str = "forward",
) -> pd.DataFrame:
    """One row per decoded text, ranked by ``divergence`` (the ``direction``'s; 1 = most divergent)."""
    mode = settings.mode if settings is not None else ""
    rows = [
        {
            "prompt_id": str(prompt_ids[t.prompt_index]) if prompt_ids is not None else str(t.prompt_index),
            "sample": t.sample,
            "prompt": t.prompt,
            "text": t.text,
            "mode": mode,
            "direction": direction,
            "divergence": text_divergence(t, direction),
            "divergence_forward": t.mean_kl,
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


DIRECTION_LABELS: dict[str, str] = {
    "forward": "KL(p_s || p_c)",
    "reverse": "KL(p_c || p_s)",
    "symmetric": "(KL(p_s || p_c) + KL(p_c || p_s)) / 2",
}


def token_values(row: pd.Series, direction: str = "forward") -> np.ndarray:
    """A text's per-token divergences in ``direction`` (symmetric: the mean of both directions)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    fwd = np.asarray(row["token_kl"], dtype=float)
    if direction == "forward":
        return fwd
    rev = np.asarray(row["token_kl_reverse"], dtype=float)
    return rev if direction == "reverse" else (fwd + rev) / 2


def divergence_html(
    frame: pd.DataFrame,
    *,
    title: str = "Where the two models diverge",
    max_texts: int = 50,
    direction: str = "forward",
    vmax: float | None = None,
) -> str:
    """A self-contained HTML page: the top texts by mean divergence in ``direction``, each token shaded by it.

    ``vmax`` (the value shaded fully red) defaults to the 99th percentile of all token values.
    """
    if frame.empty:
        return f"<!doctype html><html><body><h1>{html.escape(title)}</h1><p>No texts.</p></body></html>"
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
        ".text{font-family:monospace;white-space:pre-wrap;border:1px solid #ddd;padding:.5em;margin:.3em 0 1.2em}"
        ".meta{color:#555;font-size:90%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Each generated token is shaded by {html.escape(label)} between the two models' next-token distributions "
        f"at that position (raw logits); full red = {scale:.3f} nats or more. Hover a token for its value. "
        "Texts are ordered by their mean over generated tokens.</p>",
    ]
    for i in order:
        row = frame.iloc[i]
        side = f" ({html.escape(str(row['side']))} model's text)" if "side" in row else ""
        parts.append(
            f"<div class='meta'>#{int(row['rank']) if 'rank' in row else ''} prompt <b>{html.escape(str(row['prompt_id']))}</b>"
            f" sample {row['sample']}{side}: mean {html.escape(label)} {means[i]:.4f}; mean KL(p_s || p_c)"
            f" {np.mean(row['token_kl']):.4f}, KL(p_c || p_s) {np.mean(row['token_kl_reverse']):.4f};"
            f" perplexity starting {row['perplexity_starting']:.2f}, comparison {row['perplexity_comparison']:.2f}</div>"
        )
        parts.append(f"<div class='meta'>Prompt: {html.escape(str(row['prompt']))}</div>")
        parts.append(f"<div class='text'>{token_spans(list(row['token_pieces']), list(values[i]), scale)}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
