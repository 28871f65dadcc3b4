"""Contrastive decoding between two models that share a tokenizer, with per-token divergence.

Both models step in lockstep, each on its own prompt rendering (its chat template and system
prompt) and its own KV cache; the next token is drawn from the starting model, the comparison
model, or the combination ``p = w_s p_s + w_c p_c`` (clipped at 0, + 1e-7, renormalised), with
temperature / top-p applied to the chosen distribution. At every generated position the full
next-token distributions of both models are compared on RAW logits (no temperature, no top-p):
``KL(p_s || p_c)`` and ``KL(p_c || p_s)``. Only generated positions count (the position that
produced EOS included; positions after a row finished are padding and masked out).

With ``mode="starting"`` and plain sampling (T = 1, top_p = 1) the mean over samples of the summed
per-token ``KL(p_s || p_c)`` is an unbiased estimate of the sequence-level KL between the two
models' continuations of the prompt (chain rule of KL).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_behavior.divergence.pair import check_pair
from llm_behavior.models.base import LanguageModel
from llm_behavior.models.batching import batch_after_prefix, shared_prefix_cache
from llm_behavior.models.sampling import filter_logits, row_seed

MODES: tuple[str, ...] = ("starting", "comparison", "combined")
COMBINE_EPS = 1e-7


@dataclass(frozen=True)
class ContrastiveSettings:
    """How to decode from a model pair. ``temperature == 0`` means greedy."""

    mode: str = "starting"
    starting_weight: float = 1.0
    comparison_weight: float = -1.0
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 25
    num_samples: int = 1
    seed: int = 0
    batch_size: int = 16
    use_cache: bool = True  # False: recompute both models on the whole sequence at every step

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"decoding.mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "combined" and max(self.starting_weight, self.comparison_weight) <= 0:
            raise ValueError(
                "decoding.mode 'combined' needs a positive starting_weight or comparison_weight "
                f"(got {self.starting_weight}, {self.comparison_weight}): "
                "every probability would clip to 0"
            )
        if self.temperature < 0:
            raise ValueError(f"decoding.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"decoding.top_p must be in (0, 1], got {self.top_p}")
        for name in ("max_new_tokens", "num_samples", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"decoding.{name} must be >= 1, got {getattr(self, name)}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ContrastiveSettings:
        """Build from a parameters dict; unknown keys are an error."""
        d = dict(d or {})
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown contrastive decoding setting(s): {sorted(unknown)}")
        return cls(**d)


@dataclass
class ContrastiveText:
    """One continuation decoded from the pair, with per-token divergences and log-probs."""

    prompt_index: int
    sample: int
    prompt: str
    text: str
    token_ids: list[int]
    pieces: list[str]  # the text of each generated token (concatenation = text; special tokens "")
    kl_sc: list[float]  # KL(p_s || p_c) per generated position
    kl_cs: list[float]  # KL(p_c || p_s) per generated position
    logprob_s: list[float]  # log p_s(token) (raw logits)
    logprob_c: list[float]  # log p_c(token) (raw logits)
    finish_reason: str  # "eos" | "length"
    n_prompt_tokens: tuple[int, int] = (0, 0)  # (starting, comparison) renderings
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def mean_kl(self) -> float:
        """Mean KL(p_s || p_c) over generated positions (NaN if none)."""
        return sum(self.kl_sc) / len(self.kl_sc) if self.kl_sc else math.nan

    @property
    def mean_kl_reverse(self) -> float:
        """Mean KL(p_c || p_s) over generated positions (NaN if none)."""
        return sum(self.kl_cs) / len(self.kl_cs) if self.kl_cs else math.nan

    @property
    def perplexity_starting(self) -> float:
        return math.exp(-sum(self.logprob_s) / len(self.logprob_s)) if self.logprob_s else math.nan

    @property
    def perplexity_comparison(self) -> float:
        return math.exp(-sum(self.logprob_c) / len(self.logprob_c)) if self.logprob_c else math.nan


# ---------------------------------------------------------------------- distributions
def kl_from_logprobs(logp: Any, logq: Any) -> Any:
    """KL(p || q) along the last axis from log-probabilities (0 * log 0 taken as 0)."""
    import torch

    p = logp.exp()
    terms = torch.where(p > 0, p * (logp - logq), torch.zeros_like(p))
    return terms.sum(-1)


def combined_logprobs(
    logits_s: Any,
    logits_c: Any,
    starting_weight: float,
    comparison_weight: float,
    eps: float = COMBINE_EPS,
) -> Any:
    """log of ``p = max(w_s p_s + w_c p_c, 0) + eps``,
    renormalised to sum to 1 over the vocabulary."""
    import torch

    p = starting_weight * torch.softmax(logits_s, dim=-1) + comparison_weight * torch.softmax(
        logits_c, dim=-1
    )
    p = p.clamp(min=0.0) + eps
    return torch.log(p / p.sum(-1, keepdim=True))


def _sampling_logits(logits_s: Any, logits_c: Any, settings: ContrastiveSettings) -> Any:
    """The (B, V) scores the next token is drawn from, before temperature / top-p."""
    if settings.mode == "starting":
        return logits_s
    if settings.mode == "comparison":
        return logits_c
    return combined_logprobs(
        logits_s, logits_c, settings.starting_weight, settings.comparison_weight
    )


def _pick(scores: Any, settings: ContrastiveSettings, gens: list[Any]) -> Any:
    """Greedy argmax, or a Gumbel-max draw with each row's own generator (batch-independent)."""
    import torch

    if settings.greedy:
        return scores.argmax(-1)
    filtered = filter_logits(scores, settings.temperature, settings.top_p, 0)
    u = torch.stack([torch.rand(scores.shape[-1], generator=g) for g in gens]).to(scores.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
    return (filtered + gumbel).argmax(-1)


# ---------------------------------------------------------------------- one model's state
class _Stream:
    """One model's side of the lockstep: its prompt rows, attention mask and KV cache.

    With a cache, the shared prefix comes from ``prefix`` and each distinct prompt of the batch
    is prefilled once, then expanded to its samples. Without (the baseline), the whole padded
    sequence is recomputed at every step.
    """

    def __init__(
        self,
        lm: Any,
        token_ids: Sequence[Sequence[int]],
        prompt_rows: list[int],
        prefix: tuple[int, Any],
        use_cache: bool,
    ):
        import torch

        self.lm = lm
        self.device = lm.device
        self.use_cache = use_cache
        prefix = prefix if use_cache else (0, None)
        uniq = list(dict.fromkeys(prompt_rows)) if use_cache else list(prompt_rows)
        self.row_of = torch.tensor([uniq.index(i) for i in prompt_rows], device=self.device)
        self.input_ids, self.attention, self.positions, cache = batch_after_prefix(
            lm, [list(token_ids[i][prefix[0] :]) for i in uniq], prefix
        )
        self.cache = cache if use_cache else None

    def _forward(self, input_ids: Any, positions: Any) -> Any:
        logits = self.lm.next_token_logits(
            input_ids, attention_mask=self.attention, position_ids=positions, cache=self.cache
        )
        return logits[:, -1, :].float()

    def prefill(self) -> Any:
        """Raw next-token logits (B, V) float32 after the prompts (one row per (prompt, sample))."""
        logits = self._forward(self.input_ids, self.positions)
        # expand prompts to their samples
        if self.use_cache and len(self.row_of) != logits.shape[0]:
            self.cache.reorder_cache(self.row_of)
            logits = logits[self.row_of]
        self.attention = self.attention[self.row_of]
        self.positions = self.positions[self.row_of]
        if not self.use_cache:
            self.input_ids = self.input_ids[self.row_of]
        return logits

    def step(self, nxt: Any) -> Any:
        """Append one token per row; raw next-token logits (B, V) float32."""
        import torch

        nxt = nxt.to(self.device)[:, None]
        self.attention = torch.cat([self.attention, torch.ones_like(self.attention[:, :1])], dim=1)
        self.positions = torch.cat([self.positions, self.positions[:, -1:] + 1], dim=1)
        if self.use_cache:
            return self._forward(nxt, self.positions[:, -1:])
        # baseline: the whole sequence again
        self.input_ids = torch.cat([self.input_ids, nxt], dim=1)
        return self._forward(self.input_ids, self.positions)


# ---------------------------------------------------------------------- decoding
def encode_prompts(lm: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of each prompt as the model's own
    generate() renders it (template, system prompt)."""
    return lm.encode_prompts([lm.format_prompt(p) for p in prompts])


def token_pieces(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """The text each token adds; the pieces concatenate to the decoded text.

    Cumulative decoding: a token that ends in an incomplete multi-byte character (decoded as
    U+FFFD) adds nothing until a later token completes it (or the text ends).
    """
    pieces: list[str] = []
    emitted = ""
    for j in range(len(ids)):
        current = tokenizer.decode(list(ids[: j + 1]), skip_special_tokens=True)
        if current.endswith("\ufffd") and j < len(ids) - 1:
            pieces.append("")
            continue
        keep = (
            len(emitted)
            if current.startswith(emitted)
            else len(os.path.commonprefix([emitted, current]))
        )
        pieces.append(current[keep:])
        emitted = current
    return pieces


def contrastive_generate(
    starting: LanguageModel,
    comparison: LanguageModel,
    prompts: Sequence[str],
    settings: ContrastiveSettings | None = None,
    *,
    seeds: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ContrastiveText]:
    """Decode ``settings.num_samples`` continuations per
    prompt from the pair, with per-token divergences.

    ``seeds`` (one per prompt) make each prompt's samples independent of the batch they share
    (default: derived from ``settings.seed`` and the prompt's position). Returns one
    :class:`ContrastiveText` per (prompt, sample), ordered by prompt then sample.
    """
    settings = settings or ContrastiveSettings()
    check_pair(starting, comparison)
    seeds = (
        list(seeds)
        if seeds is not None
        else [row_seed(settings.seed, i) for i in range(len(prompts))]
    )
    if len(seeds) != len(prompts):
        raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
    ids_s = encode_prompts(starting, prompts)
    ids_c = encode_prompts(comparison, prompts)
    if not prompts:
        return []
    prefixes = (
        (shared_prefix_cache(starting, ids_s), shared_prefix_cache(comparison, ids_c))
        if settings.use_cache
        else ((0, None), (0, None))
    )
    rows = [(i, s) for i in range(len(prompts)) for s in range(settings.num_samples)]
    # length-sorted batches (little padding); a prompt's samples stay adjacent (prefilled once)
    rows.sort(key=lambda r: (len(ids_s[r[0]]) + len(ids_c[r[0]]), r))
    out: list[ContrastiveText] = []
    for start in range(0, len(rows), settings.batch_size):
        batch = rows[start : start + settings.batch_size]
        streams = (
            _Stream(starting, ids_s, [i for i, _ in batch], prefixes[0], settings.use_cache),
            _Stream(comparison, ids_c, [i for i, _ in batch], prefixes[1], settings.use_cache),
        )
        out.extend(
            _decode_batch(
                starting,
                streams,
                keys=batch,
                prompts=[prompts[i] for i, _ in batch],
                n_prompt_tokens=[(len(ids_s[i]), len(ids_c[i])) for i, _ in batch],
                seeds=[row_seed(seeds[i], s) for i, s in batch],
                settings=settings,
            )
        )
        if progress is not None:
            progress(len(batch))
    out.sort(key=lambda t: (t.prompt_index, t.sample))
    return out


def _decode_batch(
    starting: Any,
    streams: tuple[_Stream, _Stream],
    *,
    keys: list[tuple[int, int]],
    prompts: list[str],
    n_prompt_tokens: list[tuple[int, int]],
    seeds: list[int],
    settings: ContrastiveSettings,
) -> list[ContrastiveText]:
    import torch

    s_stream, c_stream = streams
    device = s_stream.device
    pad = starting.tokenizer.pad_token_id
    eos = torch.tensor(starting.eos_ids or [-1], device=device)
    gens = [] if settings.greedy else [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    done = torch.zeros(len(keys), dtype=torch.bool, device=device)
    steps: list[tuple[Any, ...]] = []  # (token, valid, kl_sc, kl_cs, lp_s, lp_c) per step
    with torch.inference_mode():
        logits_s, logits_c = s_stream.prefill(), c_stream.prefill().to(device)
        nxt = None
        for step in range(settings.max_new_tokens):
            if step:
                logits_s, logits_c = s_stream.step(nxt), c_stream.step(nxt).to(device)
            lp_s = torch.log_softmax(logits_s, dim=-1)
            lp_c = torch.log_softmax(logits_c, dim=-1)
            nxt = _pick(_sampling_logits(logits_s, logits_c, settings), settings, gens)
            valid = ~done
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            steps.append(
                (
                    nxt,
                    valid,
                    kl_from_logprobs(lp_s, lp_c),
                    kl_from_logprobs(lp_c, lp_s),
                    lp_s.gather(-1, nxt[:, None])[:, 0],
                    lp_c.gather(-1, nxt[:, None])[:, 0],
                )
            )
            done = done | torch.isin(nxt, eos)
            if bool(done.all()):
                break
    cols = [torch.stack(col, dim=1).cpu() for col in zip(*steps)]
    tokens, valid, kl_sc, kl_cs, lp_s_tok, lp_c_tok = (c.tolist() for c in cols)
    eos_set = set(starting.eos_ids)
    results = []
    for r, (key, prompt) in enumerate(zip(keys, prompts)):
        n = sum(valid[r])  # generated positions (the EOS-producing one included)
        toks = tokens[r][:n]
        finished = bool(toks) and toks[-1] in eos_set
        pieces = token_pieces(starting.tokenizer, toks)
        results.append(
            ContrastiveText(
                prompt_index=key[0],
                sample=key[1],
                prompt=prompt,
                text=starting.tokenizer.decode(toks, skip_special_tokens=True),
                token_ids=toks,
                pieces=pieces,
                kl_sc=kl_sc[r][:n],
                kl_cs=kl_cs[r][:n],
                logprob_s=lp_s_tok[r][:n],
                logprob_c=lp_c_tok[r][:n],
                finish_reason="eos" if finished else "length",
                n_prompt_tokens=n_prompt_tokens[r],
                seed=seeds[r],
            )
        )
    return results
