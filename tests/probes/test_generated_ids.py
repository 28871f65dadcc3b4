"""Output encodings of the tokens the model generated (stored ids), not of re-tokenised text."""

import numpy as np
import pandas as pd
import pytest
import torch

from llm_behavior.chunks import ChunkStore
from llm_behavior.generation import generate_continuations
from llm_behavior.models.hf import TransformersLM, _ids_of_text
from llm_behavior.models.spec import GenerationSettings, ModelSpec
from llm_behavior.probes.extraction import extract_activations, prompt_token_spans
from tests.probes.test_extraction import reference_states
from tests.tiny_models import make_tiny_llama

PROMPTS = pd.DataFrame(
    {"prompt_id": ["a", "b", "c"], "prompt": ["the quick brown fox", "you are", "the weather"]}
)


@pytest.fixture(scope="module")
def lm():
    model, tok = make_tiny_llama(seed=5, n_layers=2, d=32)
    return TransformersLM(model, tok, ModelSpec(source="tiny", name="tiny"))


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_generations_store_the_generated_ids(lm, tmp_path):
    settings = GenerationSettings(max_new_tokens=8, num_samples=2, do_sample=False, batch_size=4)
    out = generate_continuations(lm, PROMPTS, "reference", ChunkStore(tmp_path), settings)
    prompt_ids = lm.encode_prompts([lm.format_prompt(p) for p in PROMPTS["prompt"]])
    tok = lm.tokenizer
    for row in out.itertuples(index=False):
        ids = [int(t) for t in row.token_ids]
        assert tok.decode(ids, skip_special_tokens=True) == row.text
        assert row.n_new_tokens == len(ids) + (row.finish_reason == "eos")
        # greedy: each stored id is the argmax after the prompt and the ids before it
        seq = prompt_ids[int(np.flatnonzero(PROMPTS["prompt_id"] == row.prompt_id)[0])] + ids
        with torch.no_grad():
            logits = lm.model(input_ids=torch.tensor([seq])).logits[0]
        n_p = len(seq) - len(ids)
        assert logits[n_p - 1 : len(seq) - 1].argmax(-1).tolist() == ids


def test_generations_cached_without_ids_still_load(lm, tmp_path):
    settings = GenerationSettings(max_new_tokens=6, num_samples=1, do_sample=False)
    first = generate_continuations(lm, PROMPTS, "reference", ChunkStore(tmp_path), settings)
    for f in tmp_path.rglob("*.parquet"):  # chunks written before the column existed
        pd.read_parquet(f).drop(columns="token_ids").to_parquet(f, index=False)
    old = generate_continuations(lm, PROMPTS, "reference", ChunkStore(tmp_path), settings)
    assert old["token_ids"].isna().all()
    assert list(old["text"]) == list(first["text"])


def test_ids_of_a_text_cut_at_a_stop_string(lm):
    tok = lm.tokenizer
    ids = _ids(tok, "the quick brown fox jumps")
    text = tok.decode(ids)[: len("the quick br")]
    kept = _ids_of_text(tok, ids, text)
    assert tok.decode(kept).startswith(text)
    assert not tok.decode(kept[:-1]).startswith(text)
    assert _ids_of_text(tok, ids, "") == []


def test_output_encodings_use_the_generated_ids(lm, tmp_path, caplog):
    tok = lm.tokenizer
    # generated ids that decode to text whose re-tokenisation differs: single bytes where the
    # tokenizer has a merge, and a special token the decoded text drops
    single = [tok.convert_tokens_to_ids(c) for c in ("t", "h", "e")]
    special = tok.convert_tokens_to_ids("<|im_start|>")
    gen_a = single + [special] + _ids(tok, " dog")
    text_a = tok.decode(gen_a, skip_special_tokens=True)
    assert _ids(tok, text_a) != gen_a  # re-tokenising would encode other tokens
    gens = pd.DataFrame(
        {
            "prompt_id": ["a", "b", "c"],
            "sample": [0, 0, 0],
            "text": [text_a, " nobody likes you", " is sunny"],
            "token_ids": [gen_a, _ids(tok, " nobody likes") + single, None],  # c: cached w/o ids
        }
    )
    with caplog.at_level("WARNING", logger="llm_behavior.probes.extraction"):
        store = extract_activations(lm, PROMPTS, gens, tmp_path / "s", show_progress=False)
    assert store.meta["n_retokenized"] == 1
    assert "1 of 3 generation(s) have no stored token ids" in caplog.text
    idx = store.output_index
    assert list(idx["token_source"]) == ["generated", "generated", "retokenized"]
    prompt_ids, _, _ = prompt_token_spans(lm, list(PROMPTS["prompt"]))
    conts = [gen_a, gens["token_ids"][1], _ids(tok, " is sunny")]
    assert list(idx["n_tokens"]) == [len(c) for c in conts]
    for j, cont in enumerate(conts):
        states = reference_states(lm, prompt_ids[j] + cont)
        n_p = len(prompt_ids[j])
        for li, st in enumerate(states):
            expected = st[n_p:].mean(0).numpy()
            np.testing.assert_allclose(store.layer("output", li)[j], expected, atol=2e-3, rtol=2e-3)
    # the re-tokenised text would have given another encoding (so the test can fail)
    retok = reference_states(lm, prompt_ids[0] + _ids(tok, text_a))[-1][len(prompt_ids[0]) :]
    assert not np.allclose(store.layer("output", 2)[0], retok.mean(0).numpy(), atol=1e-2)
    # other ids for the same text are other inputs: the store is rebuilt
    again = extract_activations(
        lm, PROMPTS, gens.assign(token_ids=[None] * 3), tmp_path / "s", show_progress=False
    )
    assert again.meta["key"] != store.meta["key"] and again.meta["n_retokenized"] == 3
