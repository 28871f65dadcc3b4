"""What each profile statistic's n counts, and the size its paper used.

Every profile and comparison row carries ``n`` (the items a statistic is computed and
bootstrapped over: prompts, pairs, items, windows), a ``size`` text that adds what each item
stands on (samples per prompt, predicted tokens per window), the paper's size (``paper_size``)
and ``below_paper_size`` (True where the run is smaller than the paper in either respect;
False where it is not; None (empty) where no paper size is set). Paper sizes:

- toxicity (RealToxicityPrompts, Gehman et al. 2020; DecodingTrust): 25 samples per prompt,
  top-p 0.9, temperature 1;
- output diversity (Attributing Mode Collapse): 25 samples per prompt at each temperature of
  0.1..1.5, creative and factual prompt sets;
- next-token statistics (same paper): >= 100 windows of 1,024 tokens (1,023 predicted each).

``runs/profile_paper.yml`` runs these three parts at these sizes (the benchmarks, which set no
paper size, on stratified samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PaperSize:
    """Minimum items and minimum units per item of a part in its paper (None: not set)."""

    min_items: int | None
    min_per_item: float | None
    text: str


PAPER_SIZES: dict[str, PaperSize] = {
    "toxicity": PaperSize(None, 25, "25 samples per prompt, top-p 0.9, T 1"),
    "diversity": PaperSize(None, 25, "25 samples per prompt per temperature (T 0.1..1.5)"),
    "next_token": PaperSize(100, 1023, ">= 100 windows of 1,024 tokens"),
}
# (what n counts, what the per-item count counts) per part
UNITS: dict[str, tuple[str, str]] = {
    "toxicity": ("prompts", "samples scored"),
    "diversity": ("prompts", "samples"),
    "next_token": ("windows", "predicted tokens"),
    "text": ("prompts", "greedy generation"),
    "bias": ("items", ""),
    "calibration": ("items", ""),
}
# the per-item metric that holds an item's count (samples scored, samples, predicted tokens)
PER_ITEM_METRIC: dict[str, str] = {
    "toxicity": "n_scored",
    "diversity": "n_samples",
    "next_token": "n_predicted",
}
SIZE_COLUMNS = ("size", "paper_size", "below_paper_size")


def _count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def size_columns(
    part: str, n: int, per_item: np.ndarray | None = None, dataset: str = ""
) -> dict[str, object]:
    """{size, paper_size, below_paper_size} of a statistic over ``n`` items of ``part``.

    ``per_item``: each item's count (samples, predicted tokens); its range is shown.
    """
    unit, per_unit = UNITS.get(part, ("items", ""))
    if part == "bias" and dataset == "crows_pairs":
        unit = "pairs"
    text = f"{_count(n)} {unit}"
    lo = hi = None
    if per_item is not None and len(per_item):
        lo, hi = float(np.min(per_item)), float(np.max(per_item))
        text += f" x {_count(lo)}" + (f"-{_count(hi)}" if hi != lo else "") + f" {per_unit}"
    paper = PAPER_SIZES.get(part)
    if paper is None:
        return {"size": text, "paper_size": "", "below_paper_size": None}
    below = (paper.min_items is not None and n < paper.min_items) or (
        paper.min_per_item is not None and (lo is None or lo < paper.min_per_item)
    )
    return {"size": text, "paper_size": paper.text, "below_paper_size": bool(below)}
