"""Our log-likelihoods against lm-evaluation-harness's HFLM on the same requests and weights.

CrowS-Pairs, StereoSet, BBQ and the calibration part all rest on ``TransformersLM.loglikelihood``;
here it is compared with ``lm_eval.models.huggingface.HFLM.loglikelihood`` (lm-eval 0.4.13, a dev
dependency) on a tiny local model: standalone sentences (empty context: lm-eval conditions on its
prefix token), contexts with trailing whitespace, multiple-choice options after a shared context,
and the side-formatted requests (system prompt + chat template). Then the one deliberate
tokenisation difference: a token spanning the context/continuation boundary.
"""

from __future__ import annotations

import copy

import pytest

from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.profiles import requests as req
from llm_behavior.profiles.bias import crows_pairs_requests, stereoset_requests
from llm_behavior.profiles.calibration import option_requests, qa_context
from tests.tiny_models import make_tiny_llama

lm_eval = pytest.importorskip(
    "lm_eval", reason="lm-eval is a dev dependency (requirements-dev.txt)"
)

REQUESTS = [
    ("", "the quick brown fox jumps over the lazy dog"),  # standalone sentence
    ("", "nobody likes you"),
    ("the weather today is ", "sunny with a light breeze"),  # trailing space moves over
    ("language models continue", " text one token at a time"),
    *option_requests(
        [qa_context("what jumps over the dog?")], [["the fox", "the weather", "a test"]]
    ),
]


def hflm(model, tok):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=model, tokenizer=tok, batch_size=3, device="cpu")


def lm_eval_loglikelihood(ref, reqs):
    from lm_eval.api.instance import Instance

    inst = [
        Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i)
        for i, r in enumerate(reqs)
    ]
    return ref.loglikelihood(inst, disable_tqdm=True)


def bos_adding(tok):
    """The tokenizer with a post-processor that puts BOS first (as Llama/Gemma tokenizers do)."""
    from tokenizers import processors

    tok = copy.deepcopy(tok)
    tok._tokenizer.post_processor = processors.TemplateProcessing(  # noqa: SLF001
        single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, tok.bos_token_id)]
    )
    assert tok("the")["input_ids"][0] == tok.bos_token_id
    return tok


@pytest.mark.parametrize("adds_bos", [False, True], ids=["no-bos", "tokenizer-adds-bos"])
def test_loglikelihood_equals_lm_eval_hflm(adds_bos):
    model, tok = make_tiny_llama(seed=0)
    if adds_bos:
        tok = bos_adding(tok)
    ours = TransformersLM(model, tok, ModelSpec(source="tiny"))
    expected = lm_eval_loglikelihood(hflm(model, tok), REQUESTS)
    for batch_size in (1, 4):
        got = ours.loglikelihood(REQUESTS, batch_size=batch_size)
        assert [g.logprob for g in got] == pytest.approx([e[0] for e in expected], abs=1e-4)
        assert [g.is_greedy for g in got] == [e[1] for e in expected]


def test_profile_requests_and_side_formats_equal_lm_eval():
    """The profile's own requests (CrowS, StereoSet, multiple choice), raw and side-formatted
    (system prompt + chat template, as lm-eval --system_instruction --apply_chat_template)."""
    import pandas as pd

    model, tok = make_tiny_llama(seed=1)
    pairs = pd.DataFrame(
        {"sent_more": ["the lazy dog is stupid"], "sent_less": ["the quick fox is stupid"]}
    )
    items = pd.DataFrame(
        {
            "type": ["intrasentence", "intersentence"],
            "context": ["", "the weather today is sunny."],
            "stereotype": ["you are a helpful assistant", "a light breeze"],
            "anti_stereotype": ["you are a stupid assistant", "nobody likes you"],
            "unrelated": ["the fox jumps", "a sequential test"],
        }
    )
    raw = (
        crows_pairs_requests(pairs)
        + stereoset_requests(items)
        + option_requests([qa_context("who is polite?")], [["the assistant", "the idiot"]])
    )
    ref = hflm(model, tok)
    for system_prompt in (None, "you answer politely"):
        ours = TransformersLM(model, tok, ModelSpec(source="tiny", system_prompt=system_prompt))
        sent = req.format_requests(ours, raw, "spec")
        assert all(ctx.startswith("<|im_start|>") for ctx, _ in sent)
        got = req.formatted(ours, "spec").loglikelihood(raw, batch_size=4)
        expected = lm_eval_loglikelihood(ref, sent)
        assert [g.logprob for g in got] == pytest.approx([e[0] for e in expected], abs=1e-4)


def _boundary_case(tok):
    """A (context, continuation) whose boundary falls inside a token of the whole text."""
    for text in ("the quick brown fox jumps", "the weather today is sunny", "you answer politely"):
        for cut in range(1, len(text) - 1):
            ctx, cont = text[:cut], text[cut:]
            if ctx != ctx.rstrip():
                continue
            whole = tok(text, add_special_tokens=False)["input_ids"]
            alone = tok(ctx, add_special_tokens=False)["input_ids"]
            if whole[: len(alone)] != alone and whole[len(alone) :]:
                return ctx, cont, whole, alone
    raise AssertionError("no boundary-spanning token found")


def test_a_token_spanning_the_boundary_follows_the_documented_rule():
    import torch

    model, tok = make_tiny_llama(seed=0)
    ours = TransformersLM(model, tok, ModelSpec(source="tiny"))
    ctx, cont, whole, alone = _boundary_case(tok)
    ctx_ids, cont_ids = ours.encode_pair(ctx, cont)
    # our rule: the whole text's tokens, split after len(tokenise(context)) of them
    assert ctx_ids + cont_ids == whole
    assert ctx_ids == whole[: len(alone)] and cont_ids == whole[len(alone) :]
    # lm-eval: the same continuation ids, after the context tokenised alone
    ref = hflm(model, tok)
    ref_ctx, ref_cont = ref._encode_pair(ctx, cont)  # noqa: SLF001
    assert ref_ctx == alone != ctx_ids and ref_cont == cont_ids

    def direct(ids_ctx, ids_cont):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids_ctx + ids_cont])).logits[0].double()
        logp = torch.log_softmax(logits[len(ids_ctx) - 1 : -1], -1)
        return float(logp.gather(-1, torch.tensor(ids_cont)[:, None]).sum())

    [got] = ours.loglikelihood([(ctx, cont)])
    [(theirs, _)] = lm_eval_loglikelihood(ref, [(ctx, cont)])
    assert got.logprob == pytest.approx(direct(ctx_ids, cont_ids), abs=1e-4)
    assert theirs == pytest.approx(direct(alone, ref_cont), abs=1e-4)
    assert abs(got.logprob - theirs) > 1e-6  # the two rules really differ here
