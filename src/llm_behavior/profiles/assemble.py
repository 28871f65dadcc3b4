"""One side's profile from its parts' tables: items, summary-only rows and the profile table, each
row with the request format it was measured under and the side's weights fingerprint."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from llm_behavior.models.base import LanguageModel
from llm_behavior.profiles import requests, summary
from llm_behavior.profiles.items import empty_items
from llm_behavior.profiles.parts import empty_summary
from llm_behavior.profiles.settings import ProfilingSettings


def split_tables(
    tables: Sequence[pd.DataFrame], item_names: Sequence[str], note_names: Sequence[str]
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """``tables`` (the item tables ``item_names``, then the note tables ``note_names``) as the
    two lists, or a ValueError when their number does not match."""
    n_items, n_notes = len(item_names), len(note_names)
    if len(tables) != n_items + n_notes:
        raise ValueError(
            f"assemble_profile takes {n_items} item tables then {n_notes} note tables "
            f"({[*item_names, *note_names]}), got {len(tables)}"
        )
    return list(tables[:n_items]), list(tables[n_items:])


def _concat(frames: Sequence[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    kept = [f for f in frames if len(f)]
    return pd.concat(kept, ignore_index=True) if kept else empty


def side_profile(
    lm: LanguageModel,
    model: str,
    settings: ProfilingSettings,
    item_tables: Sequence[pd.DataFrame],
    note_tables: Sequence[pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(items, summary-only rows, profile table of ``model``): bootstrap CIs over items per
    ``settings.bootstrap``; every row annotated with its request format and ``lm``'s weights."""
    items = _concat(item_tables, empty_items())
    notes = _concat(note_tables, empty_summary())
    table = summary.profile_table(
        items,
        model=model,
        summary_only=notes,
        n_resamples=settings.bootstrap.n_resamples,
        confidence=settings.bootstrap.confidence,
        seed=settings.seed,
    )
    mode = settings.request_format
    table = summary.annotate_requests(
        table,
        lambda part, dataset: requests.part_format(lm, part, dataset, mode),
        requests.weights_fingerprint(lm),
    )
    return items, notes, table
