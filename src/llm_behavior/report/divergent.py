"""The prompts on which the two sides' behaviour
scores differ most, and where in the text they differ.

Per token of a generated text x (after the prompt as each side renders it), the report shows the
pointwise log-likelihood ratio  r_t = log p_candidate(x_t | x_<t) - log p_reference(x_t | x_<t).
Its mean over texts sampled from the candidate estimates KL(candidate || reference) per token, so
positive tokens are those the candidate makes more likely than the reference would.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.divergence.decoding import token_pieces
from llm_behavior.models.base import LanguageModel, require_transformers

log = logging.getLogger(__name__)

DIVERGENT_COLUMNS: tuple[str, ...] = (
    "rank",
    "prompt_id",
    "prompt",
    "side",
    "sample",
    "text",
    "score",
    "prompt_mean_reference",
    "prompt_mean_candidate",
    "prompt_difference",
)


def top_divergent_texts(
    scores: pd.DataFrame,
    generations: dict[str, pd.DataFrame],
    *,
    scorer: str,
    metric: str,
    n_prompts: int = 10,
) -> pd.DataFrame:
    """For the ``n_prompts`` prompts with the largest |mean candidate - mean reference| score,
    each side's highest-scoring sample (one row per prompt and side).

    ``scores`` is the long scores table; ``generations`` maps side -> generations table. Prompts
    that a side did not score (or scored NaN only) are left out; ties keep the prompt order.
    """
    sel = scores[(scores["scorer"] == scorer) & (scores["metric"] == metric)]
    sel = sel[sel["side"].isin(["reference", "candidate"])].dropna(subset=["value"])
    if sel.empty:
        raise ValueError(
            f"no scores for scorer {scorer!r}, metric "
            f"{metric!r} on the reference and candidate sides"
        )
    # prompts scored on both sides only
    means = sel.groupby(["prompt_id", "side"])["value"].mean().unstack("side")
    means = means.reindex(columns=["reference", "candidate"]).dropna()
    means["difference"] = means["candidate"] - means["reference"]
    order = means["difference"].abs().sort_values(ascending=False, kind="stable").index[:n_prompts]
    rows = []
    for rank, prompt_id in enumerate(order, start=1):
        for side in ("reference", "candidate"):
            side_scores = sel[(sel["prompt_id"] == prompt_id) & (sel["side"] == side)]
            best = side_scores.sort_values(["value", "sample"], ascending=[False, True]).iloc[0]
            gen = generations[side]
            match = gen[(gen["prompt_id"] == prompt_id) & (gen["sample"] == best["sample"])]
            if match.empty:
                raise ValueError(
                    f"{side} generations lack prompt {prompt_id!r} "
                    f"sample {best['sample']} that was scored"
                )
            g = match.iloc[0]
            rows.append(
                {
                    "rank": rank,
                    "prompt_id": prompt_id,
                    "prompt": g["prompt"],
                    "side": side,
                    "sample": int(best["sample"]),
                    "text": g["text"],
                    "score": float(best["value"]),
                    "prompt_mean_reference": float(means.at[prompt_id, "reference"]),
                    "prompt_mean_candidate": float(means.at[prompt_id, "candidate"]),
                    "prompt_difference": float(means.at[prompt_id, "difference"]),
                }
            )
    return pd.DataFrame(rows, columns=list(DIVERGENT_COLUMNS))


def scored_by(scores: pd.DataFrame, scorer: str | None, metric: str) -> str | None:
    """The scorer whose ``metric`` scores rank the prompts, None when the long ``scores`` have
    none. A behaviour that leaves its scorer implicit (None) means the one scorer that reports the
    metric (None when no scorer or several do)."""
    if scorer is None:
        scorers = sorted(scores.loc[scores["metric"] == metric, "scorer"].unique())
        scorer = scorers[0] if len(scorers) == 1 else None
    present = (
        scorer is not None and ((scores["scorer"] == scorer) & (scores["metric"] == metric)).any()
    )
    return scorer if present else None


def behaviour_divergent_texts(
    scores: pd.DataFrame,
    generations: dict[str, pd.DataFrame],
    *,
    behaviour: str,
    scorer: str | None,
    metric: str,
    n_prompts: int,
) -> pd.DataFrame:
    """:func:`top_divergent_texts` by ``behaviour``'s scores (scorer resolved by
    :func:`scored_by`); a behaviour that was not scored gives an empty table, with a warning."""
    found = scored_by(scores, scorer, metric)
    if found is None:
        log.warning(
            "reporting: no %s scores for behaviour %r; the report has no divergent prompts",
            metric,
            behaviour,
        )
        return pd.DataFrame(columns=list(DIVERGENT_COLUMNS))
    return top_divergent_texts(
        scores, generations, scorer=found, metric=metric, n_prompts=n_prompts
    )


def _continuation_ids(lm: Any, context: str, text: str) -> list[int]:
    """The text's token ids as ``lm.loglikelihood`` splits them (transformers backend only)."""
    return list(require_transformers(lm, "Per-token divergence").encode_pair(context, text)[1])


def token_log_ratios(
    texts: pd.DataFrame, reference: LanguageModel, candidate: LanguageModel, *, batch_size: int = 8
) -> pd.DataFrame:
    """Add per-token ``token_pieces`` and ``token_log_ratio``
    (candidate - reference, nats) to ``texts``.

    Each side conditions on the prompt as it renders it (its own chat template and system prompt).
    Rows with an empty text, or whose text the two sides tokenise differently, get empty lists and a
    ``token_note`` saying why (nothing is dropped).
    """
    out = texts.copy()
    pieces: list[list[str]] = [[] for _ in range(len(out))]
    ratios: list[list[float]] = [[] for _ in range(len(out))]
    notes = [""] * len(out)
    todo: list[int] = []
    ids_of: dict[int, list[int]] = {}
    for i, row in enumerate(out.itertuples(index=False)):
        if not str(row.text).strip():
            notes[i] = "empty text"
            continue
        ref_ids = _continuation_ids(reference, reference.format_prompt(row.prompt), row.text)
        cand_ids = _continuation_ids(candidate, candidate.format_prompt(row.prompt), row.text)
        if ref_ids != cand_ids:
            notes[i] = "the two models tokenise this text differently"
            continue
        todo.append(i)
        ids_of[i] = cand_ids
    if todo:
        rows = [out.iloc[i] for i in todo]
        lp_ref = reference.loglikelihood(
            [(reference.format_prompt(r["prompt"]), r["text"]) for r in rows], batch_size=batch_size
        )
        lp_cand = candidate.loglikelihood(
            [(candidate.format_prompt(r["prompt"]), r["text"]) for r in rows], batch_size=batch_size
        )
        for i, a, b in zip(todo, lp_ref, lp_cand):
            diff = np.asarray(b.token_logprobs, dtype=float) - np.asarray(
                a.token_logprobs, dtype=float
            )
            ratios[i] = diff.tolist()
            pieces[i] = token_pieces(
                require_transformers(candidate, "Per-token divergence").tokenizer, ids_of[i]
            )
    out["token_pieces"] = pieces
    out["token_log_ratio"] = ratios
    out["mean_log_ratio"] = [float(np.mean(r)) if r else float("nan") for r in ratios]
    out["token_note"] = notes
    return out
