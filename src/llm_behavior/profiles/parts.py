"""The profile parts, each a function of (language model, its config) -> tables. No Kedro here.

Every part returns an item table (:mod:`llm_behavior.profiles.items`) and, where it has
statistics that are not functions of items, "summary-only" rows (part, dataset, subgroup, metric,
value, ci_low, ci_high, n, definition). A disabled part returns empty tables. Item subsets are
seeded draws from the packaged files (:func:`llm_behavior.profiles.benchmarks.common.subsample`), so
two models see the same items. See docs/profiling.md for the defaults and their cost.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.models.spec import GenerationSettings
from llm_behavior.profiles import bias, calibration, diversity, requests, toxicity
from llm_behavior.profiles.benchmarks import (
    bbq,
    benign_sentences,
    common,
    crows_pairs,
    multiple_choice,
    stereoset,
    toxicity_prompts,
    weat,
    xsum,
)
from llm_behavior.profiles.items import SUMMARY_COLUMNS, empty_items, to_items
from llm_behavior.profiles.settings import (
    BBQSettings,
    BiasSettings,
    CalibrationSettings,
    DiversitySettings,
    NextTokenSettings,
    SampleSettings,
    SeatSettings,
    TextSettings,
    ToxicitySettings,
    UtilitySettings,
)
from llm_behavior.profiles.sizes import SIZE_COLUMNS, size_columns

# summary-only rows: the summary columns plus what n counts and the paper's size
NOTE_COLUMNS = (*SUMMARY_COLUMNS[:-1], *SIZE_COLUMNS, "definition")

logger = logging.getLogger(__name__)


def empty_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype=float if c in {"value", "ci_low", "ci_high", "n"} else object)
            for c in NOTE_COLUMNS
        }
    )


def summary_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return empty_summary()
    rows = [
        {**size_columns(r["part"], int(r["n"]), None, r.get("dataset", "")), **r}
        if "size" not in r and r.get("n") is not None and np.isfinite(r["n"])
        else r
        for r in rows
    ]
    frame = pd.DataFrame(rows)
    for c in NOTE_COLUMNS:
        if c not in frame:
            frame[c] = (
                np.nan
                if c in {"value", "ci_low", "ci_high", "n"}
                else None
                if c == "below_paper_size"
                else ""
            )
    return frame[list(NOTE_COLUMNS)]


def prompt_seeds(seed: int, item_ids: Any) -> list[int]:
    """One seed per prompt from (base seed, item id):
    a prompt's samples do not depend on the subset."""
    return [
        int.from_bytes(hashlib.sha256(f"{seed}:{i}".encode()).digest()[:4], "little")
        for i in item_ids
    ]


def _generation(cfg: Mapping[str, Any], **overrides: Any) -> GenerationSettings:
    return GenerationSettings.from_dict({**dict(cfg), **overrides})


def _timed(name: str):
    class _T:
        def __enter__(self):
            self.t0 = time.perf_counter()
            logger.info("profiling: %s ...", name)
            return self

        def __exit__(self, *exc):
            logger.info("profiling: %s done in %.1f s", name, time.perf_counter() - self.t0)

    return _T()


def _generate(
    lm: LanguageModel, prompts: list[str], settings: GenerationSettings, seeds: list[int], what: str
) -> list[Any]:
    """``lm.generate`` with a progress bar in generations (the long sampling parts)."""
    from tqdm.auto import tqdm

    total = len(prompts) * settings.num_samples
    with tqdm(total=total, desc=f"profiling {what}", unit="gen", disable=total == 0) as bar:
        return lm.generate(prompts, settings, seeds=seeds, progress=bar.update)


def _build(build_scorer: Any, cfg: Mapping[str, Any], where: str) -> Any:
    """The scorer ``cfg["name"]`` built with the rest of ``cfg`` as its arguments."""
    args = dict(cfg)
    if "name" not in args:
        raise ValueError(f"{where} needs a `name` (a registered scorer), got {cfg!r}")
    return build_scorer(args.pop("name"), **args)


# --------------------------------------------------------------------------------------- toxicity


def run_toxicity(
    lm: LanguageModel,
    cfg: ToxicitySettings | Mapping[str, Any],
    *,
    seed: int = 0,
    scorer: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """k samples per toxic prompt, scored -> (generations, items, summary-only counts)."""
    cfg = ToxicitySettings.from_dict(cfg)
    if not cfg.enabled:
        return pd.DataFrame(), empty_items(), empty_summary()
    from llm_behavior.scoring import build_scorer

    with _timed("toxicity"):
        prompts = common.subsample(toxicity_prompts.load_toxicity_prompts(), cfg.n_prompts, seed)
        settings = _generation(cfg.generation, num_samples=cfg.samples_per_prompt, seed=seed)
        gens = _generate(
            lm,
            prompts["prompt"].tolist(),
            settings,
            prompt_seeds(seed, prompts["item_id"]),
            "toxicity",
        )
        scorer = scorer or _build(build_scorer, cfg.scorer, "profiling.toxicity.scorer")
        metric = cfg.score_metric
        texts = [g.text for g in gens]
        scored = scorer.score(texts)
        if metric not in scored:
            raise ValueError(
                f"toxicity scorer {scorer.name!r} gives {list(scored.columns)}, not {metric!r}"
            )
        generations = pd.DataFrame(
            {
                "prompt_id": [int(prompts["item_id"].iloc[g.prompt_index]) for g in gens],
                "sample": [g.sample for g in gens],
                "prompt": [prompts["prompt"].iloc[g.prompt_index] for g in gens],
                "text": texts,
                "n_new_tokens": [g.n_new_tokens for g in gens],
                "finish_reason": [g.finish_reason for g in gens],
                "toxicity": scored[metric].astype(float).to_numpy(),
                "reason": scored.get("reason", pd.Series([None] * len(gens))).to_numpy(),
            }
        )
        threshold = cfg.threshold
        per_prompt = toxicity.toxicity_prompt_table(generations, threshold=threshold)
        items = toxicity.toxicity_items(per_prompt)
        notes = summary_rows(
            [
                {
                    "part": "toxicity",
                    "dataset": "toxic_prompts",
                    "subgroup": "all",
                    "metric": name,
                    "value": float(value),
                    "definition": definition,
                }
                for name, value, definition in (
                    (
                        "n_generations_unscored",
                        generations["toxicity"].isna().sum(),
                        "generations whose score is NaN (left out of their prompt's max)",
                    ),
                    (
                        "n_prompts_unscored",
                        (per_prompt["n_scored"] == 0).sum(),
                        "prompts with no scored generation (left out)",
                    ),
                    (
                        "threshold",
                        threshold,
                        f"toxicity threshold; scorer {scorer.name}, metric {metric}",
                    ),
                    (
                        "samples_per_prompt",
                        settings.num_samples,
                        f"k; top_p {settings.top_p}, temperature {settings.temperature}, "
                        f"{settings.max_new_tokens} new tokens",
                    ),
                )
            ]
        )
    return generations, items, notes


# ----------------------------------------------------------------------------- text characteristics


def run_text(
    lm: LanguageModel,
    cfg: TextSettings | Mapping[str, Any],
    *,
    seed: int = 0,
    scorer: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Greedy generations on benign prompts, scored by the
    text_characteristics scorer -> (generations, items)."""
    cfg = TextSettings.from_dict(cfg)
    if not cfg.enabled:
        return pd.DataFrame(), empty_items()
    from llm_behavior.scoring import build_scorer

    with _timed("text characteristics"):
        source = common.subsample(benign_sentences.load_benign_sentences(), cfg.n_prompts, seed)
        prompts = [cfg.prompt_template.format(text=t) for t in source["text"]]
        settings = _generation(cfg.generation, do_sample=False, num_samples=1)
        gens = lm.generate(prompts, settings)
        scorer = scorer or _build(build_scorer, cfg.scorer, "profiling.text.scorer")
        texts = [g.text for g in gens]
        scored = scorer.score(texts)
        metrics = [m for m in scorer.metrics if m in scored]
        wide = scored[metrics].astype(float)
        wide.insert(0, "item_id", source["item_id"].to_numpy())
        generations = pd.DataFrame(
            {
                "prompt_id": source["item_id"].to_numpy(),
                "prompt": prompts,
                "text": texts,
                "n_new_tokens": [g.n_new_tokens for g in gens],
            }
        )
        items = to_items(wide, "text", "benign_prompts", metrics)
    return generations, items


# --------------------------------------------------------------------------------------- bias


def run_bias(
    lm: LanguageModel,
    cfg: BiasSettings | Mapping[str, Any],
    *,
    seed: int = 0,
    batch_size: int = 16,
    request_format: str = "spec",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CrowS-Pairs, StereoSet, BBQ items + SEAT summary rows (log-likelihood requests formatted per
    ``request_format``, :mod:`llm_behavior.profiles.requests`; SEAT on raw sentences)."""
    cfg = BiasSettings.from_dict(cfg)
    lm = requests.formatted(lm, request_format)
    parts, notes = [], []
    for name, sub, run in (
        ("CrowS-Pairs", cfg.crows_pairs, _crows_pairs_part),
        ("StereoSet", cfg.stereoset, _stereoset_part),
        ("BBQ", cfg.bbq, _bbq_part),
        ("SEAT", cfg.seat, _seat_part),
    ):
        if sub.enabled:
            with _timed(name):
                part_items, part_notes = run(lm, sub, seed=seed, batch_size=batch_size)
            if part_items is not None:
                parts.append(part_items)
            notes += part_notes
    items = pd.concat(parts, ignore_index=True) if parts else empty_items()
    return items, summary_rows(notes)


# Each bias dataset: (lm, its config) -> (items or None, summary-only rows)
_BiasPart = tuple[pd.DataFrame | None, list[dict[str, Any]]]


def _crows_pairs_part(
    lm: LanguageModel, cfg: SampleSettings, *, seed: int, batch_size: int
) -> _BiasPart:
    """CrowS-Pairs items on a draw stratified by bias type."""
    pairs = common.subsample(
        crows_pairs.load_crows_pairs(), cfg.n_items, seed, stratify="bias_type"
    )
    return bias.crows_pairs_items(lm, pairs, batch_size=batch_size), []


def _stereoset_part(
    lm: LanguageModel, cfg: SampleSettings, *, seed: int, batch_size: int
) -> _BiasPart:
    """StereoSet items (draw stratified by intra/intersentence) + the official macro averages."""
    items = common.subsample(stereoset.load_stereoset(), cfg.n_items, seed, stratify="type")
    ss_items = bias.stereoset_items(lm, items, batch_size=batch_size)
    macro = bias.stereoset_macro(
        ss_items, pd.Series(items["target"].to_numpy(), index=items["item_id"].astype(str))
    )
    notes = [
        {
            "part": "bias",
            "dataset": "stereoset",
            "subgroup": "all",
            "metric": k,
            "value": v,
            "n": len(items),
            "definition": (
                "official StereoSet aggregation: score per target term, averaged over terms"
            ),
        }
        for k, v in macro.items()
    ]
    return ss_items, notes


def _bbq_part(lm: LanguageModel, cfg: BBQSettings, *, seed: int, batch_size: int) -> _BiasPart:
    """BBQ items (source per :func:`~llm_behavior.profiles.benchmarks.bbq.load_bbq_frame`) + a
    note row saying which source and labels they have."""
    frame, note = bbq.load_bbq_frame(cfg)
    if "category" in frame:  # every category x context condition keeps items
        frame["stratum"] = frame["category"] + "/" + frame["ambiguous"].astype(str)
        frame = common.subsample(frame, cfg.n_items, seed, stratify="stratum")
    else:
        frame = common.subsample(frame, cfg.n_items, seed, stratify="ambiguous")
    label_note = {
        "part": "bias",
        "dataset": "bbq",
        "subgroup": "all",
        "metric": "labels",
        "value": float("category" in frame),
        "n": len(frame),
        "definition": note,
    }
    return bbq.bbq_items(lm, frame, batch_size=batch_size), [label_note]


def _seat_part(lm: LanguageModel, cfg: SeatSettings, *, seed: int, batch_size: int) -> _BiasPart:
    """SEAT: effect size and p-value rows per WEAT test (no items)."""
    names = list(cfg.tests)
    tests = {t.name: t for t in weat.load_weat_tests()}
    unknown = sorted(set(names) - set(tests))
    if unknown:
        raise ValueError(
            f"profiling.bias.seat.tests: unknown test(s) {unknown}; known: {sorted(tests)}"
        )
    res = bias.seat(
        lm,
        [tests[n] for n in names],
        templates=cfg.templates,
        n_permutations=cfg.n_permutations,
        seed=seed,
        batch_size=batch_size,
    )
    notes = []
    for r in res.itertuples(index=False):
        base = {"part": "bias", "dataset": "seat", "subgroup": r.test, "n": float(r.n_x + r.n_y)}
        desc = (
            f"{r.targets} / {r.attributes}; {r.n_templates} bleached templates; sentence = "
            "mean of last hidden layer"
        )
        notes.append(
            {
                **base,
                "metric": "effect_size",
                "value": r.effect_size,
                "definition": f"WEAT d (ddof=1) on sentence embeddings: {desc}",
            }
        )
        notes.append(
            {
                **base,
                "metric": "p_value",
                "value": r.p_value,
                "definition": f"one-sided permutation p-value ({r.p_method}): {desc}",
            }
        )
    return None, notes


# -------------------------------------------------------------------------------------- calibration


def run_calibration(
    lm: LanguageModel,
    cfg: CalibrationSettings | Mapping[str, Any],
    *,
    seed: int = 0,
    batch_size: int = 16,
    request_format: str = "spec",
) -> pd.DataFrame:
    """Multiple-choice items; requests formatted per ``request_format``."""
    if isinstance(cfg, Mapping) and "use_prompt_format" in cfg:
        raise ValueError(
            "profiling.calibration.use_prompt_format is replaced by profiling.request_format "
            "(spec: the side's system prompt and chat "
            "template on every log-likelihood request; raw)"
        )
    cfg = CalibrationSettings.from_dict(cfg)
    if not cfg.enabled:
        return empty_items()
    lm = requests.formatted(lm, request_format)
    with _timed("calibration"):
        frames = {
            name: common.subsample(multiple_choice.load_multiple_choice(name), cfg.n_items, seed)
            for name in cfg.datasets
        }
        return calibration.calibration_items(lm, frames, batch_size=batch_size)


# ------------------------------------------------------------------------------------ mode collapse


def run_next_token(
    lm: LanguageModel, cfg: NextTokenSettings | Mapping[str, Any], *, request_format: str = "spec"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Next-token statistics on reference windows, each after the side's formatted empty prompt
    (``request_format: spec``) or after nothing (``raw``)."""
    cfg = NextTokenSettings.from_dict(cfg)
    if not cfg.enabled:
        return empty_items(), empty_summary()
    with _timed("next-token statistics"):
        window, n_windows = cfg.window, cfg.n_windows
        per_window, summary = diversity.next_token_statistics(
            lm,
            xsum.load_reference_text(),
            window=window,
            n_windows=n_windows,
            prefix_ids=requests.context_prefix_ids(lm, request_format),
        )
        items = to_items(
            per_window, "next_token", "xsum", ["n_predicted", "nll_sum", "entropy_sum", "top1_sum"]
        )
        notes = summary_rows(
            [
                {
                    "part": "next_token",
                    "dataset": "xsum",
                    "subgroup": "all",
                    "metric": k,
                    "value": summary[k],
                    "n": float(len(per_window)),
                    **size_columns(
                        "next_token", len(per_window), per_window["n_predicted"].to_numpy()
                    ),
                    "definition": (
                        f"smallest share of the vocabulary holding {k[-2:]}% of the next-token "
                        f"distribution averaged over {n_windows} windows of {window} tokens"
                    ),
                }
                for k in ("vocab_fraction_70", "vocab_fraction_90")
            ]
        )
    return items, notes


def run_diversity(
    lm: LanguageModel,
    cfg: DiversitySettings | Mapping[str, Any],
    *,
    seed: int = 0,
    encode: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """k samples per (prompt, temperature) for the creative
    and factual prompt sets -> (generations, items)."""
    cfg = DiversitySettings.from_dict(cfg)
    if not cfg.enabled:
        return pd.DataFrame(), empty_items()
    with _timed("output diversity"):
        sets = {
            "creative": list(cfg.creative_prompts or []),
            "factual": list(cfg.factual_prompts or []),
        }
        n = cfg.n_prompts
        sets = {k: v[:n] if n else v for k, v in sets.items() if v}
        if not sets:
            raise ValueError("profiling.diversity needs creative_prompts and/or factual_prompts")
        k = cfg.samples_per_prompt
        rows = []
        for temp in cfg.temperatures:
            if float(temp) <= 0:
                raise ValueError(
                    f"profiling.diversity.temperatures must be > 0 (sampling), got {temp}"
                )
            prompts = [(name, i, p) for name, ps in sets.items() for i, p in enumerate(ps)]
            settings = _generation(
                cfg.generation, temperature=float(temp), num_samples=k, seed=seed
            )
            gens = _generate(
                lm,
                [p for _, _, p in prompts],
                settings,
                prompt_seeds(seed, [f"{s}{i}T{temp}" for s, i, _ in prompts]),
                f"diversity T={temp}",
            )
            for g in gens:
                name, i, p = prompts[g.prompt_index]
                rows.append(
                    {
                        "prompt_set": name,
                        "temperature": float(temp),
                        "prompt_id": i,
                        "sample": g.sample,
                        "prompt": p,
                        "text": g.text,
                    }
                )
        generations = pd.DataFrame(rows)
        encode = encode or diversity.load_sentence_encoder(cfg.embedding_model)
        table = diversity.diversity_table(
            generations,
            encode,
            ngram_orders=cfg.ngram_orders,
            lc_orders=cfg.leinster_cobbold_orders,
        )
        metrics = [c for c in table.columns if c not in {"prompt_set", "temperature", "item_id"}]
        parts = [
            to_items(frame, "diversity", pset, metrics, f"T={temp:g}")
            for (pset, temp), frame in table.groupby(["prompt_set", "temperature"], sort=True)
        ]
    return generations, pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------------------- utility


def run_utility_part(
    lm: LanguageModel,
    cfg: UtilitySettings | Mapping[str, Any],
    *,
    seed: int = 0,
    batch_size: int = 16,
) -> pd.DataFrame:
    """lm-eval task results as summary-only rows (the optional lm-eval extra)."""
    cfg = UtilitySettings.from_dict(cfg)
    if not cfg.enabled:
        return empty_summary()
    from llm_behavior.profiles.utility import run_utility

    with _timed("utility (lm-eval)"):
        rows = run_utility(
            lm,
            list(cfg.tasks),
            limit=cfg.limit,
            num_fewshot=cfg.num_fewshot,
            include_path=cfg.include_path,
            batch_size=batch_size,
            seed=seed,
        )
    return summary_rows(rows.to_dict("records"))
