"""Profiling: toxicity, text characteristics, social bias, calibration, mode collapse/diversity,
utility of a model, and the side-by-side comparison of two models (no Kedro in this package).

Modules: ``benchmarks`` (one data module per benchmark, BBQ whole in ``benchmarks.bbq``;
``bbq_lite`` fetches its labelled files), ``toxicity``, ``bias``,
``calibration``, ``diversity``, ``utility`` (lm-eval, optional), ``parts`` (one function per
profile part), ``summary`` (profile tables and paired comparisons), ``stats``, ``plots``.
"""

from llm_behavior.profiles.items import ITEM_COLUMNS
from llm_behavior.profiles.summary import (
    COMPARISON_COLUMNS,
    PROFILE_COLUMNS,
    compare_profiles,
    profile_table,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "ITEM_COLUMNS",
    "PROFILE_COLUMNS",
    "compare_profiles",
    "profile_table",
]
