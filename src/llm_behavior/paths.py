"""The one cache root for what the project derives once per machine (not per checkout).

``$LLM_BEHAVIOR_CACHE``, default ``~/.cache/llm_behavior``: converted GGUF models (``models/``,
``gguf/``), the trained ``local_toxicity`` scorer and its wheels (``local_toxicity/``, ``wheels/``,
``data/``, ``toxblock/``), the BBQ-lite labels (``bbq_lite/``) and lm-eval task files
(``lm_eval_tasks/``). A second clone of the project reuses them.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LLM_BEHAVIOR_CACHE"


def cache_root() -> Path:
    """``$LLM_BEHAVIOR_CACHE`` (``~`` expanded), default ``~/.cache/llm_behavior``; not created."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "llm_behavior"


def cache_dir(*parts: str) -> Path:
    """:func:`cache_root` joined with ``parts``, created."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_cache_dir() -> Path:
    """The cache root (created): the same folder for every clone (kept for existing callers)."""
    return cache_dir()
