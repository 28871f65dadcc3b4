"""Multiple-choice scoring and calibration (accuracy, top-label ECE with equal-mass bins, Brier).

An item's options are scored by the mean token log-likelihood of ``" " + option`` after the
context ("Question: ...\nAnswer:"; the profile formats it per side,
:mod:`llm_behavior.profiles.requests`), all items' options in one batched
:meth:`LanguageModel.loglikelihood` call. The prediction is the option with the highest mean
log-likelihood; the model's *confidence distribution* over options is the softmax of those mean
log-likelihoods, and the *confidence* of an item is its largest entry (top-label confidence).

ECE (top-label, equal-mass binning): items are sorted by confidence and split into ``n_bins``
consecutive bins whose sizes differ by at most one (``numpy.array_split``; items with equal
confidence always share a bin, so the result does not depend on item order);
ECE = sum_b (n_b / n) * |accuracy_b - mean confidence_b|. With one bin it is
|accuracy - mean confidence| (overall over/under-confidence).
Brier score: mean over items of sum_k (p_k - 1[k = gold])^2 over the item's options
(0 best, 2 worst).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.profiles.items import empty_items, to_items

CALIBRATION_DEFINITION = (
    "confidence = max softmax over the options' mean token log-likelihoods; "
    "top-label ECE with equal-mass bins (items sorted "
    "by confidence, numpy.array_split into {bins} bins, "
    "ties kept in one bin); "
    "Brier = mean over items of sum over options (p_k - 1[k=gold])^2"
)


def qa_context(question: str) -> str:
    return f"Question: {question.strip()}\nAnswer:"


def score_options(
    lm: LanguageModel,
    contexts: Sequence[str],
    options: Sequence[Sequence[str]],
    *,
    batch_size: int = 16,
) -> list[np.ndarray]:
    """Mean token log-likelihood of ``" " + option`` given each context: one array per item.

    One batched :meth:`LanguageModel.loglikelihood` call for all (context, option) pairs; the
    transformers backend computes each item's context once for all its options (shared prefixes,
    :mod:`llm_behavior.models.packing`).
    """
    requests = option_requests(contexts, options)
    lls = lm.loglikelihood(requests, batch_size=batch_size) if requests else []
    out, k = [], 0
    for opts in options:
        out.append(np.array([ll.mean_logprob for ll in lls[k : k + len(opts)]], dtype=float))
        k += len(opts)
    return out


def option_requests(
    contexts: Sequence[str], options: Sequence[Sequence[str]]
) -> list[tuple[str, str]]:
    """(context, ``" " + option``) for every option of every item, item-major."""
    if len(contexts) != len(options):
        raise ValueError(f"{len(contexts)} contexts for {len(options)} option lists")
    return [(ctx, " " + str(o).strip()) for ctx, opts in zip(contexts, options) for o in opts]


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - np.max(x))
    return z / z.sum()


def multiple_choice_items(
    scores: Sequence[np.ndarray], answer_index: Sequence[int], item_ids: Sequence[int]
) -> pd.DataFrame:
    """Per item: correct (0/1), confidence (top-label), brier, p_gold, predicted (option index)."""
    rows = []
    for item_id, s, gold in zip(item_ids, scores, answer_index):
        p = softmax(s)
        pred = int(np.argmax(s))
        onehot = np.zeros(len(p))
        onehot[int(gold)] = 1.0
        rows.append(
            {
                "item_id": int(item_id),
                "predicted": pred,
                "correct": float(pred == int(gold)),
                "confidence": float(p[pred]),
                "p_gold": float(p[int(gold)]),
                "brier": float(np.sum((p - onehot) ** 2)),
            }
        )
    return pd.DataFrame(rows)


def equal_mass_bins(confidence: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Index arrays of ``n_bins`` equal-mass bins of items sorted by confidence.

    Bin sizes follow ``numpy.array_split`` (differ by at most one), except that items with equal
    confidence are never split between bins: a boundary inside a run of ties moves to the end of
    the run (so the result does not depend on the order of the items; bins can then be fewer).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf = np.asarray(confidence, dtype=float)
    order = np.argsort(conf, kind="stable")
    c = conf[order]
    n = len(c)
    if n == 0:
        return []
    sizes = [len(b) for b in np.array_split(np.arange(n), min(n_bins, n))]
    edges = []
    for boundary in np.cumsum(sizes)[:-1]:
        e = int(boundary)
        while e < n and c[e] == c[e - 1]:
            e += 1
        if e < n and (not edges or e > edges[-1]):
            edges.append(e)
    return [b for b in np.split(order, edges) if len(b)]


def ece_equal_mass(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """Top-label expected calibration error with equal-mass bins (see the module docstring)."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    n = len(confidence)
    if n == 0:
        return float("nan")
    return float(
        sum(
            len(b) / n * abs(correct[b].mean() - confidence[b].mean())
            for b in equal_mass_bins(confidence, n_bins)
        )
    )


def reliability_table(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> pd.DataFrame:
    """One row per equal-mass bin: bin, n, conf_low, conf_high, mean_confidence, accuracy."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    rows = []
    for i, b in enumerate(equal_mass_bins(confidence, n_bins)):
        rows.append(
            {
                "bin": i,
                "n": len(b),
                "conf_low": float(confidence[b].min()),
                "conf_high": float(confidence[b].max()),
                "mean_confidence": float(confidence[b].mean()),
                "accuracy": float(correct[b].mean()),
            }
        )
    return pd.DataFrame(rows)


def calibration_items(
    lm: LanguageModel,
    datasets: dict[str, pd.DataFrame],
    *,
    batch_size: int = 16,
) -> pd.DataFrame:
    """Long items table for multiple-choice datasets
    {name: frame(item_id, question, options, answer_index)}.

    All datasets' options are scored in one batched call. Metrics per item: correct, confidence,
    brier, p_gold. Requests go to ``lm`` as built (the profile passes a
    :class:`llm_behavior.profiles.requests.FormattedLM` to score each side in its own format).
    """
    names = list(datasets)
    contexts = [qa_context(q) for n in names for q in datasets[n]["question"]]
    options = [list(o) for n in names for o in datasets[n]["options"]]
    scores = score_options(lm, contexts, options, batch_size=batch_size)
    parts, k = [], 0
    for name in names:
        df = datasets[name]
        wide = multiple_choice_items(scores[k : k + len(df)], df["answer_index"], df["item_id"])
        k += len(df)
        parts.append(
            to_items(wide, "calibration", name, ["correct", "confidence", "brier", "p_gold"])
        )
    return pd.concat(parts, ignore_index=True) if parts else empty_items()
