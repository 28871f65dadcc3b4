"""Checks that two models can be compared token by token (same tokenizer, full logits)."""

from __future__ import annotations

from typing import Any

from llm_behavior.models.base import LanguageModel, require_transformers


class TokenizerMismatchError(ValueError):
    """The two models do not share a tokenizer, so their
    next-token distributions are not comparable."""


def _special_tokens(tokenizer: Any) -> dict[str, Any]:
    """Named special tokens and their ids (bos/eos/pad/unk and any extra special tokens)."""
    names = dict(getattr(tokenizer, "special_tokens_map", {}) or {})
    out: dict[str, Any] = {}
    for key, value in sorted(names.items()):
        values = value if isinstance(value, list) else [value]
        out[key] = [(str(v), tokenizer.convert_tokens_to_ids(str(v))) for v in values]
    return out


def tokenizer_differences(tok_a: Any, tok_b: Any, max_examples: int = 5) -> list[str]:
    """Human-readable differences between two tokenizers'
    vocabularies and special tokens (empty: same)."""
    diffs: list[str] = []
    vocab_a, vocab_b = tok_a.get_vocab(), tok_b.get_vocab()
    if len(vocab_a) != len(vocab_b):
        diffs.append(f"vocabulary sizes differ: {len(vocab_a)} vs {len(vocab_b)}")
    if vocab_a != vocab_b:
        changed = [t for t in vocab_a if vocab_b.get(t) != vocab_a[t]]
        extra = [t for t in vocab_b if t not in vocab_a]
        diffs.append(
            f"vocabularies differ ({len(changed)} tokens "
            f"missing or with another id, {len(extra)} extra), "
            f"e.g. {[*changed, *extra][:max_examples]!r}"
        )
    spec_a, spec_b = _special_tokens(tok_a), _special_tokens(tok_b)
    for key in sorted(set(spec_a) | set(spec_b)):
        if spec_a.get(key) != spec_b.get(key):
            diffs.append(
                f"special token {key!r} differs: {spec_a.get(key)!r} vs {spec_b.get(key)!r}"
            )
    return diffs


def check_same_tokenizer(
    tok_a: Any, tok_b: Any, names: tuple[str, str] = ("starting", "comparison")
) -> None:
    """Raise :class:`TokenizerMismatchError` naming the differences if the tokenizers differ."""
    diffs = tokenizer_differences(tok_a, tok_b)
    if diffs:
        raise TokenizerMismatchError(
            f"The {names[0]} and {names[1]} models do not "
            "share a tokenizer, so per-token divergence and "
            "contrastive decoding are undefined for this pair: "
            + "; ".join(diffs)
            + ". Use two models of one family (e.g. a model and its quantized, fine-tuned or "
            "system-prompted variant)."
        )


def check_pair(starting: LanguageModel, comparison: LanguageModel) -> None:
    """Both models expose full logits (transformers backend)
    and share one tokenizer and vocabulary width."""
    s = require_transformers(starting, "Contrastive decoding and per-token KL (starting model)")
    c = require_transformers(comparison, "Contrastive decoding and per-token KL (comparison model)")
    check_same_tokenizer(s.tokenizer, c.tokenizer)
    width_s, width_c = s.vocab_width, c.vocab_width
    if width_s != width_c:
        raise TokenizerMismatchError(
            f"The models share a tokenizer but their output layers differ in width ({width_s} vs "
            f"{width_c} logits), so their distributions cannot be compared position by position."
        )
