"""Generation with provenance keys: cache reuse,
resume after interruption, regeneration on change."""

import pandas as pd
import pytest
from tiny_models import make_tiny_llama

from llm_behavior.chunks import ChunkStore
from llm_behavior.generation import formatting_report, generate_continuations
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import GenerationSettings, ModelSpec
from llm_behavior.schemas import GENERATION_COLUMNS

PROMPTS = pd.DataFrame(
    {
        "prompt_id": [f"p{i}" for i in range(5)],
        "prompt": ["the quick", "you are", "a test", "the weather", "nobody likes"],
    }
)
SETTINGS = GenerationSettings(max_new_tokens=5, num_samples=2, seed=3, batch_size=4)


class CountingLM(TransformersLM):
    """Counts the prompts it is asked to generate; can fail after N calls (an interruption)."""

    def __init__(self, *a, fail_after_calls=None, **k):
        super().__init__(*a, **k)
        self.generated, self.calls, self.fail_after_calls = 0, 0, fail_after_calls

    def generate(self, prompts, settings=None, **kw):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        self.generated += len(prompts)
        return super().generate(prompts, settings, **kw)


@pytest.fixture(scope="module")
def model_tok():
    return make_tiny_llama(seed=2)


def lm(model_tok, **kw):
    spec_kw = kw.pop("spec", {})
    return CountingLM(*model_tok, ModelSpec(source="tiny", **spec_kw), **kw)


def test_schema_and_reuse(tmp_path, model_tok):
    store = ChunkStore(tmp_path)
    first = lm(model_tok)
    a = generate_continuations(first, PROMPTS, "reference", store, SETTINGS, chunk_prompts=2)
    assert list(a.columns) == list(GENERATION_COLUMNS) and len(a) == 10
    assert first.generated == 5
    again = lm(model_tok)
    b = generate_continuations(again, PROMPTS, "reference", store, SETTINGS, chunk_prompts=2)
    assert again.generated == 0  # everything came from the cache
    pd.testing.assert_frame_equal(a, b)


def test_resume_after_interruption_loses_nothing_and_duplicates_nothing(tmp_path, model_tok):
    store = ChunkStore(tmp_path)
    broken = lm(model_tok, fail_after_calls=2)
    with pytest.raises(KeyboardInterrupt):
        generate_continuations(broken, PROMPTS, "reference", store, SETTINGS, chunk_prompts=2)
    partial = sum(len(pd.read_parquet(f)) for f in tmp_path.rglob("*.parquet"))
    assert partial == 8  # two whole chunks of 2 prompts x 2 samples were kept
    resumed = lm(model_tok)
    out = generate_continuations(resumed, PROMPTS, "reference", store, SETTINGS, chunk_prompts=2)
    assert (
        resumed.generated == 1
        and len(out) == 10
        and not out.duplicated(["prompt_id", "sample"]).any()
    )
    fresh = generate_continuations(
        lm(model_tok), PROMPTS, "reference", ChunkStore(tmp_path / "fresh"), SETTINGS
    )
    # same seed -> same text, however it was chunked
    assert list(out["text"]) == list(fresh["text"])


def test_changing_decoding_or_prompt_format_regenerates(tmp_path, model_tok):
    store = ChunkStore(tmp_path)
    generate_continuations(lm(model_tok), PROMPTS, "reference", store, SETTINGS)
    other_seed = lm(model_tok)
    generate_continuations(
        other_seed,
        PROMPTS,
        "reference",
        store,
        GenerationSettings(**{**SETTINGS.__dict__, "seed": 4}),
    )
    assert other_seed.generated == 5
    other_system = lm(model_tok, spec={"system_prompt": "Be rude."})
    generate_continuations(other_system, PROMPTS, "candidate", store, SETTINGS)
    assert other_system.generated == 5
    bigger_batch = lm(model_tok)
    generate_continuations(
        bigger_batch,
        PROMPTS,
        "reference",
        store,
        GenerationSettings(**{**SETTINGS.__dict__, "batch_size": 16}),
    )
    # batch size does not change the text, so it is not in the key
    assert bigger_batch.generated == 0


def test_formatting_report_flags_template_on_one_side_only(tmp_path, model_tok):
    store = ChunkStore(tmp_path)
    chat = generate_continuations(lm(model_tok), PROMPTS, "reference", store, SETTINGS)
    plain = generate_continuations(
        lm(model_tok, spec={"use_chat_template": False}), PROMPTS, "candidate", store, SETTINGS
    )
    report = formatting_report({"reference": chat, "candidate": plain})
    assert any("chat template applied on reference only" in f for f in report["flags"])
    assert report["sides"]["reference"]["n_generations"] == 10
    assert formatting_report({"reference": chat, "replicate": chat})["flags"] == []
