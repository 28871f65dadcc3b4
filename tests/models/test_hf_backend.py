"""The transformers backend against direct computations on a tiny random Llama."""

import math

import numpy as np
import pytest
import torch
from tiny_models import direct_token_logprobs, make_tiny_llama

from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.sampling import filter_logits
from llm_behavior.models.spec import GenerationSettings, ModelSpec

PROMPTS = ["the quick brown", "you are", "a sequential test bets against the null hypothesis"]


@pytest.fixture(scope="module")
def tiny():
    model, tok = make_tiny_llama(seed=1)
    # larger weights make the random model's distributions peaked, so greedy paths vary by prompt
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(20.0)
    return TransformersLM(model, tok, ModelSpec(source="tiny"))


def test_greedy_batched_equals_hf_generate_one_at_a_time(tiny):
    settings = GenerationSettings(max_new_tokens=10, do_sample=False, batch_size=3)
    ours = tiny.generate(PROMPTS, settings)
    tok, model = tiny.tokenizer, tiny.model
    for i, prompt in enumerate(PROMPTS):
        enc = tok(tiny.format_prompt(prompt), add_special_tokens=False, return_tensors="pt")
        ref = model.generate(
            **enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id
        )
        new = ref[0, enc["input_ids"].shape[1] :].tolist()
        eos = [j for j, t in enumerate(new) if t == tok.eos_token_id]
        new = new[: eos[0]] if eos else new
        assert ours[i].text == tok.decode(new, skip_special_tokens=True)
        assert ours[i].n_prompt_tokens == enc["input_ids"].shape[1]


def test_sampling_is_reproducible_and_independent_of_batch_composition(tiny):
    s = GenerationSettings(
        max_new_tokens=8, temperature=1.0, top_p=0.9, num_samples=3, seed=7, batch_size=2
    )
    seeds = [11, 22, 33]
    a = tiny.generate(PROMPTS, s, seeds=seeds)
    b = tiny.generate(
        PROMPTS[::-1], GenerationSettings(**{**s.__dict__, "batch_size": 5}), seeds=seeds[::-1]
    )
    texts_a = {(PROMPTS[g.prompt_index], g.sample): g.text for g in a}
    texts_b = {(PROMPTS[::-1][g.prompt_index], g.sample): g.text for g in b}
    assert texts_a == texts_b
    assert len(a) == 9 and {g.sample for g in a} == {0, 1, 2}
    assert len({g.text for g in a if g.prompt_index == 2}) > 1  # samples differ from each other


def test_filter_logits_top_p_and_top_k_against_hand_example():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_logits(logits, 1.0, 0.8, 0))[0].tolist()
    assert kept == [True, True, False, False]  # 0.5 < 0.8, 0.5+0.3 >= 0.8 -> keep first two
    kept = torch.isfinite(filter_logits(logits, 1.0, 1.0, 3))[0].tolist()
    assert kept == [True, True, True, False]


def test_loglikelihood_equals_direct_sum_of_token_logprobs(tiny):
    tok, model = tiny.tokenizer, tiny.model
    requests = [
        ("the quick", " brown fox"),
        ("you are a", " helpful assistant"),
        ("", "the weather"),
    ]
    results = tiny.loglikelihood(requests, batch_size=2)
    for (ctx, cont), res in zip(requests, results):
        ctx_ids = tok(ctx, add_special_tokens=False)["input_ids"] or [tok.bos_token_id]
        whole = tok(ctx + cont, add_special_tokens=False)["input_ids"]
        n_ctx = len(tok(ctx, add_special_tokens=False)["input_ids"])
        cont_ids = whole[n_ctx:]
        ids = torch.tensor([ctx_ids + cont_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].float(), -1)
        direct = sum(float(logp[len(ctx_ids) - 1 + j, t]) for j, t in enumerate(cont_ids))
        assert res.n_tokens == len(cont_ids)
        assert math.isclose(res.logprob, direct, rel_tol=1e-4, abs_tol=1e-4)


@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_loglikelihood_tokens_and_greedy_equal_direct_forward_for_mixed_lengths(tiny, batch_size):
    # contexts and continuations of very different lengths share a batch (left padding, logits
    # kept only at the last max-continuation + 1 positions): every token log-prob must equal the
    # direct value
    requests = [
        ("the quick brown fox jumps over the lazy dog and", " the weather"),
        ("you", " are a helpful assistant and you answer politely"),
        ("", "a"),
        ("", "language models continue text one token at a time"),
        ("shut up you ", "stupid idiot"),
        ("a sequential test bets against", " the null hypothesis"),
        ("the", " quick"),
    ]
    results = tiny.loglikelihood(requests, batch_size=batch_size)
    for (ctx, cont), res in zip(requests, results):
        direct, greedy = direct_token_logprobs(tiny, ctx, cont)
        assert res.n_tokens == len(direct)
        assert res.token_logprobs == pytest.approx(direct, abs=1e-4)
        assert math.isclose(res.logprob, sum(direct), abs_tol=1e-4)
        assert res.is_greedy == greedy
    # a continuation built by argmax, token by token, must be flagged greedy
    ids = tiny.tokenizer("the quick brown", add_special_tokens=False)["input_ids"]
    for _ in range(4):
        with torch.no_grad():
            ids = ids + [int(tiny.model(torch.tensor([ids])).logits[0, -1].argmax())]
    text = tiny.tokenizer.decode(ids)
    ctx_ids, cont_ids = tiny.encode_pair("the quick brown", text[len("the quick brown") :])
    if ctx_ids + cont_ids == ids:  # decode/encode round trip kept the tokens
        [res] = tiny.loglikelihood(
            [("the quick brown", text[len("the quick brown") :])], batch_size=batch_size
        )
        assert res.is_greedy


def test_hidden_states_shape_and_mean_pooling(tiny):
    texts = ["the quick brown fox", "you"]
    hs = tiny.hidden_states(texts, batch_size=2)
    normed = tiny.hidden_states(texts, batch_size=2, final_norm=True)
    n_layers = tiny.model.config.num_hidden_layers
    assert hs.shape == normed.shape == (2, n_layers + 1, tiny.model.config.hidden_size)
    assert tiny.n_layers == n_layers and tiny.d_model == tiny.model.config.hidden_size
    ids = tiny.tokenizer("you", return_tensors="pt")["input_ids"]
    block_out: list[torch.Tensor] = []  # the last block's output, independently of the norm hook
    handle = tiny.model.model.layers[-1].register_forward_hook(
        lambda _m, _a, out: block_out.append(out[0] if isinstance(out, tuple) else out)
    )
    with torch.no_grad():
        direct = tiny.model(ids, output_hidden_states=True).hidden_states
    handle.remove()
    # layers 0..L-1 as transformers returns them; the last before the final norm by default,
    # after it with final_norm=True (transformers' hidden_states[-1])
    # (the tiny random model's residual stream reaches ~1e4, hence the relative tolerance)
    for layer in range(n_layers):
        np.testing.assert_allclose(
            hs[1, layer], direct[layer][0].mean(0).numpy(), rtol=1e-5, atol=1e-4
        )
        np.testing.assert_array_equal(normed[1, layer], hs[1, layer])
    np.testing.assert_allclose(normed[1, -1], direct[-1][0].mean(0).numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(hs[1, -1], block_out[0][0].mean(0).numpy(), rtol=1e-5, atol=1e-4)
    assert not np.allclose(hs[1, -1], normed[1, -1], rtol=1e-2)  # the norm does change it
    assert tiny.final_layer == "pre_final_norm"


def test_chat_template_and_system_prompt_formatting():
    model, tok = make_tiny_llama(seed=0)
    lm = TransformersLM(model, tok, ModelSpec(source="t", system_prompt="Be brief."))
    text = lm.format_prompt("hi")
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>") and text.endswith(
        "<|im_start|>assistant\n"
    )
    plain = TransformersLM(
        model, tok, ModelSpec(source="t", use_chat_template=False, prompt_template="Q: {prompt}")
    )
    assert plain.format_prompt("hi") == "Q: hi" and plain.chat_template_hash is None
    model2, tok2 = make_tiny_llama(seed=0, chat_template=False)
    with pytest.raises(ValueError, match="no chat template"):
        TransformersLM(model2, tok2, ModelSpec(source="t", use_chat_template=True)).format_prompt(
            "x"
        )
