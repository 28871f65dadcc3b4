"""The search's best prompts as a prompt set, with a held-out split.

Why the split and the fresh generations keep an audit valid: the search picks prompts by the
divergence of *its own* generations (seeds derived from ``search.seed``). An audit that reused
those generations would test on the very noise it selected for (a winner's curse). Instead:

* the generation pipeline samples fresh continuations on the chosen prompts (other seeds), so
  the audit's data are independent of the selection given the prompts; the audit then answers
  "do the two models behave differently on this prompt set?" with its usual guarantee;
* half of the chosen prompts (``split == "heldout"``) are never used for anything else: the
  exploratory summaries (clusters, labels, the HTML view) use the ``search`` half only, so any
  hypothesis formed while reading them is checked on prompts that did not shape it.

``divergence`` is the search-time score (biased upward by the selection); ``divergence_fresh``
(when computed) re-scores the prompts on fresh generations and is the honest figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEARCHED_PROMPT_COLUMNS: tuple[str, ...] = (
    "prompt_id",
    "prompt",
    "split",  # search | heldout
    "divergence",
    "divergence_reverse",
    "origin",
    "cycle",
    "search_rank",
)


def select_searched_prompts(
    records: pd.DataFrame,
    *,
    top_n: int = 20,
    heldout_fraction: float = 0.5,
    include_seed_prompts: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """The ``top_n`` scored prompts by divergence, split at random into search / heldout.

    An infinite divergence ranks first; a scored prompt without one (NaN) is an error.
    """
    if not 0 <= heldout_fraction <= 1:
        raise ValueError(f"selection.heldout_fraction must be in [0, 1], got {heldout_fraction}")
    if top_n < 1:
        raise ValueError(f"selection.top_n must be >= 1, got {top_n}")
    pool = records[records["status"] == "scored"]
    if not include_seed_prompts:
        pool = pool[pool["origin"] != "seed"]
    nan = pool["divergence"].astype(float).isna()
    if nan.any():
        raise ValueError(
            f"{int(nan.sum())} scored prompts have no divergence (NaN), e.g. "
            f"{str(pool.loc[nan, 'prompt'].iloc[0])[:80]!r}: "
            "the search's records are damaged (a scored "
            "prompt always has a score); rerun the search"
        )
    if pool.empty:
        raise ValueError(
            "The prompt search scored no prompt to select from"
            + (
                ""
                if include_seed_prompts
                else " (seed prompts excluded: set selection.include_seed_prompts)"
            )
            + "; see the search's cycle log for malformed assistant answers."
        )
    top = pool.sort_values(
        ["divergence", "prompt_id"], ascending=[False, True], kind="stable"
    ).head(top_n)
    top = top.reset_index(drop=True)
    n_heldout = int(round(heldout_fraction * len(top)))
    if len(top) >= 2 and 0 < heldout_fraction < 1:
        n_heldout = min(max(n_heldout, 1), len(top) - 1)  # both splits non-empty
    heldout = np.random.default_rng(seed).permutation(len(top))[:n_heldout]
    split = np.full(len(top), "search", dtype=object)
    split[heldout] = "heldout"
    return pd.DataFrame(
        {
            "prompt_id": top["prompt_id"].astype(str),
            "prompt": top["prompt"].astype(str),
            "split": split,
            "divergence": top["divergence"].astype(float),
            "divergence_reverse": top["divergence_reverse"].astype(float),
            "origin": top["origin"].astype(str),
            "cycle": top["cycle"].astype(int),
            "search_rank": np.arange(1, len(top) + 1),
        },
        columns=list(SEARCHED_PROMPT_COLUMNS),
    )


def seed_prompt_sample(prompts: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A seeded random sample of the bundled prompts (all when ``n`` is None or at least their
    number): the search's seeds and its baseline."""
    if prompts.empty or "prompt" not in prompts.columns:
        raise ValueError(
            "contrastive_search needs the `prompts` table (columns prompt_id, prompt); it is empty"
        )
    if n is None or n >= len(prompts):
        return prompts.reset_index(drop=True)
    return prompts.sample(n=int(n), random_state=int(seed)).reset_index(drop=True)


def top_search_prompts(searched: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` most divergent prompts of the ``search`` split (the heldout ones stay unseen)."""
    top = searched[searched["split"] == "search"].sort_values("divergence", ascending=False)
    return top.head(int(n))
