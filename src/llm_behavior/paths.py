"""Where the project caches converted models, trained scorers and similar machine-local artefacts."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$LLM_BEHAVIOR_CACHE`` (default ``~/.cache/llm_behavior``) joined with ``parts``, created."""
    root = Path(os.environ.get("LLM_BEHAVIOR_CACHE", Path.home() / ".cache" / "llm_behavior"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_cache_dir() -> Path:
    """``$LLM_BEHAVIOR_CACHE`` if set, else ``<repo>/.cache/llm_behavior`` (git-ignored by itself).

    Where set-up puts what it fetches and trains (local_toxicity, BBQ-lite), beside the checkout.
    """
    env = os.environ.get("LLM_BEHAVIOR_CACHE")
    if env:
        return Path(env).expanduser()
    here = Path(__file__).resolve()
    repo = next((p for p in here.parents if (p / "pyproject.toml").is_file()), Path.cwd())
    root = repo / ".cache"
    root.mkdir(parents=True, exist_ok=True)
    ignore = root / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return root / "llm_behavior"
