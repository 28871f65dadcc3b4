"""The contrastive search's typed settings: the shipped parameters and every run file parse; an
unknown or missing key is an error naming it; the values are the YAML's, not code defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from llm_behavior.divergence.settings import ContrastiveSearchSettings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
RUN_FILES = sorted((ROOT / "runs").glob("*.yml"))


def parameters(runtime_params: dict | None = None) -> dict:
    loader = OmegaConfigLoader(
        str(ROOT / "conf"),
        base_env="base",
        default_run_env="local",
        runtime_params=runtime_params or {},
    )
    return loader["parameters"]


@pytest.fixture(scope="module")
def shipped() -> dict:
    return copy.deepcopy(parameters({"pair": "tiny"})["contrastive_search"])


def test_the_shipped_settings_are_the_yaml_values(shipped):
    s = ContrastiveSearchSettings.from_dict(shipped)
    assert (
        s.seed_prompts.n == shipped["seed_prompts"]["n"]
        and s.seed_prompts.seed == shipped["seed_prompts"]["seed"]
    )
    assert s.search.n_cycles == shipped["search"]["n_cycles"]
    assert s.search.weight_diversity == shipped["search"]["weight_diversity"]
    assert s.checkpoint == "data/05_model_input/tiny/prompt_search_checkpoint.json"
    assert s.resume is shipped["search"]["resume"]
    assert s.decoding.max_new_tokens == shipped["decoding"]["max_new_tokens"]
    assert s.assistant_model == shipped["assistant"]["model"]
    assert (
        s.assistant_generation.max_new_tokens
        == shipped["assistant"]["generation"]["max_new_tokens"]
    )
    assert s.selection.select_kwargs() == {
        k: v for k, v in shipped["selection"].items() if k != "fresh_generations"
    }
    assert s.selection.fresh_generations == shipped["selection"]["fresh_generations"]
    assert s.max_prompts == shipped["summaries"]["max_prompts"]
    assert s.samples_per_prompt == shipped["summaries"]["samples_per_prompt"]
    assert s.summaries.n_permutations == shipped["summaries"]["n_permutations"]
    assert s.token_view.max_texts == shipped["token_view"]["max_texts"]
    assert s.direction == shipped["search"]["direction"] and s.token_view.direction is None


@pytest.mark.parametrize("run_file", RUN_FILES, ids=[p.stem for p in RUN_FILES])
def test_every_run_file_parses(run_file):
    run_params = (yaml.safe_load(run_file.read_text()) or {}).get("run", {}).get("params") or {}
    ContrastiveSearchSettings.from_dict(parameters(run_params)["contrastive_search"])


def test_unknown_keys_are_errors_naming_them(shipped):
    with pytest.raises(SettingsError, match=r"contrastive_search: unknown keys \['seed_prompt'\]"):
        ContrastiveSearchSettings.from_dict({**shipped, "seed_prompt": {}})
    bad = copy.deepcopy(shipped)
    bad["selection"]["topn"] = 3
    with pytest.raises(
        SettingsError, match=r"contrastive_search.selection: unknown keys \['topn'\]"
    ):
        ContrastiveSearchSettings.from_dict(bad)
    bad = copy.deepcopy(shipped)
    bad["search"]["n_cycle"] = 3  # the search's own class names it
    with pytest.raises(ValueError, match=r"n_cycle"):
        ContrastiveSearchSettings.from_dict(bad)
    bad = copy.deepcopy(shipped)
    bad["summaries"]["alhpa"] = 0.1
    with pytest.raises(ValueError, match=r"alhpa"):
        ContrastiveSearchSettings.from_dict(bad)


def test_missing_keys_are_errors_naming_them(shipped):
    with pytest.raises(SettingsError, match=r"contrastive_search: missing keys \['token_view'\]"):
        ContrastiveSearchSettings.from_dict({k: v for k, v in shipped.items() if k != "token_view"})
    bad = copy.deepcopy(shipped)
    del bad["search"]["checkpoint"]
    with pytest.raises(
        SettingsError, match=r"contrastive_search.search: missing keys \['checkpoint'\]"
    ):
        ContrastiveSearchSettings.from_dict(bad)
    bad = copy.deepcopy(shipped)
    del bad["summaries"]["max_prompts"]
    with pytest.raises(SettingsError, match=r"summaries: missing keys \['max_prompts'\]"):
        ContrastiveSearchSettings.from_dict(bad)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("seed_prompts", "n", 0, r"seed_prompts.n must be an integer >= 1"),
        ("selection", "top_n", True, r"selection.top_n must be an integer >= 1"),
        ("selection", "heldout_fraction", 1.5, r"heldout_fraction must be in \[0, 1\]"),
        ("token_view", "direction", "sideways", r"token_view.direction must be one of"),
        ("summaries", "samples_per_prompt", "ten", r"samples_per_prompt must be an integer"),
        (
            "assistant",
            "model",
            {"backend": "openai"},
            r"assistant.model must be a model spec with a source",
        ),
    ],
)
def test_out_of_range_values_are_errors(shipped, section, key, value, message):
    bad = copy.deepcopy(shipped)
    bad[section][key] = value
    with pytest.raises(SettingsError, match=message):
        ContrastiveSearchSettings.from_dict(bad)
