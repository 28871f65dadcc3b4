"""Model specifications: what a model is, how it is loaded, and how it decodes.

A :class:`ModelSpec` is plain data (parsed from parameters / run files). Its
:meth:`ModelSpec.identity_hash` covers everything that changes the model's outputs
(weights source, revision, quantization, dtype, prompt formatting) and none of the
bookkeeping (side name, device, batch size), so cached outputs can be keyed by it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Quantization = Literal["none", "8bit", "4bit-nf4"]
Backend = Literal["transformers", "openai"]

QUANTIZATIONS: tuple[str, ...] = ("none", "8bit", "4bit-nf4")
BACKENDS: tuple[str, ...] = ("transformers", "openai")
DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex sha256 of the canonical JSON of ``obj`` (sorted keys), truncated to ``length``."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding parameters. ``temperature == 0`` or ``do_sample=False`` means greedy."""

    max_new_tokens: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    do_sample: bool = True
    num_samples: int = 1
    seed: int = 0
    batch_size: int = 16
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"generation.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"generation.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"generation.top_p must be in (0, 1], got {self.top_p}")
        if self.num_samples < 1:
            raise ValueError(f"generation.num_samples must be >= 1, got {self.num_samples}")
        if self.batch_size < 1:
            raise ValueError(f"generation.batch_size must be >= 1, got {self.batch_size}")

    @property
    def greedy(self) -> bool:
        return (not self.do_sample) or self.temperature == 0

    def decoding_identity(self) -> dict[str, Any]:
        """The fields that change generated text (batch size excluded: it must not)."""
        d = dataclasses.asdict(self)
        d.pop("batch_size")
        d["stop"] = list(self.stop)
        if self.greedy:  # sampling knobs are irrelevant for greedy decoding
            d.update(temperature=0.0, top_p=1.0, top_k=0, do_sample=False, seed=0)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> GenerationSettings:
        d = dict(d or {})
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown generation setting(s): {sorted(unknown)}")
        if "stop" in d:
            d["stop"] = tuple(d["stop"] or ())
        return cls(**d)


@dataclass(frozen=True)
class ModelSpec:
    """How to obtain and drive one language model.

    ``source`` is a packaged alias (``smollm2-135m-instruct``, ``gemma3-270m``), a local
    folder, or a hub id already in the local HF cache (transformers backend); for the
    ``openai`` backend it is the served model name and ``base_url`` points at the server.
    """

    source: str
    backend: Backend = "transformers"
    name: str = ""
    revision: str | None = None
    quantization: Quantization = "none"
    dtype: str = "float32"
    device: str = "cpu"
    trust_remote_code: bool = False
    use_chat_template: bool | Literal["auto"] = "auto"
    system_prompt: str | None = None
    prompt_template: str = "{prompt}"
    base_url: str | None = None
    api_key_name: str = "OPENAI_API_KEY"
    request_timeout_s: float = 60.0
    max_retries: int = 3
    max_concurrency: int = 8
    requests_per_second: float | None = None
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError(
                "model.source is empty: give a packaged alias, a local folder or a hub id"
            )
        if self.backend not in BACKENDS:
            raise ValueError(f"model.backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(
                f"model.quantization must be one of {QUANTIZATIONS}, got {self.quantization!r}"
            )
        if self.dtype not in DTYPES:
            raise ValueError(f"model.dtype must be one of {DTYPES}, got {self.dtype!r}")
        if "{prompt}" not in self.prompt_template:
            raise ValueError("model.prompt_template must contain '{prompt}'")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("model.base_url is required for the openai backend")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Build from a parameters dict; unknown keys are an error (typos must not pass)."""
        if isinstance(d, ModelSpec):
            return d
        d = dict(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown model spec key(s): {sorted(unknown)}")
        d["generation"] = GenerationSettings.from_dict(d.get("generation"))
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["generation"]["stop"] = list(self.generation.stop)
        return d

    def identity(self) -> dict[str, Any]:
        """Fields that change what the model computes (not where or how fast)."""
        return {
            "source": self.source,
            "backend": self.backend,
            "revision": self.revision,
            "quantization": self.quantization,
            "dtype": self.dtype,
            "use_chat_template": self.use_chat_template,
            "system_prompt": self.system_prompt,
            "prompt_template": self.prompt_template,
            "base_url": self.base_url if self.backend == "openai" else None,
        }

    def identity_hash(self) -> str:
        return stable_hash(self.identity())
