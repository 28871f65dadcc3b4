"""Tiny model pairs sharing one tokenizer, wrapped in the project's transformers backend."""

from __future__ import annotations

import pytest
import torch

from llm_behavior.divergence.embeddings import load_minilm
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.openai_backend import OpenAICompatibleLM
from llm_behavior.models.spec import ModelSpec
from tests import fake_openai_server
from tests.divergence.fakes import scripted_answer
from tests.fake_openai_server import FakeOpenAIServer
from tests.tiny_models import make_tiny_llama

# Tiny models gain nothing from intra-op threads, and on a shared, oversubscribed CPU two spinning
# OpenMP threads per process made these tests ~50x slower (48 s vs 0.9 s for one test).
torch.set_num_threads(1)


def wrap(model, tok, name: str, **spec) -> TransformersLM:
    return TransformersLM(model, tok, ModelSpec(source=f"tiny-{name}", name=name, **spec))


@pytest.fixture(scope="session")
def tiny_pair() -> tuple[TransformersLM, TransformersLM]:
    """Two random tiny Llamas (different weights) that share one tokenizer."""
    m_s, tok = make_tiny_llama(seed=1)
    m_c, _ = make_tiny_llama(seed=2)
    return wrap(m_s, tok, "starting"), wrap(m_c, tok, "comparison")


@pytest.fixture(scope="session")
def tiny_prompts() -> list[str]:
    return [
        "the quick brown fox",
        "you are a helpful assistant and you answer",
        "shut up",
        "a sequential test bets against the null hypothesis and the weather",
        "language models",
    ]


@pytest.fixture(scope="session")
def embed():
    return load_minilm()


@pytest.fixture
def assistant(monkeypatch):
    monkeypatch.setattr(fake_openai_server, "fake_continuation", scripted_answer)
    with FakeOpenAIServer(models=["assistant"]) as server:
        spec = ModelSpec(
            source="assistant", backend="openai", base_url=server.base_url, max_retries=0
        )
        lm = OpenAICompatibleLM(spec, api_key=None)
        lm.server = server  # for the tests' bookkeeping
        yield lm
