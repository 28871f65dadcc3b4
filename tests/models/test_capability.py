"""The transformers capability: which backends have it, and the error the others give."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from llm_behavior.divergence.decoding import ContrastiveSettings, contrastive_generate
from llm_behavior.models.base import CapabilityError, TransformersCapable, require_transformers
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.openai_backend import OpenAICompatibleLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.probes.extraction import extract_activations
from llm_behavior.profiles.diversity import next_token_statistics
from llm_behavior.profiles.requests import FormattedLM
from llm_behavior.report.divergent import token_log_ratios
from tests.fake_openai_server import FakeOpenAIServer
from tests.tiny_models import make_tiny_llama


@pytest.fixture(scope="module")
def tiny():
    model, tok = make_tiny_llama(seed=0)
    return TransformersLM(model, tok, ModelSpec(source="tiny"))


@pytest.fixture(scope="module")
def remote():
    with FakeOpenAIServer(models=["fake-model"]) as srv:
        spec = ModelSpec.from_dict(
            {"source": "fake-model", "backend": "openai", "base_url": srv.base_url}
        )
        yield OpenAICompatibleLM(spec)


def message(what: str) -> str:
    """The start of require_transformers' message for the fake server's model."""
    return (
        re.escape(f"{what} needs the transformers backend")
        + r".*model 'fake-model' runs on backend 'openai'"
    )


def test_which_backends_are_transformers_capable(tiny, remote):
    assert isinstance(tiny, TransformersCapable)
    # the wrapper passes it through
    assert isinstance(FormattedLM(tiny, "spec"), TransformersCapable)
    assert require_transformers(tiny, "x") is tiny
    assert not isinstance(remote, TransformersCapable)
    assert not isinstance(FormattedLM(remote, "spec"), TransformersCapable)


def test_contrastive_decoding_on_another_backend_is_a_capability_error(tiny, remote):
    settings = ContrastiveSettings(max_new_tokens=2)
    with pytest.raises(
        CapabilityError, match=message("Contrastive decoding and per-token KL (comparison model)")
    ):
        contrastive_generate(tiny, remote, ["hi"], settings)
    with pytest.raises(
        CapabilityError, match=message("Contrastive decoding and per-token KL (starting model)")
    ):
        contrastive_generate(remote, tiny, ["hi"], settings)


def test_probing_extraction_on_another_backend_is_a_capability_error(remote, tmp_path):
    prompts = pd.DataFrame({"prompt_id": ["a"], "prompt": ["hello"]})
    gens = pd.DataFrame({"prompt_id": ["a"], "sample": [0], "text": [" there"]})
    with pytest.raises(CapabilityError, match=message("Probing (per-token hidden states)")):
        extract_activations(remote, prompts, gens, tmp_path / "store", show_progress=False)
    assert not (tmp_path / "store").exists()  # refused before anything is written


def test_next_token_statistics_and_token_ratios_on_another_backend(tiny, remote):
    with pytest.raises(
        CapabilityError, match=message("Next-token statistics (full next-token distributions)")
    ):
        next_token_statistics(FormattedLM(remote, "spec"), ["some text"], window=4, n_windows=1)
    texts = pd.DataFrame({"prompt": ["hi"], "text": ["there"]})
    with pytest.raises(CapabilityError, match=message("Per-token divergence")):
        token_log_ratios(texts, tiny, remote)
