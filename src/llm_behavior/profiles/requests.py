"""How a side's log-likelihood requests are formatted, and what each profile row records about it.

``profiling.request_format`` (parameters_profiling.yml):

- ``spec`` (default): each side is scored as its model spec defines it, the way
  lm-evaluation-harness does with ``--system_instruction`` and ``--apply_chat_template``: the
  context of every (context, continuation) request becomes :meth:`LanguageModel.format_prompt`
  of it (the side's prompt template, its system prompt, and its chat template with the
  generation prompt: the continuation is scored as the start of the assistant's reply). With a
  chat template the continuation's leading target delimiter (one space) is dropped, as lm-eval
  does (``target_delimiter = ""`` under a chat template). Without a chat template the system
  prompt is joined to the context by a blank line (lm-eval's ``fewshot_delimiter``). A standalone
  sentence (context "") is then scored after the formatted empty prompt, not after BOS alone.
  Next-token statistics condition every reference window on the formatted empty prompt
  (:func:`context_prefix_ids`); the scored positions are the same as in ``raw``.
- ``raw``: the raw text, as before: no system prompt, no prompt template, no chat template.

SEAT uses hidden states of bleached sentences and is always raw. Every profile row records its
request format (column ``request_format``) and the side's weights (``weights``: a fingerprint of
the parameter tensors); a comparison row whose two sides send identical requests to identical
weights is flagged (``identical_requests``): its difference is 0 by construction, not evidence of
no difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from llm_behavior.models.base import (
    LanguageModel,
    LogLikelihood,
    TransformersCapable,
    require_transformers,
)

MODES = ("spec", "raw")
RAW = "raw text (no system prompt, no prompt template, no chat template)"
# how each part sends text to the model
LOGLIKELIHOOD_PARTS = {"bias", "calibration", "next_token"}
GENERATION_PARTS = {"toxicity", "text", "diversity"}


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"profiling.request_format must be one of {MODES}, got {mode!r}")
    return mode


def _uses_chat_template(lm: LanguageModel) -> bool:
    """Whether the side renders prompts with a chat template here (a transformers-side notion:
    other backends' servers apply their own)."""
    return isinstance(lm, TransformersCapable) and bool(lm.uses_chat_template)


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def describe(lm: LanguageModel, mode: str = "spec") -> str:
    """The side's prompt format in words (chat template hash, system prompt, prompt template)."""
    if check_mode(mode) == "raw":
        return RAW
    spec = getattr(lm, "spec", None)
    if spec is None:
        return "the backend's own format"
    bits = []
    if _uses_chat_template(lm):
        bits.append(f"chat template {getattr(lm, 'chat_template_hash', None) or '?'}")
    else:
        bits.append("no chat template")
    if spec.system_prompt:
        digest = hashlib.sha256(spec.system_prompt.encode()).hexdigest()[:8]
        bits.append(f"system prompt {digest} {_short(spec.system_prompt)!r}")
    else:
        bits.append("no system prompt")
    if spec.prompt_template != "{prompt}":
        bits.append(f"prompt template {_short(spec.prompt_template)!r}")
    return "side's format: " + ", ".join(bits)


def part_format(lm: LanguageModel, part: str, dataset: str, mode: str) -> str:
    """What a profile row of (part, dataset) records as its request format."""
    if part == "bias" and dataset == "seat":
        return "hidden states of raw bleached sentences"
    if part == "utility":
        return "lm-eval task prompts (raw text)"
    if part in LOGLIKELIHOOD_PARTS:
        return "log-likelihood, " + describe(lm, mode)
    return "generation, " + describe(lm, "spec")


def format_requests(
    lm: LanguageModel, requests: Sequence[tuple[str, str]], mode: str = "spec"
) -> list[tuple[str, str]]:
    """The (context, continuation) requests as the side sends them (see the module docstring)."""
    if check_mode(mode) == "raw":
        return list(requests)
    chat = _uses_chat_template(lm)
    # lm-eval: no target delimiter (the leading space) after a chat template
    return [
        (lm.format_prompt(ctx), cont[1:] if chat and cont.startswith(" ") else cont)
        for ctx, cont in requests
    ]


class FormattedLM(LanguageModel):
    """A language model whose :meth:`loglikelihood` formats each request per ``mode`` first.

    Generation, hidden states and provenance are the wrapped model's. Around a
    :class:`~llm_behavior.models.base.TransformersCapable` model the wrapper is a
    :class:`FormattedTransformersLM`, which forwards that capability (tokenizer, next-token
    logits, per-token hidden states); around any other backend it has none, so code that needs it
    gets :func:`~llm_behavior.models.base.require_transformers`'s error naming the backend.
    """

    def __new__(cls, lm: LanguageModel | None = None, mode: str = "spec") -> FormattedLM:
        capable = cls is FormattedLM and isinstance(lm, TransformersCapable)
        return super().__new__(FormattedTransformersLM if capable else cls)

    def __init__(self, lm: LanguageModel, mode: str = "spec"):
        self.lm = lm
        self.mode = check_mode(mode)
        self.spec = lm.spec

    def format_prompt(self, prompt: str) -> str:
        return self.lm.format_prompt(prompt)

    def generate(self, prompts, settings=None, *, seeds=None, progress=None):  # noqa: ANN001, ANN201
        return self.lm.generate(prompts, settings, seeds=seeds, progress=progress)

    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], *, batch_size: int = 16, **kwargs: Any
    ) -> list[LogLikelihood]:
        return self.lm.loglikelihood(
            format_requests(self.lm, requests, self.mode), batch_size=batch_size, **kwargs
        )

    def hidden_states(self, texts: Sequence[str], **kwargs: Any) -> Any:
        return self.lm.hidden_states(texts, **kwargs)

    def provenance(self) -> dict[str, Any]:
        return self.lm.provenance()


class FormattedTransformersLM(FormattedLM, TransformersCapable):
    """:class:`FormattedLM` around a transformers-capable model: the capability is the wrapped
    model's, member by member (the raw model sees raw token ids: only the log-likelihood
    requests' text is formatted)."""

    lm: TransformersCapable

    @property
    def tokenizer(self) -> Any:
        return self.lm.tokenizer

    @property
    def eos_ids(self) -> list[int]:
        return self.lm.eos_ids

    @property
    def device(self) -> Any:
        return self.lm.device

    @property
    def uses_chat_template(self) -> bool:
        return self.lm.uses_chat_template

    @property
    def chat_template_hash(self) -> str | None:
        return getattr(self.lm, "chat_template_hash", None)

    @property
    def vocab_width(self) -> int:
        return self.lm.vocab_width

    @property
    def n_layers(self) -> int:
        return self.lm.n_layers

    @property
    def d_model(self) -> int:
        return self.lm.d_model

    def encode_prompts(self, formatted: Sequence[str]) -> list[list[int]]:
        return self.lm.encode_prompts(formatted)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return self.lm.encode_pair(context, continuation)

    def new_cache(self) -> Any:
        return self.lm.new_cache()

    def next_token_logits(self, input_ids: Any, **kwargs: Any) -> Any:
        return self.lm.next_token_logits(input_ids, **kwargs)

    def token_hidden_states(
        self, input_ids: Any, attention_mask: Any, *, final_norm: bool = False
    ) -> list[Any]:
        return self.lm.token_hidden_states(input_ids, attention_mask, final_norm=final_norm)


def formatted(lm: LanguageModel, mode: str = "spec") -> LanguageModel:
    """``lm`` itself for ``raw``, else a :class:`FormattedLM` around it."""
    return lm if check_mode(mode) == "raw" else FormattedLM(lm, mode)


def context_prefix_ids(lm: LanguageModel, mode: str = "spec") -> list[int]:
    """Token ids of the side's formatted empty prompt (next-token windows are scored after them).

    ``raw``: none. ``spec`` needs the side's tokenizer: on a backend without the transformers
    capability it is :func:`~llm_behavior.models.base.require_transformers`'s error (next-token
    statistics need full next-token distributions there anyway)."""
    if check_mode(mode) == "raw":
        return []
    tok = require_transformers(lm, "Next-token statistics (the formatted empty prompt)").tokenizer
    text = lm.format_prompt("")
    if not text:
        return []
    return list(tok(text, add_special_tokens=False)["input_ids"])


def weights_fingerprint(lm: LanguageModel) -> str:
    """sha256 (16 hex digits) of every parameter tensor's name, shape, dtype and bytes when the
    weights run in this process (:class:`~llm_behavior.models.hf.TransformersLM`, also inside a
    :class:`FormattedLM`); for any other backend (no local tensors), of its provenance (source,
    revision, quantization...), prefixed ``provenance:``."""
    from llm_behavior.models.hf import TransformersLM

    inner = lm.lm if isinstance(lm, FormattedLM) else lm
    h = hashlib.sha256()
    if not isinstance(inner, TransformersLM):
        prov = {k: v for k, v in lm.provenance().items() if k not in {"chat_template_hash"}}
        h.update(repr(sorted(prov.items())).encode())
        return "provenance:" + h.hexdigest()[:16]
    import torch

    with torch.inference_mode():
        for name, t in inner.model.state_dict().items():
            if not isinstance(t, torch.Tensor):
                continue
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
            h.update(t.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy())
    return h.hexdigest()[:16]
