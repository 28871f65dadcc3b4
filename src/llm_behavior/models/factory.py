"""Build a :class:`LanguageModel` from a spec (the one entry point every caller uses)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from llm_behavior.models.base import LanguageModel
from llm_behavior.models.spec import ModelSpec

logger = logging.getLogger(__name__)


def resolve_api_key(spec: ModelSpec, credentials: dict[str, Any] | None = None) -> str | None:
    """API key for an endpoint: ``credentials[spec.api_key_name]``
    (conf/local/credentials.yml), then the env."""
    creds = credentials or {}
    value = creds.get(spec.api_key_name)
    if isinstance(value, dict):  # credentials.yml style: {NAME: {api_key: ...}}
        value = value.get("api_key")
    return value or os.environ.get(spec.api_key_name)


def load_language_model(
    spec: ModelSpec | dict[str, Any], credentials: dict[str, Any] | None = None
) -> LanguageModel:
    """Load the model a spec describes (transformers weights,
    or a client for an OpenAI-compatible server)."""
    spec = ModelSpec.from_dict(spec) if isinstance(spec, dict) else spec
    if spec.backend == "openai":
        from llm_behavior.models.openai_backend import OpenAICompatibleLM

        return OpenAICompatibleLM(spec, api_key=resolve_api_key(spec, credentials))
    from llm_behavior.models.hf import TransformersLM
    from llm_behavior.models.loading import load_hf_model

    t0 = time.perf_counter()
    model, tokenizer, resolved = load_hf_model(spec)
    logger.info("Loaded %s (%s) in %.1f s", spec.source, resolved.kind, time.perf_counter() - t0)
    return TransformersLM(
        model,
        tokenizer,
        spec,
        {"revision": resolved.revision, "kind": resolved.kind, "folder": str(resolved.folder)},
    )
