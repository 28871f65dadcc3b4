"""The one LM interface every pipeline speaks to (after lm-evaluation-harness's ``LM``).

Backends implement three request methods: :meth:`LanguageModel.generate`,
:meth:`LanguageModel.loglikelihood` and :meth:`LanguageModel.hidden_states`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_behavior.models.spec import GenerationSettings, ModelSpec


class CapabilityError(RuntimeError):
    """The backend (or server behind it) cannot do what was asked."""


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
        """What produced this model's outputs: backend, versions, revision/hash, dtype, quantization."""
        return {"spec": self.spec.identity()}
