"""Moved to :mod:`llm_behavior.audit.tables` (kept so that existing imports keep working)."""

from llm_behavior.audit.tables import (  # noqa: F401
    KEYS,
    Behaviour,
    audited_behaviours,
    pair_behaviour_scores,
    parse_behaviours,
    prompt_groups,
    shuffle_prompts,
    side_scores,
    split_prompts,
)
