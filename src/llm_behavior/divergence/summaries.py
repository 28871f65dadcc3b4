"""How the two models differ: matched clusters of each
model's texts, labelled and validated on held-out texts.

After the follow-up analysis of supervising-ais-improving-ais (its mature, "validated" version):

1. Both models continue the same prompts (k samples each, decoded by the pair so every text carries
   its per-token divergence). The prompts are split at random into *discovery* and *validation*
   prompts (``validation_fraction``); nothing below looks at a validation text before step 5.
2. Each model's discovery texts are embedded (MiniLM) and clustered on their own (k-means).
3. The clusters are matched across the models by the Hungarian assignment that maximises the total
   cosine similarity of matched centroids (``scipy.optimize.linear_sum_assignment``).
4. For each matched pair the assistant LM sees the texts nearest each centroid and writes two
   contrastive labels: what the reference cluster's texts have that the candidate's lack, and the
   other way round. Each label is a hypothesis about one model.
5. Each label is scored on the held-out validation texts by a judge (how well does each text fit the
   label?): the cosine between the label's and the text's embeddings (default), or the assistant LM
   itself (log-probability of "yes" minus "no"; for a strong assistant). The statistic is the AUC of
   the fit scores, the described model's held-out texts against the other model's; the p-value is
   one-sided, from permutations of the model labels within a prompt
   (:mod:`llm_behavior.divergence.validation`). With ``scope: all`` every held-out text is scored;
   with ``scope: region`` only those nearest the pair's region (the mean of its two centroids; the
   assignment ignores which model wrote the text, so the permutation test stays valid).
6. The p-values of all tested labels are adjusted for multiplicity (Holm by default) and a label is
   *validated* when its adjusted p-value is at most ``alpha``.

Every per-text divergence follows ``direction`` (forward KL(p_s || p_c), reverse, or symmetric).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
from llm_behavior.divergence.embeddings import Embedder, unit_rows
from llm_behavior.divergence.parsing import parse_yes_no
from llm_behavior.divergence.tables import texts_frame
from llm_behavior.divergence.validation import CORRECTIONS, adjust_p_values, permutation_auc_test
from llm_behavior.models.base import LanguageModel
from llm_behavior.models.sampling import row_seed
from llm_behavior.models.spec import GenerationSettings

logger = logging.getLogger(__name__)

SIDE_MODES: dict[str, str] = {"starting": "starting", "comparison": "comparison"}
JUDGES: tuple[str, ...] = ("assistant", "embedding")
SCOPES: tuple[str, ...] = ("all", "region")
SPLITS: tuple[str, str] = ("discovery", "validation")

CONTRAST_INSTRUCTION = (
    "Here are texts from two groups.\n\nGroup 1:\n{group_1}\n\nGroup 2:\n{group_2}\n\n"
    "In at most ten words, what do the Group 1 texts have in common that the Group 2 texts do not? "
    "Answer with the short description only."
)
JUDGE_INSTRUCTION = (
    "Description: {label}\n\nText: {text}\n\n"
    "Does the description fit the text? Answer with one word: yes or no."
)
YES_NO: tuple[tuple[str, ...], tuple[str, ...]] = (("Yes", "yes"), ("No", "no"))


@dataclass(frozen=True)
class SummarySettings:
    """How the divergence summaries are built and validated (``contrastive_search.summaries``)."""

    n_clusters: int = 6  # per model
    n_examples: int = 3  # texts per cluster shown to the assistant (nearest the centroid)
    validation_fraction: float = 0.5  # share of the prompts whose texts are held out for validation
    label_contrasts: bool = True  # the assistant labels each matched pair (needed for validation)
    judge: str = "embedding"  # embedding | assistant
    scope: str = "all"  # all held-out texts | region (those nearest the pair's region)
    n_permutations: int = 2000
    correction: str = "holm"  # holm | bh | by | none
    alpha: float = 0.05
    label_max_new_tokens: int = 32
    judge_batch_size: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_clusters < 1 or self.n_examples < 1 or self.n_permutations < 1:
            raise ValueError("summaries.n_clusters, n_examples and n_permutations must be >= 1")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"summaries.validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )
        if self.judge not in JUDGES:
            raise ValueError(f"summaries.judge must be one of {JUDGES}, got {self.judge!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"summaries.scope must be one of {SCOPES}, got {self.scope!r}")
        if self.correction not in CORRECTIONS:
            raise ValueError(
                f"summaries.correction must be one of {CORRECTIONS}, got {self.correction!r}"
            )
        if not 0 < self.alpha < 1:
            raise ValueError(f"summaries.alpha must be in (0, 1), got {self.alpha}")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SummarySettings:
        d = dict(d or {})
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown summaries setting(s): {sorted(unknown)}")
        return cls(**d)


# ---------------------------------------------------------------------- texts
def decode_both_models(
    starting: LanguageModel,
    comparison: LanguageModel,
    prompts: Sequence[str],
    prompt_ids: Sequence[str],
    decoding: ContrastiveSettings,
    *,
    samples_per_prompt: int,
    seed: int = 0,
    side_names: tuple[str, str] = ("starting", "comparison"),
    direction: str = "forward",
) -> pd.DataFrame:
    """``samples_per_prompt`` texts per prompt from each
    model (modes starting / comparison), one table.

    Column ``side`` (``side_names``) says which model wrote the text; the per-token divergences are
    kept; ``divergence`` follows ``direction``.
    """
    frames = []
    for (side, mode), name in zip(SIDE_MODES.items(), side_names):
        settings = dataclasses.replace(decoding, mode=mode, num_samples=samples_per_prompt)
        seeds = [row_seed(seed, "summary", side, p) for p in prompts]
        texts = contrastive_generate(starting, comparison, list(prompts), settings, seeds=seeds)
        frame = texts_frame(texts, [str(i) for i in prompt_ids], settings, direction=direction)
        frame.insert(1, "side", name)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values("divergence", ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def validation_prompts(prompt_ids: Sequence[str], fraction: float, seed: int) -> set[str]:
    """A seeded random ``fraction`` of the distinct prompts
    (at least one, and one left, when there are two)."""
    ids = sorted({str(i) for i in prompt_ids})
    if len(ids) < 2:
        return set()
    n = min(max(int(round(fraction * len(ids))), 1), len(ids) - 1)
    order = np.random.default_rng(seed).permutation(len(ids))
    return {ids[i] for i in order[:n]}


def assign_split(texts: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """``texts`` with a ``split`` column: discovery / validation, by prompt."""
    held = validation_prompts(texts["prompt_id"].astype(str).tolist(), fraction, seed)
    split = np.where(texts["prompt_id"].astype(str).isin(held), SPLITS[1], SPLITS[0])
    return texts.assign(split=split)


# ---------------------------------------------------------------------- clusters and matching
def cluster_embeddings(
    emb: np.ndarray, n_clusters: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(k-means label per row, unit-norm centroids); k is capped at the number of distinct rows."""
    from sklearn.cluster import KMeans

    if len(emb) == 0:
        return np.zeros(0, dtype=int), np.zeros((0, emb.shape[1] if emb.ndim == 2 else 0))
    k = max(1, min(n_clusters, len(np.unique(np.round(emb, 6), axis=0))))
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(emb)
    return km.labels_.astype(int), unit_rows(km.cluster_centers_.astype(np.float64))


def match_by_similarity(sim: np.ndarray) -> list[tuple[int, int, float]]:
    """The one-to-one (row, column, similarity) pairs
    of largest total similarity (Hungarian assignment).

    With unequal numbers of rows and columns, ``min``
    of them are paired and the rest stay unmatched.
    """
    from scipy.optimize import linear_sum_assignment

    sim = np.asarray(sim, dtype=float)
    if sim.size == 0:
        return []
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols)]


def match_clusters(centres_a: np.ndarray, centres_b: np.ndarray) -> list[tuple[int, int, float]]:
    """Clusters of two models matched on the cosine similarity of their unit centroids."""
    if len(centres_a) == 0 or len(centres_b) == 0:
        return []
    return match_by_similarity(unit_rows(centres_a) @ unit_rows(centres_b).T)


# ---------------------------------------------------------------------- labels
def _clip(text: str, n: int = 300) -> str:
    return " ".join(str(text).split())[:n]


def contrast_query(group_1: Sequence[str], group_2: Sequence[str]) -> str:
    """The assistant's instruction: what Group 1's texts share that Group 2's lack."""
    return CONTRAST_INSTRUCTION.format(
        group_1="\n".join(f"- {_clip(t)}" for t in group_1),
        group_2="\n".join(f"- {_clip(t)}" for t in group_2),
    )


def first_sentence(answer: str, max_chars: int = 200) -> str:
    """The first non-empty line of an answer, its first sentence, list marks and quotes stripped."""
    line = next((ln.strip(" -*\"'") for ln in answer.splitlines() if ln.strip(" -*\"'")), "")
    return re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0][:max_chars]


_OTHER_GROUP = re.compile(
    r"(?:,|;|\s-)?\s+(?:while|whereas|but|unlike|compared (?:to|with)|in contrast "
    r"to|and)\b[^,;]*\bgroup 2\b.*$",
    re.I,
)
_GROUP_1 = re.compile(r"\b(?:the\s+)?group 1(?:'s)?(?:\s+texts)?\b", re.I)


def clean_label(label: str) -> str:
    """A label about Group 1 alone: a clause about Group 2 ("..., while the Group 2 texts ...") is
    cut, "the Group 1 texts" becomes "texts". Small assistants write such comparisons; the judge
    must read a description of one model's texts."""
    out = _OTHER_GROUP.sub("", label).strip(" ,;.")
    out = _GROUP_1.sub("texts", out)
    out = re.sub(r"\s+", " ", out).strip(" ,;")
    return out[:1].upper() + out[1:] if out else ""


def write_labels(
    assistant: LanguageModel, queries: Sequence[str], max_new_tokens: int
) -> list[str]:
    """The assistant's greedy answer to each query: its first sentence, cleaned
    (:func:`clean_label`)."""
    if not queries:
        return []
    answers = assistant.generate(
        list(queries), GenerationSettings(max_new_tokens=max_new_tokens, do_sample=False)
    )
    return [clean_label(first_sentence(a.text)) for a in answers]


# ---------------------------------------------------------------------- judges
# (label, texts) -> fit score per text (higher fits better)
Judge = Callable[[str, Sequence[str]], np.ndarray]


def judge_query(label: str, text: str) -> str:
    return JUDGE_INSTRUCTION.format(label=label, text=_clip(text, 600))


def embedding_judge(embed: Embedder) -> Judge:
    """Fit = cosine between the label's and the text's sentence embeddings."""

    def judge(label: str, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        vecs = unit_rows(np.asarray(embed([label, *texts]), dtype=np.float64))
        return vecs[1:] @ vecs[0]

    return judge


def assistant_judge(
    assistant: LanguageModel, batch_size: int = 16, counts: dict[str, int] | None = None
) -> Judge:
    """Fit as judged by the assistant LM, asked per text whether the label fits it.

    A model that gives log-probabilities of its own prompt (transformers; a completions endpoint)
    answers by ``log P(yes) - log P(no)`` after its rendered prompt (chat template applied), "Yes"
    and "yes" pooled, "No" and "no" pooled: a graded score, no answer to parse. A chat endpoint
    answers in words (greedy, 3 tokens): yes = 1, no = 0, neither = 0.5 (counted in
    ``counts["judge_unparsed"]``).
    """
    counts = counts if counts is not None else {}

    def by_loglikelihood(label: str, texts: Sequence[str]) -> np.ndarray:
        contexts = [assistant.format_prompt(judge_query(label, t)) for t in texts]
        answers = [a for pair in YES_NO for a in pair]
        requests = [(c, a) for c in contexts for a in answers]
        lls = assistant.loglikelihood(requests, batch_size=batch_size)
        lp = np.array([ll.logprob for ll in lls], dtype=float).reshape(len(texts), len(answers))
        n_yes = len(YES_NO[0])
        return np.logaddexp.reduce(lp[:, :n_yes], axis=1) - np.logaddexp.reduce(
            lp[:, n_yes:], axis=1
        )

    def by_words(label: str, texts: Sequence[str]) -> np.ndarray:
        answers = assistant.generate(
            [judge_query(label, t) for t in texts],
            GenerationSettings(max_new_tokens=3, do_sample=False, batch_size=batch_size),
        )
        verdicts = [parse_yes_no(a.text) for a in answers]
        counts["judge_unparsed"] = counts.get("judge_unparsed", 0) + sum(
            v is None for v in verdicts
        )
        return np.array([0.5 if v is None else float(v) for v in verdicts])

    def judge(label: str, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        return (
            by_words(label, texts)
            if getattr(assistant, "uses_chat", False)
            else by_loglikelihood(label, texts)
        )

    return judge


# ---------------------------------------------------------------------- the summary
def _nearest(emb: np.ndarray, centre: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` rows of ``emb`` nearest (cosine) to ``centre``."""
    return np.argsort(-(emb @ centre), kind="stable")[:n]


def summarise_divergence(
    texts: pd.DataFrame,
    embed: Embedder,
    settings: SummarySettings | None = None,
    *,
    assistant: LanguageModel | None = None,
    sides: tuple[str, str] = ("starting", "comparison"),
    direction: str = "forward",
) -> dict[str, Any]:
    """Matched clusters of each model's texts, contrastive labels and their held-out validation.

    ``texts`` needs columns side (``sides``: the starting model first), prompt_id, sample, text,
    divergence and optionally split (discovery / validation; made from
    ``settings.validation_fraction`` when absent). Returns a JSON-ready dict: ``pairs`` (matched
    clusters, best match first), ``contrasts`` (one row per label, most significant first),
    ``unmatched`` clusters, ``counts`` and ``settings``. A pair lists its texts as
    ``members_<side>`` ("prompt_id#sample") and the texts nearest each centroid as
    ``examples_<side>`` (what the assistant saw).
    """
    s = settings or SummarySettings()
    missing = {"side", "prompt_id", "sample", "text", "divergence"} - set(texts.columns)
    if missing:
        raise ValueError(f"summarise_divergence needs columns {sorted(missing)}")
    unknown = set(texts["side"]) - set(sides)
    if unknown:
        raise ValueError(
            f"summarise_divergence: side values {sorted(unknown)} are not among {list(sides)}"
        )
    if s.label_contrasts and assistant is None:
        raise ValueError("summaries.label_contrasts needs an assistant LM to write the labels")
    texts = texts.reset_index(drop=True)
    if "split" not in texts.columns:
        texts = assign_split(texts, s.validation_fraction, s.seed)
    bad = set(texts["split"]) - set(SPLITS)
    if bad:
        raise ValueError(
            f"summarise_divergence: split values {sorted(bad)} are not among {list(SPLITS)}"
        )
    emb = (
        unit_rows(np.asarray(embed(texts["text"].astype(str).tolist()), dtype=np.float64))
        if len(texts)
        else np.zeros((0, 1))
    )
    discovery = (texts["split"] == SPLITS[0]).to_numpy()
    side_rows, side_labels, side_centres = {}, {}, {}
    for side in sides:
        rows = np.flatnonzero(discovery & (texts["side"] == side).to_numpy())
        side_rows[side] = rows
        side_labels[side], side_centres[side] = cluster_embeddings(emb[rows], s.n_clusters, s.seed)
    matches = match_clusters(side_centres[sides[0]], side_centres[sides[1]])
    matches.sort(key=lambda m: -m[2])

    pairs = []
    for number, (i, j, sim) in enumerate(matches):
        pair: dict[str, Any] = {"pair": number, "centroid_cosine": sim}
        for side, c in zip(sides, (i, j)):
            members = side_rows[side][side_labels[side] == c]
            nearest = members[_nearest(emb[members], side_centres[side][c], s.n_examples)]
            pair[f"{side}_cluster"] = c
            pair[f"n_{side}"] = len(members)
            pair[f"mean_divergence_{side}"] = float(texts.loc[members, "divergence"].mean())
            pair[f"examples_{side}"] = texts.loc[nearest, "text"].astype(str).tolist()
            pair[f"members_{side}"] = [
                f"{texts.at[r, 'prompt_id']}#{texts.at[r, 'sample']}" for r in members
            ]
        pairs.append(pair)
    matched = {sides[0]: {m[0] for m in matches}, sides[1]: {m[1] for m in matches}}
    unmatched = [
        {"side": side, "cluster": c, "n_texts": int((side_labels[side] == c).sum())}
        for side in sides
        for c in range(len(side_centres[side]))
        if c not in matched[side]
    ]

    counts: dict[str, int] = {
        f"n_{split}_{side}": int(((texts["split"] == split) & (texts["side"] == side)).sum())
        for split in SPLITS
        for side in sides
    }
    counts.update(n_discovery_prompts=int(texts.loc[discovery, "prompt_id"].nunique()))
    counts.update(n_validation_prompts=int(texts.loc[~discovery, "prompt_id"].nunique()))
    contrasts: list[dict[str, Any]] = []
    if s.label_contrasts and pairs:
        labelled = label_pairs(pairs, assistant, sides, s.label_max_new_tokens)  # type: ignore[arg-type]
        held = ~discovery
        judge = (
            embedding_judge(embed)
            if s.judge == "embedding"
            else assistant_judge(assistant, s.judge_batch_size, counts)  # type: ignore[arg-type]
        )
        region = regions(emb[held], pairs, side_centres, sides) if s.scope == "region" else None
        contrasts = validate_labels(labelled, texts[held], judge, s, sides=sides, region=region)
    counts["not_tested"] = sum(1 for c in contrasts if c["not_tested"])
    counts.update(
        n_labels=len(contrasts),
        n_tested=sum(
            1 for c in contrasts if c["p_value"] is not None and not math.isnan(c["p_value"])
        ),
        n_validated=sum(1 for c in contrasts if c["validated"]),
    )
    logger.info(
        "Divergence summaries: %d matched cluster pairs, %d "
        "labels, %d tested on %d held-out texts, %d validated "
        "(%s-adjusted p <= %g)",
        len(pairs), counts["n_labels"], counts["n_tested"], int((~discovery).sum()),
        counts["n_validated"], s.correction, s.alpha,
    )  # fmt: skip
    return {
        "settings": {**dataclasses.asdict(s), "direction": direction, "sides": list(sides)},
        "counts": counts,
        "contrasts": contrasts,
        "pairs": pairs,
        "unmatched": unmatched,
    }


def label_pairs(
    pairs: list[dict[str, Any]],
    assistant: LanguageModel,
    sides: tuple[str, str],
    max_new_tokens: int,
) -> list[tuple[dict[str, Any], int, str]]:
    """Two contrastive labels per pair, (pair, d, label) with d the side the label describes; also
    stored in the pair as ``label_<side>``."""
    jobs = [(p, d) for p in pairs for d in (0, 1)]
    queries = [
        contrast_query(p[f"examples_{sides[d]}"], p[f"examples_{sides[1 - d]}"]) for p, d in jobs
    ]
    labels = write_labels(assistant, queries, max_new_tokens)
    for (p, d), label in zip(jobs, labels):
        p[f"label_{sides[d]}"] = label
    return [(p, d, label) for (p, d), label in zip(jobs, labels)]


def regions(
    emb: np.ndarray,
    pairs: list[dict[str, Any]],
    centres: dict[str, np.ndarray],
    sides: tuple[str, str],
) -> np.ndarray:
    """The pair whose region centre (the mean of its two unit centroids) is nearest each row.

    The rule ignores which model wrote a text, so testing within a region keeps the model labels
    exchangeable under the null hypothesis.
    """
    a, b = sides
    mid = unit_rows(
        np.stack([centres[a][p[f"{a}_cluster"]] + centres[b][p[f"{b}_cluster"]] for p in pairs])
    )
    return np.argmax(emb @ mid.T, axis=1) if len(emb) else np.zeros(0, dtype=int)


def validate_labels(
    labelled: list[tuple[dict[str, Any], int, str]],
    held_out: pd.DataFrame,
    judge: Judge,
    settings: SummarySettings,
    *,
    sides: tuple[str, str],
    region: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Each label scored on the held-out texts (``region``: the pair each text belongs to, for
    ``scope: region``), tested by within-prompt permutation, adjusted across all labels."""
    text = held_out["text"].astype(str).to_numpy()
    side = held_out["side"].to_numpy()
    group = held_out["prompt_id"].astype(str).to_numpy()
    rows = []
    for p, d, label in labelled:
        keep = region == p["pair"] if region is not None else np.ones(len(held_out), dtype=bool)
        positive = side[keep] == sides[d]
        row: dict[str, Any] = {
            "pair": p["pair"], "describes": sides[d], "label": label,
            f"n_validation_{sides[d]}": int(positive.sum()),
            f"n_validation_{sides[1 - d]}": int((~positive).sum()),
            "auc": None, "p_value": None, "exact": None, "n_permutations": 0,
            "mean_fit_described": None, "mean_fit_other": None, "not_tested": None,
        }  # fmt: skip
        if not label:
            row["not_tested"] = "the assistant wrote no label"
        elif not len(held_out):
            row["not_tested"] = "no held-out texts (fewer than two prompts)"
        elif positive.all() or not positive.any():
            row["not_tested"] = "held-out texts of only one model in this pair's region"
        else:
            scores = judge(label, text[keep].tolist())
            result = permutation_auc_test(
                scores,
                positive,
                group[keep],
                n_permutations=settings.n_permutations,
                seed=settings.seed,
            )
            row.update(
                auc=result.auc, p_value=result.p_value, exact=result.exact,
                n_permutations=result.n_permutations,
                mean_fit_described=float(scores[positive].mean()),
                mean_fit_other=float(scores[~positive].mean()),
            )  # fmt: skip
        rows.append(row)
    raw = np.array([np.nan if r["p_value"] is None else r["p_value"] for r in rows], dtype=float)
    for r, q in zip(rows, adjust_p_values(raw, settings.correction)):
        r["p_adjusted"] = None if math.isnan(q) else float(q)
        r["validated"] = bool(r["p_adjusted"] is not None and r["p_adjusted"] <= settings.alpha)
    return sorted(
        rows, key=lambda r: (r["p_adjusted"] is None, r["p_adjusted"] or 0.0, -(r["auc"] or 0.0))
    )
