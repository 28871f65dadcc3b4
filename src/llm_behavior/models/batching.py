"""Batches of token ids for the transformers backend's decoding loops: padding, and a KV cache of
the prefix all prompts share computed once and expanded to every row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llm_behavior.models.base import TransformersCapable


def pad_batch(seqs: Sequence[Sequence[int]], pad: int, *, left: bool) -> tuple[Any, Any]:
    """(ids, attention mask) of token sequences padded
    with ``pad`` to one width, on the left or right."""
    import torch

    width = max((len(x) for x in seqs), default=0)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    att = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, x in enumerate(seqs):
        if len(x):
            cols = slice(width - len(x), width) if left else slice(0, len(x))
            ids[r, cols] = torch.as_tensor(x, dtype=torch.long)
            att[r, cols] = 1
    return ids, att


def batch_after_prefix(
    lm: TransformersCapable, suffixes: Sequence[Sequence[int]], prefix: tuple[int, Any]
) -> tuple[Any, Any, Any, Any]:
    """Inputs to prefill ``suffixes`` after a shared prefix already in a KV cache.

    Returns (ids, attention, positions, cache): the suffixes left-padded (the padding sits between
    the prefix and each suffix), the attention mask over prefix + suffix, the suffix tokens'
    positions, and a fresh cache holding the prefix's keys and values once per row.
    """
    import torch

    n_prefix, prefix_cache = prefix
    ids, att = pad_batch(suffixes, lm.tokenizer.pad_token_id, left=True)
    attention = torch.cat([torch.ones((len(suffixes), n_prefix), dtype=torch.long), att], dim=1)
    ids, attention = ids.to(lm.device), attention.to(lm.device)
    positions = ((attention.cumsum(-1) - 1).clamp(min=0))[:, n_prefix:]
    cache = lm.new_cache()
    if prefix_cache is not None:
        for layer_idx, layer in enumerate(prefix_cache.layers):
            cache.update(
                layer.keys.expand(len(suffixes), -1, -1, -1).contiguous(),
                layer.values.expand(len(suffixes), -1, -1, -1).contiguous(),
                layer_idx,
            )
    return ids, attention, positions, cache


def shared_prefix_cache(
    lm: TransformersCapable, token_ids: Sequence[Sequence[int]]
) -> tuple[int, Any]:
    """(length, KV cache) of the token prefix all prompts
    share (template, system prompt), computed once.

    ``lm`` is :class:`~llm_behavior.models.base.TransformersCapable`.
    """
    import torch

    n = min(len(x) for x in token_ids) - 1  # every prompt keeps >= 1 token of its own to prefill
    first = token_ids[0]
    p = 0
    while p < n and all(x[p] == first[p] for x in token_ids):
        p += 1
    if p == 0:
        return 0, None
    cache = lm.new_cache()
    with torch.inference_mode():
        lm.next_token_logits(torch.tensor([list(first[:p])], device=lm.device), cache=cache)
    return p, cache
