"""Each side scored as its spec defines it: request
formatting, its record, the identical-requests flag."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from llm_behavior.models.base import CapabilityError, TransformersCapable
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.openai_backend import OpenAICompatibleLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.pipelines.profiling import nodes
from llm_behavior.profiles import diversity, parts, requests, summary
from llm_behavior.profiles.benchmarks import xsum
from tests.fake_openai_server import FakeOpenAIServer
from tests.profiles.base_settings import bias_only, profiling_params
from tests.tiny_models import make_tiny_llama

RUDE = "You are rude and dismissive."


def side(system_prompt: str | None = None, chat: bool = True, seed: int = 0) -> TransformersLM:
    model, tok = make_tiny_llama(seed=seed, chat_template=chat)
    spec = ModelSpec(source="tiny", name="t", system_prompt=system_prompt)
    return TransformersLM(model, tok, spec)


def test_spec_format_is_lm_eval_system_instruction_plus_chat_template():
    lm = side(RUDE)
    reqs = [("Question: 2 + 2?\nAnswer:", " 4"), ("", "A standalone sentence.")]
    got = requests.format_requests(lm, reqs, "spec")
    # lm-eval --system_instruction --apply_chat_template: [system, user] with the generation
    # prompt; target_delimiter "" under a chat template
    for (ctx, cont), (fctx, fcont) in zip(reqs, got):
        expected = lm.tokenizer.apply_chat_template(
            [{"role": "system", "content": RUDE}, {"role": "user", "content": ctx}],
            tokenize=False,
            add_generation_prompt=True,
        )
        assert fctx == expected and fcont == cont.removeprefix(" ")
    assert requests.format_requests(lm, reqs, "raw") == reqs
    # no chat template: system prompt + blank line (lm-eval's fewshot_delimiter), delimiter kept
    plain = side(RUDE, chat=False)
    assert requests.format_requests(plain, reqs[:1], "spec") == [(f"{RUDE}\n\n{reqs[0][0]}", " 4")]
    with pytest.raises(ValueError, match="request_format"):
        requests.format_requests(lm, reqs, "chat")


def test_formatted_lm_scores_the_formatted_requests():
    lm = side(RUDE)
    reqs = [("The cat", " sat"), ("", "Dogs bark.")]
    via_wrapper = requests.formatted(lm, "spec").loglikelihood(reqs, batch_size=2)
    direct = lm.loglikelihood(requests.format_requests(lm, reqs, "spec"), batch_size=2)
    raw = lm.loglikelihood(reqs, batch_size=2)
    assert [x.logprob for x in via_wrapper] == pytest.approx([x.logprob for x in direct])
    assert all(abs(a.logprob - b.logprob) > 1e-6 for a, b in zip(via_wrapper, raw))
    assert requests.formatted(lm, "raw") is lm


def test_describe_and_part_format_record_the_format():
    lm = side(RUDE)
    text = requests.describe(lm, "spec")
    assert lm.chat_template_hash in text and "You are rude" in text
    assert requests.describe(side(None, chat=False), "spec") == (
        "side's format: no chat template, no system prompt"
    )
    assert requests.part_format(lm, "bias", "crows_pairs", "raw").startswith("log-likelihood, raw")
    assert requests.part_format(lm, "bias", "seat", "spec").startswith("hidden states")
    assert requests.part_format(lm, "toxicity", "toxic_prompts", "raw").startswith(
        "generation, side's"
    )


def test_next_token_windows_after_the_formatted_prompt():
    import torch

    lm = side(RUDE)
    texts = xsum.load_reference_text()[:3]
    prefix = requests.context_prefix_ids(lm, "spec")
    assert prefix == lm.tokenizer(lm.format_prompt(""), add_special_tokens=False)["input_ids"]
    assert requests.context_prefix_ids(lm, "raw") == []
    per_window, _ = diversity.next_token_statistics(
        lm, texts, window=16, n_windows=2, prefix_ids=prefix
    )
    raw, _ = diversity.next_token_statistics(lm, texts, window=16, n_windows=2)
    assert per_window["n_predicted"].tolist() == raw["n_predicted"].tolist() == [15.0, 15.0]
    windows = diversity.reference_windows(lm.tokenizer, texts, 16, 2)
    for w, nll in zip(windows, per_window["nll_sum"]):
        with torch.no_grad():
            logits = lm.model(input_ids=torch.tensor([prefix + w])).logits[0].double()
        logp = torch.log_softmax(logits[len(prefix) : -1], -1)
        assert nll == pytest.approx(float(-logp.gather(-1, torch.tensor(w[1:])[:, None]).sum()))
    assert not np.allclose(per_window["nll_sum"], raw["nll_sum"])


def _profile(lm: TransformersLM, mode: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    params = profiling_params(request_format=mode, bootstrap={"n_resamples": 20})
    bias_items, bias_notes = parts.run_bias(
        lm, bias_only(crows_pairs={"n_items": 9}), request_format=mode
    )
    empty = parts.empty_summary()
    e = bias_items.iloc[0:0]
    items, notes, table = nodes.assemble_profile(
        lm,
        {"name": lm.spec.name},
        params,
        e,
        e,
        bias_items,
        e,
        e,
        e,
        empty,
        bias_notes,
        empty,
        empty,
    )
    return items, table


def test_identical_requests_to_identical_weights_are_flagged():
    ref, cand = side(None), side(RUDE)  # same weights (seed 0), the candidate has a system prompt
    other = side(RUDE, seed=1)
    results = {}
    for mode in ("raw", "spec"):
        (ri, rt), (ci, ct) = _profile(ref, mode), _profile(cand, mode)
        cmp = summary.compare_profiles(ri, ci, n_resamples=20)
        cmp = summary.flag_identical_requests(cmp, rt, ct)
        results[mode] = cmp.set_index(["subgroup", "metric"]).loc[("all", "mean_logprob_gap")]
        assert set(rt["weights"]) == set(ct["weights"]) == {requests.weights_fingerprint(ref)}
        assert (rt["request_format"] != "").all()
    raw, spec = results["raw"], results["spec"]
    # raw: both sides send the same text to the same weights -> exactly 0, flagged
    assert raw["difference"] == 0 and raw["identical_requests"] == True  # noqa: E712
    assert raw["request_format"].startswith("log-likelihood, raw")
    # spec: the candidate is scored under its system prompt -> a real difference, not flagged
    assert spec["difference"] != 0 and spec["identical_requests"] == False  # noqa: E712
    assert spec["request_format"].startswith("reference: log-likelihood, side's format")
    assert requests.weights_fingerprint(other) != requests.weights_fingerprint(ref)


CAPABILITY_VALUES = ("tokenizer", "eos_ids", "device", "uses_chat_template", "vocab_width")
CAPABILITY_SIZES = ("n_layers", "d_model")


def test_the_formatted_wrapper_forwards_the_transformers_capability_member_by_member():
    import torch

    lm = side(RUDE)
    wrapped = requests.formatted(lm, "spec")
    assert isinstance(wrapped, requests.FormattedTransformersLM)
    assert isinstance(wrapped, TransformersCapable)
    for name in (*CAPABILITY_VALUES, *CAPABILITY_SIZES, "chat_template_hash"):
        assert getattr(wrapped, name) == getattr(lm, name), name
    assert wrapped.encode_prompts(["hi"]) == lm.encode_prompts(["hi"])
    assert wrapped.encode_pair("a b", " c") == lm.encode_pair("a b", " c")
    ids = torch.tensor([lm.encode_prompts(["hello there"])[0]])
    got = wrapped.next_token_logits(ids, keep=None)
    assert torch.equal(got, lm.next_token_logits(ids, keep=None))
    mask = torch.ones_like(ids)
    for a, b in zip(wrapped.token_hidden_states(ids, mask), lm.token_hidden_states(ids, mask)):
        assert torch.equal(a, b)
    assert requests.weights_fingerprint(wrapped) == requests.weights_fingerprint(lm)
    again = copy.copy(wrapped)  # copies (Kedro's MemoryDataset may make one) keep the class
    assert type(again) is requests.FormattedTransformersLM and again.lm is lm


def test_another_backend_gets_the_capability_error_or_the_documented_fallback():
    with FakeOpenAIServer(models=["fake-model"]) as srv:
        spec = ModelSpec.from_dict(
            {"source": "fake-model", "backend": "openai", "base_url": srv.base_url}
        )
        remote = OpenAICompatibleLM(spec)
        wrapped = requests.formatted(remote, "spec")
        assert type(wrapped) is requests.FormattedLM
        assert not isinstance(wrapped, TransformersCapable)
        with pytest.raises(AttributeError):
            _ = wrapped.tokenizer  # no forwarding of what the backend does not have
        # spec-formatted next-token windows need the tokenizer: the clear error, naming the backend
        with pytest.raises(CapabilityError, match=r"Next-token statistics .*backend 'openai'"):
            requests.context_prefix_ids(remote, "spec")
        assert requests.context_prefix_ids(remote, "raw") == []
        # no local tensors: the fingerprint is of the provenance (documented fallback)
        fp = requests.weights_fingerprint(remote)
        assert fp.startswith("provenance:") and fp == requests.weights_fingerprint(wrapped)
        other = OpenAICompatibleLM(ModelSpec.from_dict({**spec.to_dict(), "source": "other"}))
        assert requests.weights_fingerprint(other) != fp
