"""Typed probing settings: the base parameters, every run file and a --params override load;
unknown, missing and mistyped keys fail naming the key and the allowed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_behavior.probes.probing import ProbeSettings
from llm_behavior.probes.settings import ProbingSettings, SettingsError
from tests.probes.base_settings import probing_params
from tests.profiles.base_settings import merge

RUNS = sorted((Path(__file__).resolve().parents[2] / "runs").glob("*.yml"))


def test_the_base_parameters_load_with_their_values():
    base = probing_params()
    s = ProbingSettings.from_dict(base)
    assert s.behaviour.scorer == base["behaviour"]["scorer"] == "local_toxicity"
    assert s.prompt_toxicity.source == "scorer" and s.prompt_toxicity.scorer_params is None
    assert s.extraction.max_batch_tokens == 2048 and s.extraction.dtype == "float16"
    assert s.probes == ProbeSettings.from_dict(base["probes"])
    assert s.probes.alphas == tuple(base["probes"]["alphas"])
    assert (s.mdl.enabled, s.mdl.seeds, s.mdl.eps) == (True, (0,), 0.001)
    assert s.scenario_names == ["input", "output", "forward", "backward"]
    assert ProbingSettings.from_dict(probing_params(scenarios=None)).scenario_names == list(
        s.scenario_names
    )


@pytest.mark.parametrize("run_file", RUNS, ids=[p.stem for p in RUNS])
def test_every_run_file_s_probing_params_load(run_file):
    run = yaml.safe_load(run_file.read_text())["run"]
    override = (run.get("params") or {}).get("probing") or {}
    ProbingSettings.from_dict(probing_params(**override))


def test_a_params_override_merges_key_by_key():
    # kedro run --params probing.extraction.dtype=float32,probing.probes.seeds=[0]
    s = ProbingSettings.from_dict(
        merge(probing_params(), {"extraction": {"dtype": "float32"}, "probes": {"seeds": [0]}})
    )
    assert s.extraction.dtype == "float32" and s.extraction.batch_size == 64
    assert s.probes.seeds == (0,) and s.probes.n_splits == 4


def test_unknown_missing_and_mistyped_keys_name_themselves():
    with pytest.raises(SettingsError, match=r"probing.mdl: unknown keys \['seed'\]; known: \["):
        ProbingSettings.from_dict(probing_params(mdl={"seed": 1}))
    with pytest.raises(SettingsError, match=r"probing.probes: unknown keys \['n_split'\]"):
        ProbingSettings.from_dict(probing_params(probes={"n_split": 4}))
    params = probing_params()
    del params["probes"]["lambdas"]
    with pytest.raises(SettingsError, match=r"probing.probes: missing keys \['lambdas'\]"):
        ProbingSettings.from_dict(params)
    params = probing_params()
    del params["prompt_toxicity"]
    with pytest.raises(SettingsError, match=r"probing: missing keys \['prompt_toxicity'\]"):
        ProbingSettings.from_dict(params)
    with pytest.raises(SettingsError, match="probing.extraction.batch_size must be an integer"):
        ProbingSettings.from_dict(probing_params(extraction={"batch_size": 6.5}))
    with pytest.raises(SettingsError, match="probing.extraction.dtype must be one of"):
        ProbingSettings.from_dict(probing_params(extraction={"dtype": "bfloat16"}))
    with pytest.raises(SettingsError, match=r"probing.scenarios: unknown \['sideways'\]"):
        ProbingSettings.from_dict(probing_params(scenarios=["input", "sideways"]))
