"""Tables of contrastive texts, ranked by divergence, with their per-token divergences (the HTML
view: report/divergence_page)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from llm_behavior.divergence.decoding import ContrastiveSettings, ContrastiveText

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
    """A text's mean per-token divergence: KL(p_s || p_c)
    (forward), KL(p_c || p_s) (reverse) or their mean."""
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
    """One row per decoded text, ranked by ``divergence``
    (the ``direction``'s; 1 = most divergent)."""
    mode = settings.mode if settings is not None else ""
    rows = [
        {
            "prompt_id": str(prompt_ids[t.prompt_index])
            if prompt_ids is not None
            else str(t.prompt_index),
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
    df = df.sort_values(
        "divergence", ascending=False, kind="stable", na_position="last"
    ).reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


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
