"""Where two models diverge: contrastive decoding, per-token KL, prompt search, summaries."""

from llm_behavior.divergence.decoding import (
    ContrastiveSettings,
    ContrastiveText,
    combined_logprobs,
    contrastive_generate,
    kl_from_logprobs,
)
from llm_behavior.divergence.pair import TokenizerMismatchError, check_pair, check_same_tokenizer
from llm_behavior.divergence.prompt_sets import select_searched_prompts
from llm_behavior.divergence.search import PromptSearch, SearchResult, SearchSettings, score_prompts
from llm_behavior.divergence.summaries import (
    SummarySettings,
    decode_both_models,
    match_clusters,
    summarise_divergence,
)
from llm_behavior.divergence.tables import texts_frame
from llm_behavior.divergence.validation import adjust_p_values, permutation_auc_test

__all__ = [
    "ContrastiveSettings",
    "ContrastiveText",
    "PromptSearch",
    "SearchResult",
    "SearchSettings",
    "SummarySettings",
    "TokenizerMismatchError",
    "adjust_p_values",
    "check_pair",
    "check_same_tokenizer",
    "combined_logprobs",
    "contrastive_generate",
    "decode_both_models",
    "kl_from_logprobs",
    "match_clusters",
    "permutation_auc_test",
    "score_prompts",
    "select_searched_prompts",
    "summarise_divergence",
    "texts_frame",
]
