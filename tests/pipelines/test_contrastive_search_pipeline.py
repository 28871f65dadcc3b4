"""The contrastive search pipeline end to end on a tiny
model pair, assistant behind a fake local server."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset
from kedro_datasets.text import TextDataset

from llm_behavior.datasets import EmbedderDataset, LanguageModelDataset
from llm_behavior.divergence.pair import TokenizerMismatchError
from llm_behavior.hooks import ModelDatasetsHook
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.pipelines.contrastive_search import create_pipeline
from llm_behavior.prompts import load_prompt_set
from tests import fake_openai_server
from tests.divergence.fakes import scripted_answer
from tests.fake_openai_server import FakeOpenAIServer
from tests.tiny_models import CORPUS, make_tiny_llama, make_tokenizer

torch.set_num_threads(1)  # tiny models; a shared CPU

PROMPTS = pd.DataFrame(
    {
        "prompt_id": [f"p{i}" for i in range(8)],
        "prompt": [
            f"{s} number {i}" for i, s in enumerate(sorted(set(CORPUS)) + ["the dog", "a fox"])
        ],
    }
)


def params(base_url: str, checkpoint: str) -> dict:
    return {
        "seed_prompts": {"n": 6, "seed": 0},
        "decoding": {"mode": "starting", "temperature": 1.0, "max_new_tokens": 5, "batch_size": 16},
        "search": {
            "n_cycles": 2,
            "generations_per_prompt": 2,
            "assistant_calls_per_cycle": 3,
            "bank_subsample": 4,
            "checkpoint": checkpoint,
            "resume": True,
        },
        "assistant": {
            "model": {
                "source": "assistant",
                "backend": "openai",
                "base_url": base_url,
                "max_retries": 0,
            },
            "generation": {"max_new_tokens": 100, "temperature": 0.8},
        },
        "selection": {
            "top_n": 6,
            "heldout_fraction": 0.5,
            "include_seed_prompts": True,
            "seed": 0,
            "fresh_generations": 2,
        },
        "summaries": {
            "max_prompts": 3,
            "samples_per_prompt": 2,
            "n_clusters": 2,
            "n_permutations": 100,
        },
        "token_view": {"max_texts": 10, "direction": None},
        "embedding_model": "all-MiniLM-L6-v2",
    }


def catalog(tmp, base_url, reference, candidate) -> DataCatalog:
    """The run's files, with the assistant and the
    embedder added from the parameters by the hook."""
    files = {
        "prompt_search_bank": ParquetDataset(filepath=str(tmp / "bank.parquet")),
        "prompt_search_cycles": CSVDataset(
            filepath=str(tmp / "cycles.csv"), save_args={"index": False}
        ),
        "searched_prompts": ParquetDataset(filepath=str(tmp / "searched_prompts.parquet")),
        "contrastive_texts": ParquetDataset(filepath=str(tmp / "texts.parquet")),
        "divergence_clusters": JSONDataset(filepath=str(tmp / "clusters.json")),
        "divergence_token_view": TextDataset(filepath=str(tmp / "tokens.html")),
        "prompt_search_summary": JSONDataset(filepath=str(tmp / "summary.json")),
    }
    settings = params(base_url, str(tmp / "ckpt.json"))
    cat = DataCatalog(
        datasets={
            **files,
            "prompts": MemoryDataset(PROMPTS),
            "params:contrastive_search": MemoryDataset(settings),
            "reference.language_model": MemoryDataset(reference, copy_mode="assign"),
            "candidate.language_model": MemoryDataset(candidate, copy_mode="assign"),
        }
    )
    # the pair is in the catalog already; the replicate (unused here) stays an unloaded dataset
    parameters = {
        "reference": {"seed_offset": 0, "model": {"source": "tiny"}},
        "replicate": {"seed_offset": 1},
        "contrastive_search": settings,
    }
    ModelDatasetsHook().after_catalog_created(cat, {}, {}, parameters)
    return cat


def tiny_lm(seed: int, name: str, tok=None) -> TransformersLM:
    model, own_tok = make_tiny_llama(seed=seed)
    return TransformersLM(model, tok or own_tok, ModelSpec(source=f"tiny-{name}", name=name))


@pytest.fixture(scope="module")
def server():
    patch = pytest.MonkeyPatch()
    patch.setattr(fake_openai_server, "fake_continuation", scripted_answer)
    with FakeOpenAIServer(models=["assistant"]) as srv:
        yield srv
    patch.undo()


LOADS: list[str] = []  # what the model datasets loaded during the module's runs


@pytest.fixture(scope="module")
def run(tmp_path_factory, server):
    tmp = tmp_path_factory.mktemp("contrastive")
    cat = catalog(tmp, server.base_url, tiny_lm(1, "reference"), tiny_lm(2, "candidate"))
    patch = pytest.MonkeyPatch()
    for cls in (LanguageModelDataset, EmbedderDataset):
        original = cls.load

        def counted(self, _original=original):
            if self._describe()["loaded"] is False:
                LOADS.append(type(self).__name__)
            return _original(self)

        patch.setattr(cls, "load", counted)
    try:
        SequentialRunner().run(create_pipeline(), cat)
    finally:
        patch.undo()
    return tmp, cat


def test_the_assistant_and_embedder_are_catalog_inputs_loaded_once(run):
    nodes = {n.name: n for n in create_pipeline().nodes}
    for name in ("run_prompt_search", "summarise_clusters"):
        assert {"assistant.language_model", "search.embedder"} <= set(nodes[name].inputs)
    _, cat = run
    # both nodes read them, each loaded once (the assistant is served: the openai backend)
    assert sorted(LOADS) == ["EmbedderDataset", "LanguageModelDataset"]
    assert cat["assistant.language_model"].spec.backend == "openai"
    assert cat.load("assistant.language_model") is cat.load("assistant.language_model")


def test_searched_prompts_are_a_prompt_set_with_a_heldout_split(run):
    tmp, cat = run
    bank = cat.load("prompt_search_bank")
    chosen = cat.load("searched_prompts")
    assert list(chosen.columns[:4]) == ["prompt_id", "prompt", "split", "divergence"]
    assert len(chosen) == 6 and set(chosen["split"]) == {"search", "heldout"}
    assert chosen["divergence"].is_monotonic_decreasing
    top = bank[bank.status == "scored"].sort_values("divergence", ascending=False).head(6)
    assert set(chosen["prompt_id"]) == set(top["prompt_id"])
    assert (
        np.isfinite(chosen["divergence_fresh"]).all()
        and (chosen["divergence_fresh"] != chosen["divergence"]).any()
    )
    # the generation pipeline's prompt loader reads it, one split at a time
    heldout = load_prompt_set(str(tmp / "searched_prompts.parquet"), split="heldout")
    assert sorted(heldout["prompt"]) == sorted(chosen.loc[chosen.split == "heldout", "prompt"])


def test_texts_clusters_view_and_summary(run):
    tmp, cat = run
    chosen = cat.load("searched_prompts")
    texts = cat.load("contrastive_texts")
    search_ids = set(chosen.loc[chosen.split == "search", "prompt_id"])
    assert set(texts["prompt_id"]) <= search_ids and texts["side"].value_counts().to_dict() == {
        "reference": 6,
        "candidate": 6,
    }
    for _, row in texts.iterrows():  # list columns survive parquet
        assert len(row["token_kl"]) == len(row["token_pieces"]) == row["n_new_tokens"]
        assert row["divergence"] == pytest.approx(float(np.mean(row["token_kl"])))
    # 3 prompts: 2 held out for validation, 1 for discovery (2 texts per model)
    held = set(texts.loc[texts.split == "validation", "prompt_id"])
    assert len(held) == 2 and len(set(texts.prompt_id) - held) == 1
    clusters = json.loads((tmp / "clusters.json").read_text())
    assert (
        clusters["settings"]["sides"] == ["reference", "candidate"]
        and clusters["settings"]["correction"] == "holm"
    )
    assert (
        len(clusters["pairs"]) == 2
        and sum(p["n_reference"] + p["n_candidate"] for p in clusters["pairs"]) == 4
    )
    assert len(clusters["contrasts"]) == 4 and clusters["counts"]["n_validation_reference"] == 4
    for c in clusters["contrasts"]:
        assert c["label"].startswith("Texts mentioning") or c["label"] == "Nothing in particular"
        assert c["not_tested"] is None or "only one model" in c["not_tested"]
        assert c["p_value"] is None or (
            0 < c["p_value"] <= c["p_adjusted"] <= 1 and c["validated"] == (c["p_adjusted"] <= 0.05)
        )
    page = (tmp / "tokens.html").read_text()
    assert page.count('<span title="KL') == int(
        texts.sort_values("divergence", ascending=False).head(10)["n_new_tokens"].sum()
    )
    summary = cat.load("prompt_search_summary")
    bank = cat.load("prompt_search_bank")
    seeds = bank[(bank.origin == "seed")]
    assert summary["n_random_bundled_prompts"] == 6 == len(seeds)
    assert summary["mean_divergence_random_bundled_prompts"] == pytest.approx(
        seeds["divergence"].mean()
    )
    assert summary["malformed_answers"] == int(
        cat.load("prompt_search_cycles")["malformed_answers"].sum()
    )
    assert {"mean_divergence_fresh_search", "mean_divergence_fresh_heldout"} <= set(summary)
    assert summary["summary_labels_tested"] == clusters["counts"]["n_tested"]
    assert (
        summary["summary_labels_validated"]
        == len(summary["validated_differences"])
        == clusters["counts"]["n_validated"]
    )


def test_rerun_resumes_from_the_checkpoint_without_asking_again(run, server):
    tmp, cat = run
    before = cat.load("prompt_search_bank")
    server.reset_stats()
    SequentialRunner().run(create_pipeline().filter(node_names=["run_prompt_search"]), cat)
    assert server.posts("chat/completions") == []
    pd.testing.assert_frame_equal(cat.load("prompt_search_bank"), before)


def test_pair_with_different_tokenizers_is_refused(tmp_path, server):
    other = tiny_lm(2, "candidate", tok=make_tokenizer(chat_template=False))
    cat = catalog(tmp_path, server.base_url, tiny_lm(1, "reference"), other)
    with pytest.raises(Exception) as info:
        SequentialRunner().run(create_pipeline().filter(node_names=["run_prompt_search"]), cat)
    chain = [info.value, info.value.__cause__, info.value.__context__]
    assert any(
        isinstance(e, TokenizerMismatchError) for e in chain
    ) or "do not share a tokenizer" in str(info.value)
