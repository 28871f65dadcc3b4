"""Activation extraction on tiny random Llamas against an independent per-sequence computation."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.probes.extraction import (
    extract_activations,
    prompt_token_spans,
    token_budget_batches,
)
from llm_behavior.probes.store import ActivationStore, ActivationStoreError, layer_name
from tests.tiny_models import make_tiny_llama

PROMPTS = pd.DataFrame(
    {
        "prompt_id": ["a", "b", "c", "d"],
        "prompt": [
            "the quick brown fox",
            "shut up you stupid idiot",
            "language models continue text",
            "the weather today is sunny",
        ],
    }
)
GENS = pd.DataFrame(
    {
        "prompt_id": ["a", "a", "b", "b", "c"],
        "sample": [0, 1, 0, 1, 0],
        "text": [
            " jumps over the lazy dog",
            " and the dog",
            "",
            " nobody likes you",
            " one token at a time",
        ],
    }
)


@pytest.fixture(scope="module")
def lm():
    model, tok = make_tiny_llama(seed=3, n_layers=3, d=32)
    return TransformersLM(
        model,
        tok,
        ModelSpec(source="tiny", name="tiny", system_prompt="you are a helpful assistant"),
    )


def reference_states(lm, ids):
    """Embedding output and every block's output for one unpadded sequence, via forward hooks."""
    model = lm.model
    caught = []

    def grab(_m, _i, out):
        caught.append((out[0] if isinstance(out, tuple) else out)[0].detach().float())

    hooks = [model.model.embed_tokens.register_forward_hook(grab)]
    hooks += [layer.register_forward_hook(grab) for layer in model.model.layers]
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]))
    finally:
        for h in hooks:
            h.remove()
    return caught  # n_layers + 1 tensors (T, d)


def expected_encodings(lm, input_span="prompt_text"):
    ids, masks, _ = prompt_token_spans(lm, list(PROMPTS["prompt"]), input_span)
    tok = lm.tokenizer
    inputs = {}
    for k, pid in enumerate(PROMPTS["prompt_id"]):
        states = reference_states(lm, ids[k])
        m = torch.tensor(masks[k], dtype=torch.bool)
        inputs[pid] = np.stack([s[m].mean(0).numpy() for s in states])
    outputs = {}
    for pid, s, text in GENS[["prompt_id", "sample", "text"]].itertuples(index=False):
        k = int(np.flatnonzero(PROMPTS["prompt_id"] == pid)[0])
        cont = tok(text, add_special_tokens=False)["input_ids"]
        if not cont:
            outputs[(pid, s)] = None
            continue
        states = reference_states(lm, ids[k] + cont)
        outputs[(pid, s)] = np.stack([st[len(ids[k]) :].mean(0).numpy() for st in states])
    return inputs, outputs


def test_prompt_span_is_the_prompt_text_and_ids_are_what_generation_feeds(lm):
    ids, masks, located = prompt_token_spans(lm, list(PROMPTS["prompt"]))
    assert ids == lm.encode_prompts([lm.format_prompt(p) for p in PROMPTS["prompt"]])
    assert all(located)
    for k, prompt in enumerate(PROMPTS["prompt"]):
        pos = np.flatnonzero(masks[k])
        assert list(pos) == list(range(pos[0], pos[-1] + 1))  # one contiguous run
        chosen = ids[k][pos[0] : pos[-1] + 1]
        assert prompt in lm.tokenizer.decode(chosen)
        assert prompt not in lm.tokenizer.decode(chosen[1:]) and prompt not in lm.tokenizer.decode(
            chosen[:-1]
        )
        assert len(pos) < len(ids[k])  # template and system prompt tokens left out
    _, full, _ = prompt_token_spans(lm, list(PROMPTS["prompt"]), "full_prompt")
    assert all(all(m) for m in full)


@pytest.fixture(scope="module")
def expected(lm):
    return expected_encodings(lm)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_encodings_equal_per_sequence_hooked_means(lm, expected, tmp_path, batch_size):
    store = extract_activations(
        lm, PROMPTS, GENS, tmp_path / "s", batch_size=batch_size, show_progress=False
    )
    inputs, outputs = expected
    # TransformerLens' names: the embeddings, then each block's output (blocks count from 0)
    assert store.layer_names == [
        "blocks.0.hook_resid_pre",
        "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_post",
        "blocks.2.hook_resid_post",
    ]
    assert (
        layer_name(3) == "blocks.2.hook_resid_post"
        and store.path("input", 0).name == "blocks.0.hook_resid_pre.npy"
    )
    with pytest.raises(ValueError, match="layer must be >= 0"):
        layer_name(-1)
    assert store.meta["final_layer"] == "pre_final_norm"
    assert list(store.input_index["prompt_id"]) == list(PROMPTS["prompt_id"])
    for li in range(4):
        X_in = store.layer("input", li)
        assert X_in.dtype == np.float16
        for i, pid in enumerate(store.input_index["prompt_id"]):
            np.testing.assert_allclose(X_in[i], inputs[pid][li], rtol=2e-3, atol=2e-3)
        X_out = store.layer("output", li)
        for j, (pid, s) in enumerate(
            store.output_index[["prompt_id", "sample"]].itertuples(index=False)
        ):
            if outputs[(pid, s)] is None:
                assert np.isnan(X_out[j]).all()
            else:
                np.testing.assert_allclose(X_out[j], outputs[(pid, s)][li], rtol=2e-3, atol=2e-3)
    empty = store.output_index.set_index(["prompt_id", "sample"]).loc[("b", 0), "n_tokens"]
    assert empty == 0 and store.meta["n_empty_generations"] == 1
    # prompt "d" has no generation: its input encoding comes from a prompt-only pass
    assert np.isfinite(store.layer("input", 2)[3]).all()


def test_interrupted_extraction_resumes_without_redoing_finished_work(lm, tmp_path):
    full = extract_activations(
        lm, PROMPTS, GENS, tmp_path / "full", batch_size=2, show_progress=False
    )
    seen = []

    def stop_after_first_batch(n):
        seen.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        extract_activations(
            lm,
            PROMPTS,
            GENS,
            tmp_path / "s",
            batch_size=2,
            flush_every=1,
            progress=stop_after_first_batch,
            show_progress=False,
        )
    with pytest.raises(ActivationStoreError, match="incomplete"):
        ActivationStore.open(tmp_path / "s")
    counted = []
    store = extract_activations(
        lm,
        PROMPTS,
        GENS,
        tmp_path / "s",
        batch_size=2,
        progress=counted.append,
        show_progress=False,
    )
    assert sum(counted) == 6 - 2  # 5 generations + 1 prompt-only pass, first batch of 2 kept
    for kind in ("input", "output"):
        for li in range(4):
            np.testing.assert_array_equal(store.layer(kind, li), full.layer(kind, li))
    again = []
    extract_activations(
        lm, PROMPTS, GENS, tmp_path / "s", batch_size=2, progress=again.append, show_progress=False
    )
    assert again == []  # complete store for the same inputs: reused
    other = GENS.assign(text=GENS["text"] + " again")
    rebuilt = extract_activations(
        lm, PROMPTS, other, tmp_path / "s", batch_size=2, show_progress=False
    )
    assert rebuilt.meta["key"] != store.meta["key"]
    assert not np.allclose(rebuilt.layer("output", 1)[0], full.layer("output", 1)[0])


def test_bad_inputs_fail_clearly(lm, tmp_path):
    with pytest.raises(ValueError, match="prompt_id not in the prompt table"):
        extract_activations(
            lm, PROMPTS[PROMPTS["prompt_id"] != "a"], GENS, tmp_path / "x", show_progress=False
        )
    with pytest.raises(ValueError, match="duplicated"):
        extract_activations(
            lm, PROMPTS, pd.concat([GENS, GENS]), tmp_path / "y", show_progress=False
        )
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "keep.txt").write_text("user data")
    with pytest.raises(ActivationStoreError, match="Refusing to overwrite"):
        extract_activations(lm, PROMPTS, GENS, tmp_path / "z", show_progress=False)


def test_quantized_4bit_model(tmp_path):
    pytest.importorskip("bitsandbytes")
    from llm_behavior.models.factory import load_language_model

    # width 128: bitsandbytes' CPU 4-bit kernels need rows of at least one 64-value block
    model, tok = make_tiny_llama(seed=1, n_layers=2, d=128)
    folder = Path(tmp_path) / "tiny"
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    lm4 = load_language_model(
        {"source": str(folder), "quantization": "4bit-nf4", "name": "tiny-4bit"}
    )
    assert "Linear4bit" in type(lm4.model.model.layers[0].self_attn.q_proj).__name__
    store = extract_activations(
        lm4, PROMPTS, GENS, tmp_path / "q", batch_size=4, show_progress=False
    )
    assert store.meta["quantization"] == "4bit-nf4"
    X = store.layer("output", store.n_layers - 1)
    finite = np.isfinite(X).all(1)
    assert finite.sum() == len(GENS) - 1  # all but the empty generation
    # the same model unquantized gives close but different encodings
    lm32 = load_language_model({"source": str(folder), "name": "tiny"})
    ref = extract_activations(
        lm32, PROMPTS, GENS, tmp_path / "f", batch_size=4, show_progress=False
    )
    Y = ref.layer("output", ref.n_layers - 1)
    corr = np.corrcoef(X[finite].ravel(), Y[finite].ravel())[0, 1]
    assert 0.8 < corr < 1.0


def test_token_budget_batches():
    lengths = [3, 4, 5, 5, 9, 30]
    batches = token_budget_batches(lengths, batch_size=3, max_batch_tokens=16)
    assert [i for b in batches for i in b] == list(range(6))  # every sequence once, in order
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 16
    assert batches == [[0, 1, 2], [3], [4], [5]]
    assert token_budget_batches(lengths, batch_size=2, max_batch_tokens=None) == [
        [0, 1],
        [2, 3],
        [4, 5],
    ]
