import pytest

from llm_behavior.models.spec import GenerationSettings, ModelSpec, stable_hash


def test_identity_hash_ignores_bookkeeping_but_not_behaviour():
    base = ModelSpec.from_dict({"source": "smollm2-135m-instruct"})
    same = ModelSpec.from_dict(
        {"source": "smollm2-135m-instruct", "name": "other", "device": "cpu"}
    )
    assert base.identity_hash() == same.identity_hash()
    for change in (
        {"system_prompt": "Be rude."},
        {"quantization": "4bit-nf4"},
        {"dtype": "bfloat16"},
    ):
        assert (
            ModelSpec.from_dict({"source": "smollm2-135m-instruct", **change}).identity_hash()
            != base.identity_hash()
        )


def test_unknown_keys_and_bad_values_are_errors():
    with pytest.raises(ValueError, match="Unknown model spec key"):
        ModelSpec.from_dict({"source": "x", "quantisation": "8bit"})
    with pytest.raises(ValueError, match="quantization"):
        ModelSpec.from_dict({"source": "x", "quantization": "3bit"})
    with pytest.raises(ValueError, match="base_url"):
        ModelSpec.from_dict({"source": "x", "backend": "openai"})
    with pytest.raises(ValueError, match="top_p"):
        GenerationSettings(top_p=0)
    with pytest.raises(ValueError, match="Unknown generation setting"):
        GenerationSettings.from_dict({"max_tokens": 3})


def test_greedy_decoding_identity_ignores_sampling_knobs_and_batch_size():
    a = GenerationSettings(do_sample=False, temperature=0.3, seed=5, batch_size=4)
    b = GenerationSettings(do_sample=False, temperature=1.0, seed=9, batch_size=64)
    assert a.decoding_identity() == b.decoding_identity()
    assert (
        GenerationSettings(seed=1).decoding_identity()
        != GenerationSettings(seed=2).decoding_identity()
    )


def test_stable_hash_is_order_independent():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
