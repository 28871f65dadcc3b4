"""The one LM interface every pipeline speaks to (after lm-evaluation-harness's ``LM``).

Backends implement three request methods: :meth:`LanguageModel.generate`,
:meth:`LanguageModel.loglikelihood` and :meth:`LanguageModel.hidden_states`. What needs more than
these (contrastive decoding and per-token divergence, probing, next-token statistics) asks for the
:class:`TransformersCapable` capability with :func:`require_transformers`, which raises a
:class:`CapabilityError` naming the backend on any other (OpenAI-compatible, GGUF, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from llm_behavior.models.spec import GenerationSettings, ModelSpec


class CapabilityError(RuntimeError):
    """The backend (or server behind it) cannot do what was asked."""


@runtime_checkable
class TransformersCapable(Protocol):
    """What a model offers beyond the three requests when its weights run in this process
    (the transformers backend, :class:`llm_behavior.models.hf.TransformersLM`).

    Hidden states, one meaning everywhere: layer ``l = 0 .. n_layers`` is the residual stream,
    ``l = 0`` the embeddings (TransformerLens ``blocks.0.hook_resid_pre``) and ``l >= 1`` the
    output of block ``l - 1`` (``blocks.{l-1}.hook_resid_post``), the last layer included, i.e.
    *before* the final norm (transformers' own ``hidden_states[-1]`` is after it). Only
    ``final_norm=True`` asks for the normed last layer (the model's output representation, as SEAT
    uses it).
    """

    spec: ModelSpec
    tokenizer: Any  # the transformers tokenizer (pad token set)
    eos_ids: list[int]  # token ids that end a generation

    @property
    def device(self) -> Any:
        """The torch device the inputs go to."""

    @property
    def uses_chat_template(self) -> bool:
        """Whether prompts are rendered with the tokenizer's chat template."""

    @property
    def vocab_width(self) -> int:
        """Number of logits per position (the output layer's width)."""

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks (hidden states have ``n_layers + 1`` layers)."""

    @property
    def d_model(self) -> int:
        """Width of the residual stream."""

    def encode_prompts(self, formatted: Sequence[str]) -> list[list[int]]:
        """Token ids of formatted prompts, as generation feeds them to the model."""

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context ids, continuation ids) as :meth:`LanguageModel.loglikelihood` splits them."""

    def new_cache(self) -> Any:
        """An empty KV cache for :meth:`next_token_logits`."""

    def next_token_logits(
        self,
        input_ids: Any,
        *,
        attention_mask: Any = None,
        position_ids: Any = None,
        cache: Any = None,
        keep: int | None = 1,
    ) -> Any:
        """Logits (B, keep, V) in the model's dtype of the last ``keep`` positions (None: all) of a
        batch; with ``cache`` the inputs continue the cached sequence, which is extended."""

    def token_hidden_states(
        self, input_ids: Any, attention_mask: Any, *, final_norm: bool = False
    ) -> list[Any]:
        """Every layer's per-token hidden states, ``n_layers + 1`` tensors (B, T, d) (see above)."""


def require_transformers(lm: Any, what: str) -> TransformersCapable:
    """``lm`` itself if it is :class:`TransformersCapable`, else a :class:`CapabilityError`
    saying that ``what`` needs the transformers backend and which backend ``lm`` is on."""
    if isinstance(lm, TransformersCapable):
        return lm
    spec = getattr(lm, "spec", None)
    backend = getattr(spec, "backend", None) or type(lm).__name__
    source = getattr(spec, "source", None)
    model = f"model {source!r}" if source else f"model {type(lm).__name__}"
    raise CapabilityError(
        f"{what} needs the transformers backend (tokenizer, next-token logits over a batch with a "
        f"KV cache, per-token hidden states); the {model} runs on backend {backend!r}, which does "
        "not expose them. Load it with backend: transformers."
    )


@dataclass
class Generation:
    """One continuation of one prompt."""

    prompt_index: int  # position in the list passed to generate()
    sample: int  # 0..num_samples-1
    text: str  # the continuation only (prompt and special tokens stripped)
    n_prompt_tokens: int
    n_new_tokens: int
    finish_reason: str  # "eos" | "length" | "stop"
    token_ids: list[int] | None = None  # the generated tokens of ``text`` (None: backend has none)


@dataclass
class LogLikelihood:
    """Log-probability of a continuation given a context."""

    logprob: float  # sum of token log-probs of the continuation (natural log)
    n_tokens: int  # number of continuation tokens
    is_greedy: bool  # every continuation token was the argmax
    token_logprobs: list[float] = field(default_factory=list)

    @property
    def mean_logprob(self) -> float:
        return self.logprob / max(self.n_tokens, 1)


class LanguageModel(ABC):
    """A loaded model behind a :class:`ModelSpec`."""

    spec: ModelSpec

    @abstractmethod
    def format_prompt(self, prompt: str) -> str:
        """The exact text fed to the model for a user prompt (template/system prompt applied)."""

    @abstractmethod
    def generate(
        self,
        prompts: Sequence[str],
        settings: GenerationSettings | None = None,
        *,
        seeds: Sequence[int] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Generation]:
        """Continuations of ``prompts`` (raw user prompts; formatting is applied here).

        Returns ``len(prompts) * settings.num_samples`` generations. ``seeds`` (one per
        prompt) makes each prompt's samples independent of batch composition.
        """

    @abstractmethod
    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], *, batch_size: int = 16
    ) -> list[LogLikelihood]:
        """log p(continuation | context) for each (context, continuation); raw text, no template."""

    @abstractmethod
    def hidden_states(self, texts: Sequence[str], **kwargs: Any) -> Any:
        """Per-layer hidden states (backend-specific; see the transformers backend)."""

    def provenance(self) -> dict[str, Any]:
        """What produced this model's outputs: backend,
        versions, revision/hash, dtype, quantization."""
        return {"spec": self.spec.identity()}
