"""Column names of the tables that pass between pipelines (stable; tests check them).

generations (one row per continuation, parquet, 03_primary/generations_<side>.parquet):
    prompt_id, sample, side, prompt, text, n_prompt_tokens, n_new_tokens, finish_reason,
    model_name, spec_hash, generation_key, rendered_prompt_hash, chat_template_hash,
    decoding (JSON), seed, provenance (JSON), token_ids (the generated token ids of ``text``;
    None where the backend gives none or the row was cached before they were stored)
    [, reference: when the prompt set has references]
scores (long, one row per text x metric, parquet, 04_feature/scores.parquet):
    prompt_id, sample, side, scorer, metric, value (float, NaN on failure), reason (str or None)
"""

GENERATION_COLUMNS: tuple[str, ...] = (
    "prompt_id",
    "sample",
    "side",
    "prompt",
    "text",
    "n_prompt_tokens",
    "n_new_tokens",
    "finish_reason",
    "model_name",
    "spec_hash",
    "generation_key",
    "rendered_prompt_hash",
    "chat_template_hash",
    "decoding",
    "seed",
    "provenance",
    "token_ids",
)

SCORE_COLUMNS: tuple[str, ...] = (
    "prompt_id",
    "sample",
    "side",
    "scorer",
    "metric",
    "value",
    "reason",
)

PROMPT_COLUMNS: tuple[str, ...] = ("prompt_id", "prompt")  # optional: reference, source, any extra

# Every run generates three sides: the pair (reference vs candidate) and an A/A replicate (the
# reference spec with another sampling seed) that gives the noise floor of every behaviour.
SIDES: tuple[str, ...] = ("reference", "candidate", "replicate")
PAIR_SIDES: tuple[str, str] = ("reference", "candidate")
NULL_SIDES: tuple[str, str] = ("reference", "replicate")
