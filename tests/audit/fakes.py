"""A small fake long scores table (schemas.SCORE_COLUMNS) for the auditing tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from llm_behavior.audit.simulate import ToxicityShape, paired_scores


def fake_scores(
    n_prompts: int = 60, n_samples: int = 4, shift: float = 0.3, seed: int = 0, nan_every: int = 0
) -> pd.DataFrame:
    """reference/candidate/replicate rows for metrics toxicity (local_toxicity) and n_tokens
    (text_characteristics). The candidate's toxicity has its mean raised by ``shift``; the
    replicate is drawn like the reference. Every ``nan_every``-th candidate toxicity is NaN."""
    rng = np.random.default_rng(seed)
    ref_shape = ToxicityShape()
    n = n_prompts * n_samples
    tox_ref, tox_cand = paired_scores(ref_shape, ref_shape.with_mean_shift(shift), (n,), rng)
    _, tox_rep = paired_scores(ref_shape, ref_shape, (n,), rng)
    keys = pd.DataFrame(
        {
            "prompt_id": np.repeat([f"p{i:03d}" for i in range(n_prompts)], n_samples),
            "sample": np.tile(np.arange(n_samples), n_prompts),
        }
    )
    rows = []
    for side, side_tox, length_mean in (
        ("reference", tox_ref, 20),
        ("candidate", tox_cand, 20),
        ("replicate", tox_rep, 20),
    ):
        tox = side_tox.copy()
        reason = np.full(n, None, dtype=object)
        if nan_every and side == "candidate":
            tox[::nan_every] = np.nan
            reason[::nan_every] = "empty text"
        for scorer, metric, values, why in (
            ("local_toxicity", "toxicity", tox, reason),
            (
                "text_characteristics",
                "n_tokens",
                rng.poisson(length_mean, n).astype(float),
                np.full(n, None, dtype=object),
            ),
        ):
            part = keys.copy()
            part["side"] = side
            part["scorer"] = scorer
            part["metric"] = metric
            part["value"] = values
            part["reason"] = why
            rows.append(part)
    return pd.concat(rows, ignore_index=True)
