"""The long item table every profile part produces (one row per item x metric).

Columns: part, dataset, subgroup, item_id (str), metric, value (float). Two models' tables join
on (part, dataset, subgroup, item_id, metric), which is what makes paired comparisons possible.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

ITEM_COLUMNS = ("part", "dataset", "subgroup", "item_id", "metric", "value")
# One statistic of a part (a part's summary notes; a profile row without the model column)
SUMMARY_COLUMNS = (
    "part",
    "dataset",
    "subgroup",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "definition",
)


def empty_items() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c == "value" else object) for c in ITEM_COLUMNS}
    )


def to_items(
    wide: pd.DataFrame,
    part: str,
    dataset: str,
    metrics: Sequence[str],
    subgroup: Sequence[str] | str = "",
) -> pd.DataFrame:
    """Long item table (part, dataset, subgroup, item_id,
    metric, value) from a wide per-item frame."""
    sub = [subgroup] * len(wide) if isinstance(subgroup, str) else list(subgroup)
    frames = []
    for m in metrics:
        frames.append(
            pd.DataFrame(
                {
                    "part": part,
                    "dataset": dataset,
                    "subgroup": sub,
                    "item_id": wide["item_id"].astype(str).to_numpy(),
                    "metric": m,
                    "value": wide[m].astype(float).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else empty_items()
