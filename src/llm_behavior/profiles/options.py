"""Multiple-choice option scoring with a shared context: each item's context runs once, its options
continue from the context's KV cache.

The options of an item share its context (a question, a BBQ passage), so scoring every
(context, option) pair separately computes the context k times. Here a batch of items' contexts is
run once (left-padded, as the backend's generation prefill), the cache is repeated once per option
(``Cache.reorder_cache``), and all options of the batch run in one more forward pass on top of it.
The first option token is predicted from the context's last position, the others from the option
pass. Tokenisation is the backend's own (lm-evaluation-harness split, ``TransformersLM._encode_pair``),
so the log-likelihoods equal :meth:`LanguageModel.loglikelihood` up to float error (checked in the
tests). An item whose options tokenise the context differently, and any backend without direct model
access (e.g. the OpenAI-compatible one), falls back to :meth:`LanguageModel.loglikelihood`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llm_behavior.models.base import LanguageModel
from llm_behavior.models.hf import pad_batch


def supports_shared_context(lm: LanguageModel) -> bool:
    return all(hasattr(lm, a) for a in ("model", "tokenizer", "_encode_pair"))


def option_token_logprobs(
    lm: LanguageModel,
    contexts: Sequence[str],
    options: Sequence[Sequence[str]],
    *,
    batch_size: int = 16,
) -> list[list[np.ndarray]]:
    """Per item, per option: the token log-probs of ``option`` (exactly as given) after ``context``."""
    import torch

    model, tok = lm.model, lm.tokenizer
    encode = lm._encode_pair  # noqa: SLF001  (the backend's own context/continuation split)
    out: list[list[np.ndarray] | None] = [None] * len(contexts)
    shared: list[tuple[int, list[int], list[list[int]]]] = []
    fallback: list[int] = []
    for i, (ctx, opts) in enumerate(zip(contexts, options)):
        pairs = [encode(ctx, o) for o in opts]
        if pairs and all(p[0] == pairs[0][0] for p in pairs):
            shared.append((i, pairs[0][0], [p[1] for p in pairs]))
        else:
            fallback.append(i)
    if fallback:
        reqs = [(contexts[i], o) for i in fallback for o in options[i]]
        lls = iter(lm.loglikelihood(reqs, batch_size=batch_size))
        for i in fallback:
            out[i] = [np.array(next(lls).token_logprobs, dtype=float) for _ in options[i]]
    # items of similar context + option length share a batch: little padding in either pass
    shared.sort(key=lambda s: -(len(s[1]) + max(len(c) for c in s[2])))
    device = next(model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.inference_mode():
        for start in range(0, len(shared), batch_size):
            _score_batch(model, shared[start : start + batch_size], pad, device, out)
    return out  # type: ignore[return-value]


def _score_batch(model: Any, batch: list, pad: int, device: Any, out: list) -> None:
    """Score one batch of (item index, context ids, [option ids]) into ``out``."""
    import torch
    from transformers import DynamicCache

    ids, att = pad_batch([ctx for _, ctx, _ in batch], pad, left=True)
    ids, att = ids.to(device), att.to(device)
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache()
    first = model(
        input_ids=ids,
        attention_mask=att,
        position_ids=pos,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits[:, -1, :]
    first_lp = torch.log_softmax(first.float(), dim=-1)
    rows = [(r, k) for r, (_, _, conts) in enumerate(batch) for k in range(len(conts))]
    conts = [batch[r][2][k] for r, k in rows]
    span = max(len(c) for c in conts) - 1  # the last option token is only predicted, never fed
    rest_lp = None
    if span > 0:
        item_of_row = torch.tensor([r for r, _ in rows], device=device)
        cache.reorder_cache(item_of_row)
        opt, opt_att = pad_batch([c[:-1] for c in conts], pad, left=False)  # width = span
        opt, opt_att = opt.to(device), opt_att.to(device)
        att2 = torch.cat([att[item_of_row], opt_att], dim=1)
        ctx_len = att.sum(-1)[item_of_row]
        pos2 = ctx_len[:, None] + torch.arange(span, device=device)[None, :]
        logits = model(
            input_ids=opt,
            attention_mask=att2,
            position_ids=pos2,
            past_key_values=cache,
            use_cache=True,
        ).logits
        rest_lp = torch.log_softmax(logits.float(), dim=-1)
    results: dict[int, list[np.ndarray]] = {}
    for j, ((r, _), c) in enumerate(zip(rows, conts)):
        lps = [float(first_lp[r, c[0]])]
        if len(c) > 1 and rest_lp is not None:
            target = torch.tensor(c[1:], device=device)
            lps += (
                rest_lp[j, : len(c) - 1].gather(-1, target[:, None])[:, 0].double().cpu().tolist()
            )
        results.setdefault(r, []).append(np.array(lps, dtype=float))
    for r, (i, _, _) in enumerate(batch):
        out[i] = results[r]
