"""The replicate rule, once (llm_behavior.sides.side_spec), and the generation pipeline using it."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from llm_behavior.chunks import ChunkStore
from llm_behavior.generation import generate_continuations
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import GenerationSettings, ModelSpec
from llm_behavior.pipelines.generation.pipeline import create_pipeline
from llm_behavior.schemas import SIDES
from llm_behavior.sides import model_side, side_spec
from tests.tiny_models import make_tiny_llama

torch.set_num_threads(1)

GENERATION = {"max_new_tokens": 4, "num_samples": 2, "seed": 5, "batch_size": 8}
PARAMETERS = {
    "reference": {"seed_offset": 0, "model": {"source": "tiny", "generation": GENERATION}},
    "candidate": {
        "seed_offset": 3,
        "model": {"source": "tiny", "system_prompt": "Rude.", "generation": {}},
    },
    "replicate": {"seed_offset": 1},
}


def test_the_replicate_is_the_reference_with_its_seed_offset():
    params = copy.deepcopy(PARAMETERS)
    replicate = side_spec(params, "replicate")
    assert replicate == {"source": "tiny", "generation": {**GENERATION, "seed": 6}}
    assert side_spec(params, "reference") == PARAMETERS["reference"]["model"]
    # every side's offset applies; a spec without a seed starts from GenerationSettings' 0
    assert side_spec(params, "candidate")["generation"] == {"seed": 3}
    assert params == PARAMETERS  # nothing changed in place
    assert [model_side(s) for s in SIDES] == ["reference", "candidate", "reference"]


def test_missing_parameters_and_unknown_sides_are_named():
    with pytest.raises(KeyError, match="'replicate.seed_offset'"):
        side_spec({"reference": PARAMETERS["reference"]}, "replicate")
    with pytest.raises(KeyError, match="'candidate.model'"):
        side_spec({"candidate": {"seed_offset": 0}}, "candidate")
    with pytest.raises(ValueError, match="unknown side 'treatment'"):
        side_spec(PARAMETERS, "treatment")


def test_the_generation_pipeline_generates_each_side_with_its_spec(tmp_path):
    model, tok = make_tiny_llama(seed=4)
    lm = TransformersLM(model, tok, ModelSpec(source="tiny", name="tiny"))
    prompts = pd.DataFrame({"prompt_id": ["a", "b"], "prompt": ["the cat", "a dog"]})
    catalog = DataCatalog(
        datasets={
            "prompts": MemoryDataset(prompts),
            "generation_cache": MemoryDataset(ChunkStore(tmp_path / "cache"), copy_mode="assign"),
            "params:generation_options": MemoryDataset({"chunk_prompts": 8}),
            **{f"params:{s}": MemoryDataset(copy.deepcopy(PARAMETERS[s])) for s in SIDES},
            **{f"{s}.language_model": MemoryDataset(lm, copy_mode="assign") for s in SIDES},
        }
    )
    catalog["replicate.generations"] = MemoryDataset()
    pipeline = create_pipeline().only_nodes("replicate.generate_continuations")
    assert {"params:reference", "params:replicate"} <= set(pipeline.nodes[0].inputs)
    SequentialRunner().run(pipeline, catalog)
    got = catalog.load("replicate.generations")

    def texts(seed: int) -> pd.Series:
        settings = GenerationSettings.from_dict({**GENERATION, "seed": seed})
        store = ChunkStore(tmp_path / f"seed{seed}")
        return generate_continuations(lm, prompts, "replicate", store, settings)["text"]

    pd.testing.assert_series_equal(got["text"], texts(6))  # the reference's seed 5, plus 1
    assert not got["text"].equals(texts(5))
