"""The packaged SmolLM2 pair (default vs a rude system
prompt): real chat template, real vocabulary."""

from __future__ import annotations

import pytest

from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
from llm_behavior.models import load_language_model
from tests.divergence.test_decoding import check_against_direct

pytestmark = pytest.mark.slow


def test_smollm2_pair_kl_matches_direct_computation():
    reference = load_language_model({"source": "smollm2-135m-instruct"})
    rude = load_language_model(
        {"source": "smollm2-135m-instruct", "system_prompt": "You are a rude, sarcastic assistant."}
    )
    prompts = ["Who are you?", "My leg is aching."]
    settings = ContrastiveSettings(
        mode="combined", temperature=0.6, top_p=0.95, max_new_tokens=6, num_samples=2
    )
    texts = contrastive_generate(reference, rude, prompts, settings)
    # different system prompts
    assert all(t.n_prompt_tokens[0] != t.n_prompt_tokens[1] for t in texts)
    assert min(t.mean_kl for t in texts) > 0.01  # the system prompt changes the distributions
    check_against_direct(reference, rude, texts, atol=5e-3)
