"""ModelDatasetsHook: the model datasets built from the parameters, lazily, one loaded copy each."""

from __future__ import annotations

import copy

import pytest
from kedro.io import DataCatalog

from llm_behavior.datasets import EmbedderDataset, LanguageModelDataset
from llm_behavior.hooks import ModelDatasetsHook
from tests.tiny_models import save_tiny_llama

GENERATION = {"max_new_tokens": 8, "seed": 0}


def parameters(folder: str, assistant: dict | None = None) -> dict:
    reference = {"source": folder, "name": "tiny", "generation": GENERATION}
    candidate = {**reference, "name": "tiny-rude", "system_prompt": "Be rude."}
    return {
        "reference": {"seed_offset": 0, "model": reference},
        "candidate": {"seed_offset": 0, "model": candidate},
        "replicate": {"seed_offset": 1},
        "contrastive_search": {
            "assistant": {"model": assistant or {"source": folder}},
            "embedding_model": "all-MiniLM-L6-v2",
        },
    }


def hooked(params: dict) -> DataCatalog:
    cat = DataCatalog()
    ModelDatasetsHook().after_catalog_created(cat, {}, {}, {"parameters": copy.deepcopy(params)})
    return cat


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    return str(save_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny", seed=3))


def test_the_hook_adds_every_model_dataset_unloaded(folder):
    cat = hooked(parameters(folder))
    ref, cand, rep = (cat[f"{s}.language_model"] for s in ("reference", "candidate", "replicate"))
    assistant, embedder = cat["assistant.language_model"], cat["search.embedder"]
    assert all(isinstance(d, LanguageModelDataset) for d in (ref, cand, rep, assistant))
    assert isinstance(embedder, EmbedderDataset)
    assert rep is ref and cand is not ref  # the replicate differs in decoding only
    # the assistant computes what the reference computes (same identity): the same dataset
    assert assistant is ref
    assert not any(d._describe()["loaded"] for d in (ref, cand, embedder))


def test_an_assistant_of_its_own_loads_on_first_use_only_once(folder, monkeypatch):
    from llm_behavior.models import factory

    calls: list[str] = []
    real = factory.load_language_model

    def counted(spec, credentials=None):
        calls.append(spec.name)
        return real(spec, credentials)

    monkeypatch.setattr(factory, "load_language_model", counted)
    helper = {"source": folder, "name": "helper", "system_prompt": "Help."}
    cat = hooked(parameters(folder, assistant=helper))
    assistant = cat["assistant.language_model"]
    pair = (cat["reference.language_model"], cat["candidate.language_model"])
    assert all(assistant is not d for d in pair)
    assert calls == []  # nothing loads when the catalog is made
    first = cat.load("assistant.language_model")
    assert cat.load("assistant.language_model") is first and calls == ["helper"]
    assert first.spec.system_prompt == "Help."


def test_a_catalog_entry_wins_and_no_search_block_adds_none(folder):
    params = parameters(folder)
    declared = EmbedderDataset(name="/somewhere/else")
    cat = DataCatalog(datasets={"search.embedder": declared})
    ModelDatasetsHook().after_catalog_created(cat, {}, {}, {"parameters": params})
    assert cat["search.embedder"] is declared
    del params["contrastive_search"]
    cat = hooked(params)
    assert "assistant.language_model" not in cat and "search.embedder" not in cat
