"""The probing pipeline's steps (probes/pipeline_steps.py) against hand-worked tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.probes.pipeline_steps import (
    MDL_COLUMNS,
    generation_labels,
    prompt_labels,
    prompts_on_every_side,
    with_mdl_columns,
)
from tests.probes.base_settings import probing_params


def column(name: str) -> dict:
    """``probing.prompt_toxicity`` of the base parameters, reading the prompts table's ``name``."""
    return probing_params(prompt_toxicity={"source": "column", "column": name})["prompt_toxicity"]


def _mdl(side: str, task: str, seed: int, compression: float) -> dict:
    row = {"side": side, "scenario": "input", "layer": 1, "task": task, "seed": seed}
    row.update({c: compression + i for i, c in enumerate(MDL_COLUMNS)})
    return row


def test_mdl_columns_are_seed_means_real_and_control() -> None:
    summary = pd.DataFrame(
        {"side": ["reference", "candidate"], "scenario": "input", "layer": 1, "r": [0.1, 0.2]}
    )
    ref = pd.DataFrame(
        [
            _mdl("reference", "real", 0, 2.0),
            _mdl("reference", "real", 1, 4.0),
            _mdl("reference", "control", 0, 1.0),
        ]
    )
    out = with_mdl_columns(summary, [ref, pd.DataFrame()])
    assert list(out["r"]) == [0.1, 0.2]  # summary rows kept, in order
    first = out.iloc[0]
    assert first["compression"] == pytest.approx(3.0)  # mean of 2 and 4
    assert first["uniform_bits"] == pytest.approx(3.0 + 3)
    assert first["control_compression"] == pytest.approx(1.0)
    assert (
        out.iloc[1][["compression", "control_compression"]].isna().all()
    )  # no MDL for the candidate
    assert with_mdl_columns(summary, [pd.DataFrame()]) is summary


def test_prompts_on_every_side_and_labels_from_a_column() -> None:
    prompts = pd.DataFrame(
        {"prompt_id": ["a", "b", "c"], "prompt": ["x", "y", "z"], "tox": [0.1, "bad", 0.9]}
    )
    gens = {
        "reference": pd.DataFrame({"prompt_id": ["a", "b", "c"]}),
        "candidate": pd.DataFrame({"prompt_id": ["b", "c"]}),
    }
    assert list(prompts_on_every_side(prompts, gens)["prompt_id"]) == ["b", "c"]
    labels = prompt_labels(prompts, gens, column("tox"), "unused", "unused")
    assert list(labels.columns) == ["prompt_id", "prompt", "toxicity", "source"]
    assert np.isnan(labels["toxicity"].iloc[0]) and labels["toxicity"].iloc[1] == 0.9
    assert set(labels["source"]) == {"column:tox"}
    with pytest.raises(ValueError, match="every probed side"):
        prompts_on_every_side(prompts, {"reference": pd.DataFrame({"prompt_id": ["q"]})})
    with pytest.raises(ValueError, match="not a column"):
        prompt_labels(prompts, gens, column("nope"), "s", "m")
    with pytest.raises(ValueError, match="source must be one of"):
        prompt_labels(prompts, gens, {**column("tox"), "source": "oracle"}, "s", "m")


def test_generation_labels_select_side_scorer_metric() -> None:
    scores = pd.DataFrame(
        {
            "side": ["reference", "reference", "candidate"],
            "scorer": ["s", "t", "s"],
            "metric": ["m", "m", "m"],
            "prompt_id": ["a", "a", "a"],
            "sample": [0, 0, 0],
            "value": [0.3, 0.5, 0.7],
        }
    )
    got = generation_labels(scores, "reference", "s", "m")
    assert got.to_dict("list") == {"prompt_id": ["a"], "sample": [0], "value": [0.3]}
    with pytest.raises(ValueError, match="no s/x values"):
        generation_labels(scores, "reference", "s", "x")
