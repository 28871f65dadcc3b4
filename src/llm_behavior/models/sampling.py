"""Seeds and sampling helpers shared by the backends and the decoders: per-row seeds, logits
filtering (temperature, top-k, top-p) and stop strings."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any


def row_seed(seed: int, *keys: Any) -> int:
    """A 63-bit seed derived from a base seed and keys (prompt id, sample index, ...)."""
    blob = ":".join(str(k) for k in (seed, *keys)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & ((1 << 63) - 1)


def filter_logits(logits: Any, temperature: float, top_p: float, top_k: int) -> Any:
    """Temperature, top-k and top-p (nucleus) filtering of a (B, V) logits tensor (-inf outside)."""
    import torch

    logits = logits / max(temperature, 1e-8)
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        # drop a token if the mass strictly before it already reaches top_p (keeps >= 1 token)
        drop_sorted = (torch.cumsum(probs, dim=-1) - probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the first of the ``stop`` strings it contains, and whether it was cut."""
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
