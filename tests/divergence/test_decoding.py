"""Contrastive decoding: per-token KL against a direct computation, caches, padding, modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llm_behavior.divergence.decoding import (
    ContrastiveSettings,
    combined_logprobs,
    contrastive_generate,
)
from llm_behavior.divergence.pair import TokenizerMismatchError
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import GenerationSettings
from tests.divergence.conftest import wrap
from tests.tiny_models import make_tokenizer


def direct_distributions(lm: TransformersLM, prompt: str, tokens: list[int]) -> np.ndarray:
    """Next-token probabilities (float64) at each generated
    position: one full pass, batch 1, no cache."""
    ids = lm.encode_prompts([lm.format_prompt(prompt)])[0]
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids + tokens])).logits[0].double()
    rows = logits[len(ids) - 1 : len(ids) - 1 + len(tokens)]
    return torch.softmax(rows, dim=-1).numpy()


def check_against_direct(
    lm_s: TransformersLM, lm_c: TransformersLM, texts, atol: float = 2e-4
) -> None:
    for t in texts:
        p = direct_distributions(lm_s, t.prompt, t.token_ids)
        q = direct_distributions(lm_c, t.prompt, t.token_ids)
        kl_pq = (p * (np.log(p) - np.log(q))).sum(-1)
        kl_qp = (q * (np.log(q) - np.log(p))).sum(-1)
        assert len(t.kl_sc) == len(t.token_ids) == len(t.logprob_s) > 0
        np.testing.assert_allclose(t.kl_sc, kl_pq, atol=atol, rtol=1e-3)
        np.testing.assert_allclose(t.kl_cs, kl_qp, atol=atol, rtol=1e-3)
        idx = np.arange(len(t.token_ids))
        np.testing.assert_allclose(t.logprob_s, np.log(p[idx, t.token_ids]), atol=atol, rtol=1e-3)
        np.testing.assert_allclose(t.logprob_c, np.log(q[idx, t.token_ids]), atol=atol, rtol=1e-3)
        assert t.perplexity_starting == pytest.approx(
            math.exp(-np.log(p[idx, t.token_ids]).mean()), rel=1e-3
        )
        assert t.mean_kl == pytest.approx(kl_pq.mean(), abs=atol)


@pytest.mark.parametrize("mode", ["starting", "comparison", "combined"])
def test_per_token_kl_equals_direct_softmax_computation(tiny_pair, tiny_prompts, mode):
    lm_s, lm_c = tiny_pair
    # another system prompt on the comparison side: the two renderings differ in length
    lm_c = wrap(lm_c.model, lm_c.tokenizer, "comparison-sys", system_prompt="Be rude.")
    settings = ContrastiveSettings(
        mode=mode, temperature=0.8, top_p=0.9, max_new_tokens=7, num_samples=2, batch_size=4
    )
    texts = contrastive_generate(lm_s, lm_c, tiny_prompts, settings)
    assert [(t.prompt_index, t.sample) for t in texts] == [
        (i, s) for i in range(5) for s in range(2)
    ]
    assert all(t.n_prompt_tokens[1] > t.n_prompt_tokens[0] for t in texts)
    assert max(t.mean_kl for t in texts) > 1e-3  # two random models do differ
    check_against_direct(lm_s, lm_c, texts)


def test_kl_is_zero_for_a_model_against_itself(tiny_pair, tiny_prompts):
    lm_s, _ = tiny_pair
    twin = wrap(lm_s.model, lm_s.tokenizer, "twin")
    texts = contrastive_generate(
        lm_s, twin, tiny_prompts, ContrastiveSettings(max_new_tokens=6, num_samples=2)
    )
    for t in texts:
        assert np.abs(t.kl_sc).max() < 1e-6 and np.abs(t.kl_cs).max() < 1e-6
        assert t.perplexity_starting == pytest.approx(t.perplexity_comparison, rel=1e-6)


@pytest.mark.parametrize("weights", [(1.0, -1.0), (0.5, 0.5), (1.0, -0.5), (2.0, -1.0)])
def test_combined_distribution_sums_to_one_and_matches_formula(weights):
    g = torch.Generator().manual_seed(0)
    ls, lc = torch.randn(4, 50, generator=g) * 3, torch.randn(4, 50, generator=g) * 3
    logp = combined_logprobs(ls, lc, *weights)
    np.testing.assert_allclose(logp.exp().sum(-1).numpy(), 1.0, atol=1e-5)
    ps, pc = (
        np.exp(x.double().numpy()) / np.exp(x.double().numpy()).sum(-1, keepdims=True)
        for x in (ls, lc)
    )
    expected = np.maximum(weights[0] * ps + weights[1] * pc, 0) + 1e-7
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(logp.exp().numpy(), expected, atol=1e-6)


def test_combined_mode_samples_where_starting_model_is_more_likely(tiny_pair, tiny_prompts):
    """w_s=1, w_c=-1 greedy picks argmax(p_s - p_c): a token the starting model prefers."""
    lm_s, lm_c = tiny_pair
    settings = ContrastiveSettings(mode="combined", temperature=0, max_new_tokens=5)
    for t in contrastive_generate(lm_s, lm_c, tiny_prompts, settings):
        assert all(a > b for a, b in zip(t.logprob_s, t.logprob_c))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_cached_decoding_equals_no_cache_recomputation(tiny_pair, tiny_prompts, temperature):
    lm_s, lm_c = tiny_pair
    base = dict(
        mode="combined",
        temperature=temperature,
        top_p=0.95,
        max_new_tokens=8,
        num_samples=2,
        batch_size=3,
    )
    cached = contrastive_generate(lm_s, lm_c, tiny_prompts, ContrastiveSettings(**base))
    fresh = contrastive_generate(
        lm_s, lm_c, tiny_prompts, ContrastiveSettings(**base, use_cache=False)
    )
    for a, b in zip(cached, fresh):
        assert a.token_ids == b.token_ids
        np.testing.assert_allclose(a.kl_sc, b.kl_sc, atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(a.logprob_c, b.logprob_c, atol=1e-5, rtol=1e-4)


def test_samples_do_not_depend_on_batch_composition(tiny_pair, tiny_prompts):
    lm_s, lm_c = tiny_pair
    settings = ContrastiveSettings(max_new_tokens=6, num_samples=2, batch_size=7)
    seeds = [11, 12, 13, 14, 15]
    together = contrastive_generate(lm_s, lm_c, tiny_prompts, settings, seeds=seeds)
    alone = contrastive_generate(lm_s, lm_c, tiny_prompts[3:4], settings, seeds=seeds[3:4])
    assert [t.token_ids for t in together[6:8]] == [t.token_ids for t in alone]
    np.testing.assert_allclose(together[6].kl_sc, alone[0].kl_sc, atol=1e-5)


@pytest.mark.parametrize("mode", ["starting", "comparison"])
def test_single_model_modes_match_that_models_own_generate(tiny_pair, tiny_prompts, mode):
    lm_s, lm_c = tiny_pair
    seeds = [3, 1, 4, 1, 5]
    texts = contrastive_generate(
        lm_s,
        lm_c,
        tiny_prompts,
        ContrastiveSettings(mode=mode, temperature=0.9, top_p=0.9, max_new_tokens=6, num_samples=2),
        seeds=seeds,
    )
    own = (lm_s if mode == "starting" else lm_c).generate(
        tiny_prompts,
        GenerationSettings(max_new_tokens=6, temperature=0.9, top_p=0.9, num_samples=2),
        seeds=seeds,
    )
    assert [t.text for t in texts] == [g.text for g in own]


def test_finished_rows_are_masked_and_pieces_rebuild_the_text(tiny_pair, tiny_prompts):
    lm_s, lm_c = tiny_pair
    settings = ContrastiveSettings(temperature=1.0, max_new_tokens=8)
    first = contrastive_generate(lm_s, lm_c, tiny_prompts, settings)
    # a token among row 0's first three that some other row never emits: row 0 stops early, that row
    # runs on
    stop_token, runner = next(
        (tok, j)
        for tok in first[0].token_ids[:3]
        for j, t in enumerate(first)
        if tok not in t.token_ids
    )
    early = wrap(lm_s.model, lm_s.tokenizer, "early-eos")
    early.eos_ids = [stop_token]
    texts = contrastive_generate(early, lm_c, tiny_prompts, settings)
    assert texts[0].finish_reason == "eos" and texts[0].token_ids[-1] == stop_token
    assert len(texts[0].kl_sc) == len(texts[0].token_ids) <= 3
    assert len(texts[runner].token_ids) == 8 and texts[runner].finish_reason == "length"
    check_against_direct(early, lm_c, texts)
    for t in texts:
        assert "".join(t.pieces) == t.text


def test_pair_with_different_tokenizers_is_refused(tiny_pair):
    lm_s, _ = tiny_pair
    other = TransformersLM(lm_s.model, make_tokenizer(chat_template=False), lm_s.spec)
    with pytest.raises(TokenizerMismatchError, match="eos_token"):
        contrastive_generate(lm_s, other, ["hello"], ContrastiveSettings(max_new_tokens=2))


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="decoding.mode"):
        ContrastiveSettings(mode="both")
    with pytest.raises(ValueError, match="positive"):
        ContrastiveSettings(mode="combined", starting_weight=-1, comparison_weight=0)
    with pytest.raises(ValueError, match="Unknown"):
        ContrastiveSettings.from_dict({"temprature": 1})
