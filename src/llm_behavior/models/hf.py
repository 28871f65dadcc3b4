"""Transformers backend: batched, KV-cached, seeded generation; log-likelihoods; hidden states.

Generation runs its own decoding loop (prefill with left padding, then one token per step on a
KV cache) so that every (prompt, sample) row draws its randomness from its own generator:
the text for a prompt depends on its seed only, not on which prompts share its batch. Greedy
decoding equals ``model.generate(do_sample=False)`` up to floating-point near-ties.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llm_behavior.models import packing
from llm_behavior.models.base import Generation, LanguageModel, LogLikelihood, TransformersCapable
from llm_behavior.models.batching import batch_after_prefix, pad_batch, shared_prefix_cache
from llm_behavior.models.sampling import apply_stop, filter_logits, row_seed
from llm_behavior.models.spec import GenerationSettings, ModelSpec

logger = logging.getLogger(__name__)


class TransformersLM(LanguageModel, TransformersCapable):
    """A causal LM from transformers behind the project's LM interface, with the
    :class:`~llm_behavior.models.base.TransformersCapable` capability (tokenizer, next-token
    logits with a KV cache, per-token hidden states)."""

    def __init__(
        self, model: Any, tokenizer: Any, spec: ModelSpec, source_info: dict[str, Any] | None = None
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.source_info = dict(source_info or {})
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.eos_ids = self._eos_ids()
        self._final_norm = _final_norm(model)
        self._use_pre: bool | None = None  # whether hidden_states[-1] is the normed last layer
        self._logits_to_keep = True  # the model's forward takes ``logits_to_keep``

    # ------------------------------------------------------------------ formatting
    @property
    def uses_chat_template(self) -> bool:
        flag = self.spec.use_chat_template
        has = bool(getattr(self.tokenizer, "chat_template", None))
        if flag is True and not has:
            raise ValueError(
                f"use_chat_template=true but {self.spec.source!r} has no chat template"
            )
        return has if flag == "auto" else bool(flag)

    @property
    def chat_template_hash(self) -> str | None:
        tmpl = getattr(self.tokenizer, "chat_template", None)
        if not self.uses_chat_template or not tmpl:
            return None
        return hashlib.sha256(str(tmpl).encode()).hexdigest()[:16]

    def format_prompt(self, prompt: str) -> str:
        user = self.spec.prompt_template.format(prompt=prompt)
        if self.uses_chat_template:
            messages = []
            if self.spec.system_prompt is not None:
                messages.append({"role": "system", "content": self.spec.system_prompt})
            messages.append({"role": "user", "content": user})
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        if self.spec.system_prompt:
            return f"{self.spec.system_prompt}\n\n{user}"
        return user

    def _eos_ids(self) -> list[int]:
        ids = set()
        for source in (
            self.tokenizer.eos_token_id,
            getattr(self.model.generation_config, "eos_token_id", None),
        ):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(int(i) for i in source)
        return sorted(ids)

    def encode_prompts(self, formatted: Sequence[str]) -> list[list[int]]:
        add_special = not self.uses_chat_template  # a chat template writes its own special tokens
        enc = self.tokenizer(list(formatted), add_special_tokens=add_special)["input_ids"]
        return [list(ids) for ids in enc]

    # ------------------------------------------------------------------ generation
    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def generate(
        self,
        prompts: Sequence[str],
        settings: GenerationSettings | None = None,
        *,
        seeds: Sequence[int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        settings = settings or self.spec.generation
        seeds = (
            list(seeds)
            if seeds is not None
            else [row_seed(settings.seed, i) for i in range(len(prompts))]
        )
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        if not prompts:
            return []
        token_ids = self.encode_prompts([self.format_prompt(p) for p in prompts])
        prefix = shared_prefix_cache(self, token_ids)
        rows = [(i, s) for i in range(len(prompts)) for s in range(settings.num_samples)]
        # length-sorted batching: similar lengths share a batch, so little padding is computed;
        # a prompt's samples stay adjacent, so its prompt is prefilled once
        rows.sort(key=lambda r: (len(token_ids[r[0]]), r))
        out: list[Generation] = []
        for start in range(0, len(rows), settings.batch_size):
            batch = rows[start : start + settings.batch_size]
            out.extend(
                self._generate_batch(
                    token_ids, batch, [row_seed(seeds[i], s) for i, s in batch], settings, prefix
                )
            )
            if progress is not None:
                progress(len(batch))
        out.sort(key=lambda g: (g.prompt_index, g.sample))
        return out

    def _generate_batch(
        self,
        token_ids: list[list[int]],
        rows: list[tuple[int, int]],
        seeds: list[int],
        settings: GenerationSettings,
        prefix: tuple[int, Any],
    ) -> list[Generation]:
        import torch

        device = self.device
        pad = self.tokenizer.pad_token_id
        # prefill each distinct prompt of the batch once; its samples share the resulting cache
        uniq = list(dict.fromkeys(i for i, _ in rows))  # distinct prompts, in batch order
        row_of = torch.tensor([uniq.index(i) for i, _ in rows], device=device)
        input_ids, attention, positions, cache = batch_after_prefix(
            self, [token_ids[i][prefix[0] :] for i in uniq], prefix
        )
        gens = (
            [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
            if not settings.greedy
            else []
        )
        eos = torch.tensor(self.eos_ids or [-1], device=device)
        done = torch.zeros(len(rows), dtype=torch.bool, device=device)
        new_tokens: list[Any] = []
        with torch.inference_mode():
            logits = self.next_token_logits(
                input_ids, attention_mask=attention, position_ids=positions, cache=cache
            )[:, -1, :].float()
            if len(uniq) != len(rows):  # expand prompts to their samples
                cache.reorder_cache(row_of)
                attention, positions, logits = attention[row_of], positions[row_of], logits[row_of]
            step_pos = positions[:, -1:]
            nxt: Any = None  # the previous step's tokens
            for step in range(settings.max_new_tokens):
                if step:
                    logits = self.next_token_logits(
                        nxt[:, None], attention_mask=attention, position_ids=step_pos, cache=cache
                    )[:, -1, :].float()
                nxt = self._pick(logits, settings, gens)
                nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
                new_tokens.append(nxt)
                done = done | torch.isin(nxt, eos)
                if bool(done.all()):
                    break
                step_pos = step_pos + 1
                attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        gen = torch.stack(new_tokens, dim=1).cpu().tolist()
        results = []
        eos_set = set(self.eos_ids)
        for (prompt_index, sample), toks in zip(rows, gen):
            cut = next((j for j, t in enumerate(toks) if t in eos_set), None)
            kept = toks if cut is None else toks[:cut]
            text, stopped = apply_stop(
                self.tokenizer.decode(kept, skip_special_tokens=True), settings.stop
            )
            results.append(
                Generation(
                    prompt_index=prompt_index,
                    sample=sample,
                    text=text,
                    n_prompt_tokens=len(token_ids[prompt_index]),
                    n_new_tokens=len(kept) + (0 if cut is None else 1),
                    finish_reason="stop" if stopped else ("eos" if cut is not None else "length"),
                    token_ids=_ids_of_text(self.tokenizer, kept, text)
                    if stopped
                    else [int(t) for t in kept],
                )
            )
        return results

    @staticmethod
    def _pick(logits: Any, settings: GenerationSettings, gens: list[Any]) -> Any:
        """Greedy argmax, or a Gumbel-max draw with each row's own generator."""
        import torch

        if settings.greedy:
            return logits.argmax(-1)
        filtered = filter_logits(logits, settings.temperature, settings.top_p, settings.top_k)
        u = torch.stack([torch.rand(logits.shape[-1], generator=g) for g in gens]).to(logits.device)
        gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
        return (filtered + gumbel).argmax(-1)

    # ------------------------------------------------------------------ scoring
    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Token ids of context and continuation, split as lm-evaluation-harness's ``HFLM`` does
        (docs/profiling.md, "Parity with lm-evaluation-harness"): the context's trailing whitespace
        moves onto the continuation; the whole text is tokenised once and the continuation is its
        tokens after the first ``len(tokenise(context))``; an empty context becomes BOS (else
        EOS); a tokenizer that adds BOS by default gets it before a non-empty context (not before
        one that already starts with the BOS text), as lm-eval's default ``add_bos_token=None``.

        One deliberate difference: the context ids are the whole text's first tokens, where lm-eval
        takes the context tokenised alone. They differ only when a token spans the boundary; we
        then score the token sequence the tokenizer gives the full text.
        """
        tok = self.tokenizer
        n_space = len(context) - len(context.rstrip())
        if n_space:  # move trailing whitespace of the context onto the continuation
            continuation = context[-n_space:] + continuation
            context = context[:-n_space]
        whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
        ctx = tok(context, add_special_tokens=False)["input_ids"]
        cont = whole[len(ctx) :]
        ctx = whole[: len(ctx)]
        if not ctx:  # condition on BOS (or EOS) when the context is empty
            start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            ctx = [start]
        elif self._adds_bos and not context.startswith(str(tok.bos_token)):
            ctx = [tok.bos_token_id, *ctx]
        if not cont:
            raise ValueError(f"empty continuation after tokenisation: {continuation!r}")
        return ctx, cont

    @property
    def _adds_bos(self) -> bool:
        """Whether the tokenizer puts BOS first by default (lm-eval then keeps it on contexts)."""
        tok = self.tokenizer
        if tok.bos_token_id is None:
            return False
        ids = tok("a", add_special_tokens=True)["input_ids"]
        return bool(ids) and ids[0] == tok.bos_token_id

    def loglikelihood(
        self,
        requests: Sequence[tuple[str, str]],
        *,
        batch_size: int = 16,
        share_prefixes: bool = True,
    ) -> list[LogLikelihood]:
        """Log-likelihood of each continuation given its
        context, ``batch_size`` rows per forward pass.

        For models whose attention takes a custom 4-D mask (sdpa, eager) requests are packed side
        by side into rows (:mod:`llm_behavior.models.packing`): little padding, and with
        ``share_prefixes`` (the default) requests that begin with the same tokens share their
        common prefix, computed once. Other models get one left-padded request per row, rows
        sorted by length. Either way the LM head and the softmax normaliser run only where a scored
        token is predicted, and the results equal a plain forward pass per request with
        ``log_softmax`` up to float error (tests).
        """
        encoded = [self.encode_pair(c, x) for c, x in requests]
        if self.model.config._attn_implementation in packing.PACKABLE_ATTENTION:
            return self._loglikelihood_packed(encoded, batch_size, share_prefixes)
        import torch

        order = sorted(
            range(len(encoded)),
            key=lambda i: (-(len(encoded[i][0]) + len(encoded[i][1])), -len(encoded[i][1])),
        )
        results: list[LogLikelihood | None] = [None] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                for i, ll in zip(idx, self._score_continuations([encoded[i] for i in idx])):
                    results[i] = ll
        return [r for r in results if r is not None]

    def _loglikelihood_packed(
        self, encoded: Sequence[tuple[list[int], list[int]]], batch_size: int, share_prefixes: bool
    ) -> list[LogLikelihood]:
        """Packed rows, optionally with shared prefixes (see :meth:`loglikelihood`)."""
        import torch

        seqs = [ctx + cont for ctx, cont in encoded]
        n_scored = [len(cont) for _, cont in encoded]
        if share_prefixes:
            groups = packing.group_by_prefix(seqs)
        else:
            groups = [packing.Group(len(s), (i,)) for i, s in enumerate(seqs)]
        rows = packing.fill_rows(groups, seqs)
        pad = self.tokenizer.pad_token_id  # set to EOS in __init__ when the tokenizer has none
        token_lps: list[list[float]] = [[] for _ in encoded]
        greedy = [True] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(rows), batch_size):
                batch = packing.pack(rows[start : start + batch_size], seqs, n_scored, pad)
                lp, is_max = packing.score_packed(self.model, batch, self.device)
                for m, v, top in zip(batch.owners, lp.tolist(), is_max.tolist()):
                    token_lps[m].append(v)
                    greedy[m] = greedy[m] and top
        return [
            LogLikelihood(
                logprob=math.fsum(lps), n_tokens=len(lps), is_greedy=g, token_logprobs=lps
            )
            for lps, g in zip(token_lps, greedy)
        ]

    def _score_continuations(
        self, batch: Sequence[tuple[list[int], list[int]]]
    ) -> list[LogLikelihood]:
        """One forward pass over left-padded (context +
        continuation) ids; logits only where needed."""
        import torch

        pad = self.tokenizer.pad_token_id  # set to EOS in __init__ when the tokenizer has none
        keep = max(len(cont) for _, cont in batch) + 1  # the last position predicts nothing scored
        inp, att = pad_batch([ctx + cont for ctx, cont in batch], pad, left=True)
        pos = (att.cumsum(-1) - 1).clamp(min=0)
        logits = self.model(
            input_ids=inp.to(self.device),
            attention_mask=att.to(self.device),
            position_ids=pos.to(self.device),
            logits_to_keep=keep,
        ).logits[:, -keep:-1]  # (B, keep - 1, V): column j predicts token width - keep + 1 + j
        out = []
        for r, (_, cont) in enumerate(batch):
            rows = logits[r, keep - 1 - len(cont) :].float()
            target = torch.tensor(cont, device=rows.device)
            tok_lp = rows.gather(-1, target[:, None])[:, 0] - torch.logsumexp(rows, dim=-1)
            out.append(
                LogLikelihood(
                    logprob=float(tok_lp.double().sum()),
                    n_tokens=len(cont),
                    is_greedy=bool((rows.argmax(-1) == target).all()),
                    token_logprobs=tok_lp.cpu().tolist(),
                )
            )
        return out

    # ------------------------------------------------------------------ TransformersCapable
    @property
    def vocab_width(self) -> int:
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def n_layers(self) -> int:
        return int(self.model.config.get_text_config().num_hidden_layers)

    @property
    def d_model(self) -> int:
        return int(self.model.config.get_text_config().hidden_size)

    def new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def next_token_logits(
        self,
        input_ids: Any,
        *,
        attention_mask: Any = None,
        position_ids: Any = None,
        cache: Any = None,
        keep: int | None = 1,
    ) -> Any:
        """Logits (B, keep, V) of the last ``keep`` positions (None: all); ``cache`` is extended."""
        kwargs: dict[str, Any] = {"input_ids": input_ids}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if cache is not None:
            kwargs.update(cache=cache, use_cache=True)
        elif keep is not None:
            kwargs["use_cache"] = False
        if keep is not None:
            kwargs["logits_to_keep"] = keep
        return self.model(**kwargs).logits

    @property
    def final_layer(self) -> str | None:
        """How the last layer of :meth:`token_hidden_states` was obtained: ``pre_final_norm`` (a
        hook on the final norm), ``as_returned_by_transformers`` (no separate final norm found, or
        transformers already returns the un-normed state); None before the first call."""
        if self._use_pre is None:
            return None
        return "pre_final_norm" if self._use_pre else "as_returned_by_transformers"

    def token_hidden_states(
        self, input_ids: Any, attention_mask: Any, *, final_norm: bool = False
    ) -> list[Any]:
        """Every layer's per-token hidden states: ``n_layers + 1`` tensors (B, T, d).

        Layer 0 is the embeddings and layer ``l`` block ``l - 1``'s output (the residual stream),
        the last one before the final norm (captured by a hook on it); ``final_norm=True`` gives
        the last layer after the norm instead, as transformers returns it.
        """
        import torch

        captured: list[Any] = []
        handle = None
        if self._final_norm is not None and not final_norm:
            handle = self._final_norm.register_forward_pre_hook(
                lambda _m, args: captured.append(args[0])
            )
        kwargs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "output_hidden_states": True,
            "use_cache": False,
        }
        try:
            if self._logits_to_keep:
                try:  # only the last position's logits: skips most of the vocabulary projection
                    out = self.model(**kwargs, logits_to_keep=1)
                except TypeError:
                    self._logits_to_keep = False
                    captured.clear()
                    out = self.model(**kwargs)
            else:
                out = self.model(**kwargs)
        finally:
            if handle is not None:
                handle.remove()
        hs = list(out.hidden_states)
        if captured:
            pre = captured[-1]
            if self._use_pre is None:
                # use the pre-norm state only where transformers returned the normed one
                with torch.no_grad():
                    normed = self._final_norm(pre)
                self._use_pre = torch.allclose(
                    normed.float(), hs[-1].float(), atol=1e-4, rtol=1e-3
                ) and not (torch.allclose(pre.float(), hs[-1].float(), atol=1e-6))
            if self._use_pre:
                hs[-1] = pre
        elif self._final_norm is None and self._use_pre is None:
            self._use_pre = False
        return hs

    def hidden_states(
        self, texts: Sequence[str], *, batch_size: int = 16, final_norm: bool = False, **_: Any
    ) -> np.ndarray:
        """Mean over each text's tokens of every layer's
        hidden state: (n_texts, n_layers+1, d) float32.

        The layers of :meth:`token_hidden_states`: the last one before the final norm unless
        ``final_norm`` (SEAT asks for it after the norm, the model's output representation).
        """
        import torch

        enc_all = self.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        out: list[np.ndarray] = []
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            for start in range(0, len(enc_all), batch_size):
                inp, att = pad_batch(enc_all[start : start + batch_size], pad, left=False)
                hs = self.token_hidden_states(
                    inp.to(self.device), att.to(self.device), final_norm=final_norm
                )
                stacked = torch.stack([h.float() for h in hs], dim=1)  # (B, L+1, T, d)
                mask = att.to(stacked.device)[:, None, :, None].float()
                mean = (stacked * mask).sum(2) / mask.sum(2).clamp(min=1)
                out.append(mean.cpu().numpy())
        return np.concatenate(out, axis=0) if out else np.zeros((0, 0, 0), dtype=np.float32)

    # ------------------------------------------------------------------ provenance
    def provenance(self) -> dict[str, Any]:
        import torch
        import transformers

        versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        if self.spec.quantization != "none":
            import bitsandbytes

            versions["bitsandbytes"] = bitsandbytes.__version__
        qcfg = getattr(self.model.config, "quantization_config", None)
        return {
            "backend": "transformers",
            "versions": versions,
            "source": self.spec.source,
            "revision": self.source_info.get("revision"),
            "source_kind": self.source_info.get("kind"),
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "quantization": self.spec.quantization,
            "quantization_config": qcfg.to_dict() if hasattr(qcfg, "to_dict") else None,
            "chat_template_hash": self.chat_template_hash,
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
        }


def _final_norm(model: Any) -> Any:
    """The decoder's final norm module (``norm``, ``final_layernorm`` or ``ln_f``), or None."""
    try:
        decoder = model.get_decoder()
    except (AttributeError, NotImplementedError):
        decoder = getattr(model, "model", None)
    for name in ("norm", "final_layernorm", "ln_f"):
        mod = getattr(decoder, name, None)
        if mod is not None:
            return mod
    return None


def _ids_of_text(tokenizer: Any, ids: Sequence[int], text: str) -> list[int]:
    """The shortest prefix of the generated ``ids`` whose decoding covers ``text`` (the text cut at
    a stop string): the tokens the model produced up to the one that completes the kept text."""
    if not text:
        return []
    for j in range(1, len(ids) + 1):
        if len(tokenizer.decode(ids[:j], skip_special_tokens=True)) >= len(text):
            return [int(t) for t in ids[:j]]
    return [int(t) for t in ids]


def perplexity(ll: LogLikelihood) -> float:
    return math.exp(-ll.mean_logprob)
