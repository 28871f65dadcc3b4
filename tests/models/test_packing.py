"""Packed, shared-prefix log-likelihood scoring: grouping and layout on hand-worked cases, and the
results against one unpadded full forward pass per request."""

from __future__ import annotations

import pytest
import torch

from llm_behavior.models import packing
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from tests.tiny_models import direct_token_logprobs, make_tiny_llama


def test_group_by_prefix_hand_worked():
    seqs = [
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3, 4, 5, 7, 8],
        [1, 2, 3, 4, 9],
        [9, 9, 9, 9, 9],
        [1, 2, 3, 4, 5, 6],  # a duplicate
        [1, 2, 8],  # shares only 2 tokens: below min_shared
    ]
    # sorted: 0, 4, 1, 2, 5, 3. 0+4 share 5 (each keeps its last token), adding 1 keeps 5 shared
    # (saves 10 > 5), adding 2 cuts it to 4 but saves 12 > 10; 5 and 3 share too little.
    groups = packing.group_by_prefix(seqs, min_shared=4)
    assert groups == [
        packing.Group(4, (0, 4, 1, 2)),
        packing.Group(3, (5,)),
        packing.Group(5, (3,)),
    ]
    # a group never grows past max_row_tokens: 0, 4, 1 fill 5 + 1 + 1 + 2 = 9 tokens, 2 would add 3
    capped = packing.group_by_prefix(seqs, min_shared=4, max_row_tokens=9)
    assert capped[:2] == [
        packing.Group(5, (0, 4, 1)),
        packing.Group(5, (2,)),
    ]  # a lone row: all of it
    # sorted 2, 0, 1: 2+0 share 4, adding 1 keeps 4 (saves 8 > 4)
    assert packing.group_by_prefix(
        [[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 9], [1, 2, 3, 4, 0]], min_shared=4
    ) == [packing.Group(4, (2, 0, 1))]
    assert packing.group_by_prefix(
        [
            [1, 2, 3, 4, 5, 6, 7, 8, 1],
            [1, 2, 3, 4, 5, 6, 7, 8, 2],
            [1, 2, 3, 4, 5, 6, 7, 8, 3],
            [1, 2, 3, 4, 9],
        ],
        min_shared=4,
    ) == [packing.Group(8, (0, 1, 2)), packing.Group(5, (3,))]  # joining would cut 16 saved to 12


def test_pack_layout_and_mask_hand_worked():
    seqs = [[1, 2, 3, 4], [1, 2, 5], [7, 8]]
    n_scored = [2, 1, 1]
    rows = [[packing.Group(2, (0, 1)), packing.Group(2, (2,))]]
    b = packing.pack(rows, seqs, n_scored, pad=0)
    # row: prefix [1 2] | suffix [3 4] | suffix [5] | group 2: [7 8]
    assert b.input_ids.tolist() == [[1, 2, 3, 4, 5, 7, 8]]
    assert b.position_ids.tolist() == [[0, 1, 2, 3, 2, 0, 1]]
    assert b.groups.tolist() == [[0, 0, 0, 0, 0, 1, 1]]
    assert b.segments.tolist() == [[0, 0, 1, 1, 2, 0, 0]]
    # request 0 scores tokens 3 (col 2 <- col 1), 4 (col 3 <- col 2); request 1 token 5 <- col 1;
    # request 2 token 8 <- col 5
    assert list(zip(b.owners, b.gather_col, b.targets)) == [
        (0, 1, 3),
        (0, 2, 4),
        (1, 1, 5),
        (2, 5, 8),
    ]
    allowed = packing.attention_mask(b.groups, b.segments)[0, 0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0, 0],
            [1, 1, 0, 0, 1, 0, 0],  # suffix 2 sees the prefix and itself, not suffix 1
            [0, 0, 0, 0, 0, 1, 0],  # the second group sees only itself
            [0, 0, 0, 0, 0, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(allowed, expected)
    additive = packing.additive(allowed, torch.float32)
    assert torch.equal(additive == 0, expected) and additive.min() == torch.finfo(torch.float32).min


def test_fill_rows_packs_short_groups_side_by_side():
    seqs = [[1] * 10, [2] * 6, [3] * 4, [4] * 3, [5] * 1]
    groups = [packing.Group(len(s), (i,)) for i, s in enumerate(seqs)]
    rows = packing.fill_rows(groups, seqs)
    assert [[g.members[0] for g in row] for row in rows] == [[0], [1, 2], [3, 4]]
    # many groups: each once, no row longer than the longest group, rows nearly full
    rng = __import__("random").Random(0)
    seqs = [[1] * rng.randint(1, 40) for _ in range(500)]
    groups = [packing.Group(len(s), (i,)) for i, s in enumerate(seqs)]
    rows = packing.fill_rows(groups, seqs)
    assert sorted(g.members[0] for row in rows for g in row) == list(range(500))
    lengths = [sum(len(seqs[g.members[0]]) for g in row) for row in rows]
    assert max(lengths) == 40 and sum(lengths) / (40 * len(rows)) > 0.95


REQUESTS = [
    # options after a shared context
    ("Question: the quick brown fox jumps over\nAnswer:", " the lazy dog"),
    ("Question: the quick brown fox jumps over\nAnswer:", " a helpful assistant"),
    ("Question: the quick brown fox jumps over\nAnswer:", " x"),
    # CrowS-like standalone sentences differing late, and a duplicate
    ("", "the weather today is sunny with a light breeze"),
    ("", "the weather today is sunny with a stupid breeze"),
    ("", "the weather today is sunny with a light breeze"),
    # one request's text is a prefix of another's
    ("you are a helpful", " assistant"),
    ("you are a helpful", " assistant and you answer politely"),
    # unrelated
    ("shut up you ", "stupid idiot"),
    ("", "a"),
]


def _tiny(arch: str):
    """A tiny random causal LM of another architecture with the tests' tokenizer."""
    import transformers

    from tests.tiny_models import make_tokenizer

    if arch == "llama":
        return make_tiny_llama(seed=1, n_layers=2)
    tok = make_tokenizer()
    torch.manual_seed(1)
    if arch == "gpt2":  # learned absolute positions
        cfg = transformers.GPT2Config(
            vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=2, n_head=4
        )
        return transformers.GPT2LMHeadModel(cfg).eval(), tok
    cfg = transformers.Qwen2Config(  # attention biases, untied head
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )
    return transformers.Qwen2ForCausalLM(cfg).eval(), tok


@pytest.mark.parametrize(
    "arch,attn,batch_size",
    [
        ("llama", "sdpa", 1),
        ("llama", "sdpa", 2),
        ("llama", "sdpa", 16),
        ("llama", "eager", 2),
        ("gpt2", "sdpa", 4),
        ("gpt2", "eager", 4),
        ("qwen2", "sdpa", 4),
    ],
)
def test_shared_prefix_loglikelihood_equals_direct_forward(arch, attn, batch_size):
    model, tok = _tiny(arch)
    model.config._attn_implementation = attn
    lm = TransformersLM(model.eval(), tok, ModelSpec(source="tiny"))
    seqs = [sum(lm.encode_pair(c, x), []) for c, x in REQUESTS]
    groups = packing.group_by_prefix(seqs)
    assert len(groups) < len(REQUESTS)  # the test really shares prefixes
    for share in (True, False):
        results = lm.loglikelihood(REQUESTS, batch_size=batch_size, share_prefixes=share)
        for (ctx, cont), res in zip(REQUESTS, results):
            direct, greedy = direct_token_logprobs(lm, ctx, cont)
            assert res.token_logprobs == pytest.approx(direct, abs=2e-5)
            assert res.logprob == pytest.approx(sum(direct), abs=1e-4)
            assert res.n_tokens == len(direct) and res.is_greedy == greedy


def test_full_logits_path_and_unpackable_attention_give_the_same(monkeypatch):
    model, tok = make_tiny_llama(seed=2)
    lm = TransformersLM(model.eval(), tok, ModelSpec(source="tiny"))
    reference = [r.token_logprobs for r in lm.loglikelihood(REQUESTS, batch_size=4)]
    # the vocabulary logits computed a few positions at a time
    monkeypatch.setattr(packing, "HEAD_CHUNK", 3)
    chunked = [r.token_logprobs for r in lm.loglikelihood(REQUESTS, batch_size=4)]
    # a model whose logits are not the output embedding of the last hidden state (soft-capping)
    monkeypatch.setattr(packing, "head_only_at_gathered", lambda model: False)
    full = [r.token_logprobs for r in lm.loglikelihood(REQUESTS, batch_size=4)]
    # an attention implementation without custom 4-D masks: one left-padded request per row
    monkeypatch.setattr(packing, "PACKABLE_ATTENTION", ())
    padded = [r.token_logprobs for r in lm.loglikelihood(REQUESTS, batch_size=4)]
    for a, b, c, d in zip(reference, full, padded, chunked):
        assert a == pytest.approx(b, abs=2e-5) and a == pytest.approx(c, abs=2e-5)
        assert a == pytest.approx(d, abs=2e-5)
