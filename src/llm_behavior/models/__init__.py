"""Model specs, the LM interface and its backends (transformers, OpenAI-compatible), and the
transformers capability (:class:`TransformersCapable`, :func:`require_transformers`)."""

from llm_behavior.models.base import (
    CapabilityError,
    Generation,
    LanguageModel,
    LogLikelihood,
    TransformersCapable,
    require_transformers,
)
from llm_behavior.models.factory import load_language_model, resolve_api_key
from llm_behavior.models.spec import GenerationSettings, ModelSpec, stable_hash

__all__ = [
    "CapabilityError",
    "Generation",
    "GenerationSettings",
    "LanguageModel",
    "LogLikelihood",
    "ModelSpec",
    "TransformersCapable",
    "load_language_model",
    "require_transformers",
    "resolve_api_key",
    "stable_hash",
]
