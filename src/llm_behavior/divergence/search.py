"""Prompt search (after DivergenceFinder): an assistant
LM proposes prompts where two models diverge.

Cycle 0 scores the seed prompts (a random sample of the bundled prompts: the baseline). Every
later cycle:

1. subsample the bank: weight ``w = a*minmax(divergence) + b*criterion + c*minmax(diversity)``
   (diversity = cosine distance of a prompt's MiniLM embedding to its nearest other bank prompt),
   draw ``bank_subsample`` prompts without replacement with ``p ~ exp(w / T)``;
2. show them to the assistant with their divergence rescaled to [0, 10] and ask for new prompts;
3. parse the answers robustly (a malformed answer is skipped and counted);
4. drop duplicates (same normalised text, or embedding cosine >= ``dedup_threshold`` to a bank
   prompt or an earlier candidate), optionally ask the assistant a yes/no criterion per prompt;
5. score each new prompt by its mean per-token divergence over ``generations_per_prompt``
   contrastive generations, and add it to the bank.

Every candidate is kept in the records with its status (scored / duplicate /
rejected_by_criterion): nothing is dropped silently. The state is written to a JSON checkpoint
after every cycle; a rerun with the same settings resumes after the last finished cycle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
from llm_behavior.divergence.embeddings import Embedder, nearest_neighbour_distance, unit_rows
from llm_behavior.divergence.parsing import ParsedList, parse_prompt_list, parse_yes_no
from llm_behavior.divergence.tables import DIRECTIONS, text_divergence
from llm_behavior.jsonable import to_jsonable
from llm_behavior.models.base import LanguageModel
from llm_behavior.models.sampling import row_seed
from llm_behavior.models.spec import GenerationSettings, stable_hash

logger = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1

DEFAULT_INSTRUCTION = (
    "Two chat assistants replied to the same user messages. "
    "Each message below is rated from 0 to 10 by how "
    "differently the two assistants replied (10 = very different replies).\n\n"
    "{examples}\n\n"
    "Write {n} new user messages that would be rated "
    "10: short messages a person could send to a chat "
    "assistant, like the highest-rated ones. Answer with "
    "a numbered list, one message per line, nothing else."
)
DEFAULT_CRITERION_TEMPLATE = "{criterion}\n\nPrompt: {prompt}\n\nAnswer with one word: yes or no."

RECORD_COLUMNS: tuple[str, ...] = (
    "prompt_id",
    "prompt",
    "origin",  # seed | assistant
    "cycle",
    "status",  # scored | duplicate | rejected_by_criterion
    "divergence",  # the search's score (settings.direction)
    "divergence_forward",  # mean over generations of mean KL(p_s || p_c)
    "divergence_reverse",  # mean over generations of mean KL(p_c || p_s)
    "divergence_sd",  # sd over generations of the score
    "n_generations",
    "n_infinite",  # generations whose mean divergence is infinite (a token one model rules out)
    "criterion",  # 1.0 yes / 0.0 no / NaN not asked or unparsed
    "example_text",  # the first generation, for reading
    "duplicate_of",
)


class SearchCheckpointError(ValueError):
    """A checkpoint exists but belongs to another search (other settings, models or seeds)."""


@dataclass(frozen=True)
class SearchSettings:
    """Knobs of the prompt search (defaults after DivergenceFinder)."""

    n_cycles: int = 3
    generations_per_prompt: int = 5
    assistant_calls_per_cycle: int = 4
    prompts_per_call: int = 5
    bank_subsample: int = 10
    subsample_temperature: float = 0.5
    weight_divergence: float = 1.0
    weight_criterion: float = 0.0
    weight_diversity: float = 0.5
    dedup_threshold: float = 0.95
    direction: str = "forward"
    criterion: str | None = None
    criterion_filter: bool = True
    criterion_template: str = DEFAULT_CRITERION_TEMPLATE
    instruction: str = DEFAULT_INSTRUCTION
    min_prompt_chars: int = 8
    max_prompt_chars: int = 400
    seed: int = 0

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"search.direction must be one of {DIRECTIONS}, got {self.direction!r}"
            )
        for name in (
            "generations_per_prompt",
            "assistant_calls_per_cycle",
            "prompts_per_call",
            "bank_subsample",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"search.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_cycles < 0:
            raise ValueError(f"search.n_cycles must be >= 0, got {self.n_cycles}")
        if self.subsample_temperature <= 0:
            raise ValueError(
                f"search.subsample_temperature must be > 0, got {self.subsample_temperature}"
            )
        if not 0 < self.dedup_threshold <= 1:
            raise ValueError(
                f"search.dedup_threshold must be in (0, 1], got {self.dedup_threshold}"
            )
        for key in ("{examples}", "{n}"):
            if key not in self.instruction:
                raise ValueError(f"search.instruction must contain {key}")
        if self.criterion and not {"{criterion}", "{prompt}"} <= set(
            re.findall(r"\{\w+\}", self.criterion_template)
        ):
            raise ValueError("search.criterion_template must contain {criterion} and {prompt}")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SearchSettings:
        d = dict(d or {})
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown prompt search setting(s): {sorted(unknown)}")
        return cls(**d)


@dataclass
class SearchResult:
    """All candidates with their scores and status, one row per cycle, and totals."""

    records: pd.DataFrame
    cycles: pd.DataFrame
    counters: dict[str, int]


# ---------------------------------------------------------------------- pure helpers
def normalise_text(text: str) -> str:
    """Dedup key: case-folded words, punctuation and spacing ignored."""
    return " ".join(re.findall(r"\w+", text.casefold()))


def search_prompt_id(prompt: str) -> str:
    return "search-" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]


class NonFiniteDivergenceError(ValueError):
    """A divergence is NaN: the logits of a model were NaN (a broken model or a dtype overflow)."""


def minmax(x: np.ndarray, what: str = "values") -> np.ndarray:
    """Scale to [0, 1] (all zeros when the values are constant); +inf maps to 1, -inf to 0.

    An infinite KL is a real value (one model gives probability 0 to a token the other can
    produce) and ranks above every finite one. NaN has no rank: it is an error naming ``what``.
    """
    x = np.asarray(x, dtype=float)
    n_nan = int(np.isnan(x).sum())
    if n_nan:
        raise NonFiniteDivergenceError(
            f"minmax: {n_nan} of {len(x)} {what} are NaN (no rank can be given)"
        )
    finite = np.isfinite(x)
    out = np.where(x > 0, 1.0, 0.0)  # the infinite ones
    if finite.any():
        lo, hi = x[finite].min(), x[finite].max()
        out[finite] = (x[finite] - lo) / (hi - lo) if hi > lo else 0.0
    return out


def subsample_probabilities(
    divergence: np.ndarray, criterion: np.ndarray, diversity: np.ndarray, settings: SearchSettings
) -> np.ndarray:
    """p ~ exp(w / T) with w = a*minmax(div) + b*criterion + c*minmax(diversity)."""
    crit = np.nan_to_num(np.asarray(criterion, dtype=float), nan=0.0)
    w = (
        settings.weight_divergence * minmax(divergence, "bank divergences")
        + settings.weight_criterion * crit
        + settings.weight_diversity * minmax(diversity, "bank diversities")
    )
    z = np.exp((w - w.max()) / settings.subsample_temperature)
    return z / z.sum()


def subsample_bank(
    divergence: np.ndarray,
    criterion: np.ndarray,
    embeddings: np.ndarray,
    settings: SearchSettings,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices of ``bank_subsample`` bank prompts drawn without replacement, by weight."""
    n = len(divergence)
    if n == 0:
        return np.zeros(0, dtype=int)
    p = subsample_probabilities(
        divergence, criterion, nearest_neighbour_distance(embeddings), settings
    )
    k = min(settings.bank_subsample, n)
    return rng.choice(n, size=k, replace=False, p=p)


def rescale_0_10(values: Sequence[float]) -> list[float]:
    """Values mapped linearly onto [0, 10] (all 10 when constant)."""
    v = np.asarray(values, dtype=float)
    lo, hi = float(np.min(v)), float(np.max(v))
    return [10.0] * len(v) if hi - lo <= 0 else list(10.0 * (v - lo) / (hi - lo))


def build_instruction(
    prompts: Sequence[str], divergences: Sequence[float], n: int, template: str
) -> str:
    """The assistant's instruction: examples (highest first) with scores rescaled to [0, 10]."""
    scores = rescale_0_10(divergences) if len(prompts) else []
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    lines = [f"score {scores[i]:.1f}: {' '.join(prompts[i].split())}" for i in order]
    return template.replace("{examples}", "\n".join(lines)).replace("{n}", str(n))


def score_prompts(
    starting: LanguageModel,
    comparison: LanguageModel,
    prompts: Sequence[str],
    decoding: ContrastiveSettings,
    *,
    direction: str = "forward",
    seed: int | str = 0,
) -> list[dict[str, Any]]:
    """Each prompt's mean (over ``decoding.num_samples``
    generations) of the per-text mean divergence.

    Generation seeds derive from ``seed`` and the prompt text, so a prompt's score does not
    depend on the other prompts scored with it; another ``seed`` gives fresh generations.
    A NaN per-token divergence can only come from NaN logits (every text has at least one
    generated position): :class:`NonFiniteDivergenceError` names the prompts. An infinite one is
    kept (``n_infinite`` counts the texts with one).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if not prompts:
        return []
    seeds = [row_seed(seed, "score", p) for p in prompts]
    texts = contrastive_generate(starting, comparison, prompts, decoding, seeds=seeds)
    k = decoding.num_samples
    out = []
    for i in range(len(prompts)):
        mine = texts[i * k : (i + 1) * k]
        fwd = np.array([t.mean_kl for t in mine])
        rev = np.array([t.mean_kl_reverse for t in mine])
        chosen = np.array([text_divergence(t, direction) for t in mine])
        out.append(
            {
                "divergence": float(chosen.mean()),
                "divergence_forward": float(fwd.mean()),
                "divergence_reverse": float(rev.mean()),
                "divergence_sd": float(chosen.std(ddof=1))
                if k > 1 and np.isfinite(chosen).all()
                else math.nan,
                "n_generations": k,
                "n_infinite": int(np.isinf(chosen).sum()),
                "example_text": mine[0].text,
            }
        )
    nan = [
        p
        for p, row in zip(prompts, out)
        if math.isnan(row["divergence_forward"]) or math.isnan(row["divergence_reverse"])
    ]
    if nan:
        raise NonFiniteDivergenceError(
            f"{len(nan)} of {len(prompts)} prompts got a NaN "
            "per-token divergence, i.e. NaN logits from one of the "
            "models (a broken checkpoint, or a float16 "
            f"overflow: try dtype float32), e.g. {nan[0][:80]!r}"
        )
    return out


def fresh_divergences(
    starting: LanguageModel,
    comparison: LanguageModel,
    chosen: pd.DataFrame,
    decoding: ContrastiveSettings,
    n_generations: int,
    *,
    direction: str = "forward",
) -> pd.DataFrame:
    """``chosen`` with ``divergence_fresh`` and ``divergence_fresh_reverse``: each prompt re-scored
    on ``n_generations`` fresh generations (seed ``"fresh"``, none seen by the search)."""
    settings = dataclasses.replace(decoding, num_samples=int(n_generations))
    scores = score_prompts(
        starting, comparison, chosen["prompt"].tolist(), settings, direction=direction, seed="fresh"
    )
    out = chosen.copy()
    out["divergence_fresh"] = [s["divergence"] for s in scores]
    out["divergence_fresh_reverse"] = [s["divergence_reverse"] for s in scores]
    return out


# ---------------------------------------------------------------------- the search
class PromptSearch:
    """Runs the search; resumable from ``checkpoint`` (a JSON file) after every finished cycle."""

    def __init__(
        self,
        starting: LanguageModel,
        comparison: LanguageModel,
        assistant: LanguageModel,
        *,
        embed: Embedder,
        settings: SearchSettings,
        decoding: ContrastiveSettings,
        assistant_generation: GenerationSettings,
        checkpoint: str | Path | None = None,
    ):
        self.starting, self.comparison, self.assistant = starting, comparison, assistant
        self.embed = embed
        self.settings = settings
        self.decoding = dataclasses.replace(decoding, num_samples=settings.generations_per_prompt)
        self.assistant_generation = assistant_generation
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self._emb: dict[str, np.ndarray] = {}

    # -------------------------------------------------------------- identity and checkpoint
    def fingerprint(self, seed_prompts: Sequence[str]) -> str:
        """Everything that changes the search's results (models, settings, seed prompts)."""
        return stable_hash(
            {
                "version": CHECKPOINT_VERSION,
                # n_cycles excluded: a longer search extends a finished one
                "settings": {
                    k: v for k, v in dataclasses.asdict(self.settings).items() if k != "n_cycles"
                },
                "decoding": {
                    k: v
                    for k, v in dataclasses.asdict(self.decoding).items()
                    if k not in {"batch_size", "use_cache"}
                },
                "assistant_generation": self.assistant_generation.decoding_identity(),
                "models": [
                    m.spec.identity() for m in (self.starting, self.comparison, self.assistant)
                ],
                "seed_prompts": list(seed_prompts),
            }
        )

    def _load(self, fingerprint: str) -> dict[str, Any] | None:
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        try:
            state = json.loads(self.checkpoint.read_text())
        except json.JSONDecodeError as exc:
            raise SearchCheckpointError(
                f"Prompt search checkpoint {self.checkpoint} is "
                f"not valid JSON ({exc}); delete it to start over"
            ) from exc
        if state.get("fingerprint") != fingerprint:
            raise SearchCheckpointError(
                f"Prompt search checkpoint {self.checkpoint} "
                "belongs to another search (other models, settings "
                "or seed prompts). Delete it, point search.checkpoint "
                "elsewhere, or set search.resume: false."
            )
        return state

    def _save(self, state: dict[str, Any]) -> None:
        if self.checkpoint is None:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint.with_suffix(self.checkpoint.suffix + ".tmp")
        tmp.write_text(json.dumps(to_jsonable(state, non_finite="keep")))  # NaN round-trips
        # atomic: an interruption leaves the previous cycle's state
        os.replace(tmp, self.checkpoint)

    # -------------------------------------------------------------- steps
    def embeddings(self, prompts: Sequence[str]) -> np.ndarray:
        """Unit-norm embeddings, computed once per distinct prompt."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self._emb]
        if missing:
            for p, e in zip(missing, unit_rows(np.asarray(self.embed(missing), dtype=np.float64))):
                self._emb[p] = e
        if not len(prompts):
            return np.zeros((0, 1))
        return np.stack([self._emb[p] for p in prompts])

    def score(self, prompts: Sequence[str]) -> list[dict[str, Any]]:
        """Mean per-token divergence of each prompt over ``generations_per_prompt`` generations."""
        return score_prompts(
            self.starting,
            self.comparison,
            prompts,
            self.decoding,
            direction=self.settings.direction,
            seed=self.settings.seed,
        )

    def ask_assistant(self, bank: list[dict[str, Any]], cycle: int) -> tuple[list[str], Counter]:
        """New candidate prompts from the assistant (parsed), and counts of what went wrong."""
        s = self.settings
        rng = np.random.default_rng(row_seed(s.seed, "subsample", cycle))
        div = np.array([r["divergence"] for r in bank], dtype=float)
        crit = np.array([r["criterion"] for r in bank], dtype=float)
        idx = subsample_bank(div, crit, self.embeddings([r["prompt"] for r in bank]), s, rng)
        instruction = build_instruction(
            [bank[i]["prompt"] for i in idx], div[idx], s.prompts_per_call, s.instruction
        )
        gen = dataclasses.replace(
            self.assistant_generation, num_samples=s.assistant_calls_per_cycle
        )
        answers = self.assistant.generate(
            [instruction], gen, seeds=[row_seed(s.seed, "assistant", cycle)]
        )
        counts: Counter = Counter(answers=len(answers))
        candidates: list[str] = []
        for a in answers:
            try:
                parsed = parse_prompt_list(
                    a.text,
                    truncated=a.finish_reason == "length",
                    min_chars=s.min_prompt_chars,
                    max_chars=s.max_prompt_chars,
                )
            # a parser bug must not end a long search: counted and logged with the answer
            except Exception:
                logger.exception(
                    "could not parse assistant answer (cycle %d): %r", cycle, a.text[:500]
                )
                counts["parser_errors"] += 1
                parsed = ParsedList([], malformed=True, fmt="none")
            counts["malformed_answers"] += int(parsed.malformed)
            counts["items"] += len(parsed.prompts)
            for reason, n in parsed.rejected.items():
                counts[f"items_{reason}"] += n
            if parsed.malformed:
                logger.debug("malformed assistant answer (cycle %d): %r", cycle, a.text[:300])
            candidates.extend(parsed.prompts)
        return candidates, counts

    def deduplicate(
        self, candidates: Sequence[str], bank_prompts: Sequence[str]
    ) -> list[str | None]:
        """For each candidate: None if new, else the earlier
        prompt it duplicates (text or embedding)."""
        keys = {normalise_text(p): p for p in bank_prompts}
        kept_prompts = list(bank_prompts)
        kept_emb = self.embeddings(kept_prompts) if kept_prompts else np.zeros((0, 1))
        cand_emb = self.embeddings(list(candidates))
        out: list[str | None] = []
        for p, e in zip(candidates, cand_emb):
            key = normalise_text(p)
            dup = keys.get(key)
            if dup is None and kept_prompts:
                sims = kept_emb @ e
                j = int(np.argmax(sims))
                if sims[j] >= self.settings.dedup_threshold:
                    dup = kept_prompts[j]
            out.append(dup)
            if dup is None:
                keys[key] = p
                kept_prompts.append(p)
                kept_emb = np.vstack([kept_emb, e[None, :]]) if kept_emb.size else e[None, :]
        return out

    def judge(self, prompts: Sequence[str]) -> list[float]:
        """The criterion's verdict per prompt: 1.0 yes, 0.0 no, NaN when the answer has neither."""
        if not self.settings.criterion or not prompts:
            return [math.nan] * len(prompts)
        queries = [
            self.settings.criterion_template.replace(
                "{criterion}", self.settings.criterion
            ).replace("{prompt}", p)
            for p in prompts
        ]
        settings = GenerationSettings(
            max_new_tokens=8,
            do_sample=False,
            num_samples=1,
            batch_size=self.assistant_generation.batch_size,
        )
        answers = self.assistant.generate(queries, settings)
        verdicts = [parse_yes_no(a.text) for a in answers]
        return [math.nan if v is None else float(v) for v in verdicts]

    # -------------------------------------------------------------- the loop
    def run(
        self,
        seed_prompts: Sequence[str],
        seed_prompt_ids: Sequence[str] | None = None,
        *,
        resume: bool = True,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> SearchResult:
        """Score the seed prompts (cycle 0), then run ``n_cycles`` assistant cycles."""
        seed_prompts = [str(p) for p in seed_prompts]
        if not seed_prompts:
            raise ValueError(
                "The prompt search needs at least one seed prompt (search.n_seed_prompts >= 1)"
            )
        ids = (
            [str(i) for i in seed_prompt_ids]
            if seed_prompt_ids is not None
            else [search_prompt_id(p) for p in seed_prompts]
        )
        if len(ids) != len(seed_prompts):
            raise ValueError(f"{len(ids)} seed prompt ids for {len(seed_prompts)} seed prompts")
        fingerprint = self.fingerprint(seed_prompts)
        state = self._load(fingerprint) if resume else None
        if state is None:
            state = {"fingerprint": fingerprint, "cycles_done": -1, "records": [], "cycles": []}
        else:
            logger.info(
                "Prompt search: resuming from %s after cycle %d",
                self.checkpoint,
                state["cycles_done"],
            )
        for cycle in range(state["cycles_done"] + 1, self.settings.n_cycles + 1):
            t0 = time.perf_counter()
            if cycle == 0:
                new, counts = self._seed_records(seed_prompts, ids)
            else:
                new, counts = self._cycle_records(state["records"], cycle)
            state["records"].extend(new)
            scored = [r for r in new if r["status"] == "scored"]
            counts["infinite_divergence_texts"] = sum(int(r.get("n_infinite") or 0) for r in scored)
            if counts["infinite_divergence_texts"]:
                logger.warning(
                    "Prompt search cycle %d: %d generations have an "
                    "infinite divergence (one model gives probability 0 "
                    "to a token the other produced); their prompts rank above every finite score",
                    cycle, counts["infinite_divergence_texts"],
                )  # fmt: skip
            bank = [r for r in state["records"] if r["status"] == "scored"]
            summary = {
                "cycle": cycle,
                **{k: int(v) for k, v in counts.items()},
                "scored": len(scored),
                "mean_divergence_new": float(np.mean([r["divergence"] for r in scored]))
                if scored
                else math.nan,
                "max_divergence_new": float(np.max([r["divergence"] for r in scored]))
                if scored
                else math.nan,
                "bank_size": len(bank),
                "best_divergence": float(np.max([r["divergence"] for r in bank]))
                if bank
                else math.nan,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            state["cycles"].append(summary)
            state["cycles_done"] = cycle
            self._save(state)
            logger.info(
                "Prompt search cycle %d/%d: %d new prompts scored "
                "(mean divergence %.4f), %d malformed answers, "
                "%d duplicates, bank %d, best %.4f (%.1f s)",
                cycle, self.settings.n_cycles, len(scored), summary["mean_divergence_new"],
                summary.get("malformed_answers", 0), summary.get("duplicates", 0), len(bank),
                summary["best_divergence"], summary["seconds"],
            )  # fmt: skip
            if progress is not None:
                progress(summary)
        return self._result(state)

    def _seed_records(
        self, prompts: list[str], ids: list[str]
    ) -> tuple[list[dict[str, Any]], Counter]:
        scores = self.score(prompts)
        crit = self.judge(prompts) if self.settings.weight_criterion else [math.nan] * len(prompts)
        records = [
            _record(pid, p, "seed", 0, "scored", score=sc, criterion=c)
            for pid, p, sc, c in zip(ids, prompts, scores, crit)
        ]
        return records, Counter(seed_prompts=len(prompts))

    def _cycle_records(
        self, records: list[dict[str, Any]], cycle: int
    ) -> tuple[list[dict[str, Any]], Counter]:
        bank = [r for r in records if r["status"] == "scored"]
        candidates, counts = self.ask_assistant(bank, cycle)
        # rejected prompts are not asked again
        known = [r["prompt"] for r in records if r["status"] != "duplicate"]
        dups = self.deduplicate(candidates, known)
        fresh = [p for p, d in zip(candidates, dups) if d is None]
        counts["duplicates"] = len(candidates) - len(fresh)
        verdicts = self.judge(fresh)
        counts["criterion_unparsed"] = sum(
            1 for v in verdicts if self.settings.criterion and math.isnan(v)
        )
        rejected = [self.settings.criterion_filter and v == 0.0 for v in verdicts]
        counts["rejected_by_criterion"] = sum(rejected)
        to_score = [p for p, r in zip(fresh, rejected) if not r]
        scores = dict(zip(to_score, self.score(to_score)))
        out = [
            _record(
                search_prompt_id(p),
                p,
                "assistant",
                cycle,
                "duplicate",
                score=None,
                criterion=math.nan,
                duplicate_of=d,
            )
            for p, d in zip(candidates, dups)
            if d is not None
        ]
        for p, v, r in zip(fresh, verdicts, rejected):
            out.append(
                _record(
                    search_prompt_id(p),
                    p,
                    "assistant",
                    cycle,
                    "rejected_by_criterion" if r else "scored",
                    score=scores.get(p),
                    criterion=v,
                )
            )
        return out, counts

    def _result(self, state: dict[str, Any]) -> SearchResult:
        records = pd.DataFrame(state["records"], columns=list(RECORD_COLUMNS))
        cycles = pd.DataFrame(state["cycles"]).fillna(
            {c: 0 for c in ("malformed_answers", "duplicates")}
        )
        totals: Counter = Counter()
        for c in state["cycles"]:
            for k, v in c.items():
                if k not in {
                    "cycle",
                    "mean_divergence_new",
                    "max_divergence_new",
                    "bank_size",
                    "best_divergence",
                    "seconds",
                }:
                    totals[k] += int(v)
        return SearchResult(records=records, cycles=cycles, counters=dict(totals))


def _record(
    prompt_id: str,
    prompt: str,
    origin: str,
    cycle: int,
    status: str,
    *,
    score: dict[str, Any] | None,
    criterion: float,
    duplicate_of: str | None = None,
) -> dict[str, Any]:
    score = score or {}
    return {
        "prompt_id": prompt_id,
        "prompt": prompt,
        "origin": origin,
        "cycle": cycle,
        "status": status,
        "divergence": score.get("divergence", math.nan),
        "divergence_forward": score.get("divergence_forward", math.nan),
        "divergence_reverse": score.get("divergence_reverse", math.nan),
        "divergence_sd": score.get("divergence_sd", math.nan),
        "n_generations": score.get("n_generations", 0),
        "n_infinite": score.get("n_infinite", 0),
        "criterion": criterion,
        "example_text": score.get("example_text"),
        "duplicate_of": duplicate_of,
    }
