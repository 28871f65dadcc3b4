"""Typed profiling settings: the base parameters, every run file and a --params override load;
unknown, missing and mistyped keys fail naming the key and the allowed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llm_behavior.profiles.settings import ProfilingSettings, SettingsError
from tests.profiles.base_settings import merge, profiling_params

RUNS = sorted((Path(__file__).resolve().parents[2] / "runs").glob("*.yml"))


def test_the_base_parameters_load_with_their_values():
    s = ProfilingSettings.from_dict(profiling_params())
    base = profiling_params()
    assert (s.seed, s.batch_size, s.request_format) == (0, 16, "spec")
    assert s.bootstrap.n_resamples == base["bootstrap"]["n_resamples"]
    assert s.toxicity.n_prompts == base["toxicity"]["n_prompts"]
    assert s.bias.seat.tests == tuple(base["bias"]["seat"]["tests"])
    assert s.bias.bbq.categories is None and s.utility.enabled is False
    assert s.diversity.leinster_cobbold_orders == (1.0, 2.0)
    assert s.shared(("seed", "request_format")) == {"seed": 0, "request_format": "spec"}


@pytest.mark.parametrize("run_file", RUNS, ids=[p.stem for p in RUNS])
def test_every_run_file_s_profiling_params_load(run_file):
    run = yaml.safe_load(run_file.read_text())["run"]
    override = (run.get("params") or {}).get("profiling") or {}
    s = ProfilingSettings.from_dict(profiling_params(**override))
    if run_file.stem == "profile_paper":  # its overrides arrive, the rest is the base
        assert s.toxicity.n_prompts == 400 and s.next_token.n_windows == 100
        assert s.bias.bbq.n_items == 1000 and s.calibration.n_items == 500
        assert s.diversity.temperatures == (0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5)
        assert s.bias.seat.n_permutations == profiling_params()["bias"]["seat"]["n_permutations"]


def test_a_params_override_merges_key_by_key():
    # kedro run --params profiling.toxicity.n_prompts=5,profiling.request_format=raw
    s = ProfilingSettings.from_dict(
        merge(profiling_params(), {"toxicity": {"n_prompts": 5}, "request_format": "raw"})
    )
    assert s.toxicity.n_prompts == 5 and s.request_format == "raw"
    assert s.toxicity.samples_per_prompt == profiling_params()["toxicity"]["samples_per_prompt"]


def test_unknown_missing_and_mistyped_keys_name_themselves():
    with pytest.raises(
        SettingsError, match=r"profiling.bias.bbq: unknown keys \['sorce'\]; known: \["
    ):
        ProfilingSettings.from_dict(profiling_params(bias={"bbq": {"sorce": "auto"}}))
    with pytest.raises(
        SettingsError, match=r"profiling: unknown keys \['sed'\]; known: \['seed', "
    ):
        ProfilingSettings.from_dict(profiling_params(sed=1))
    params = profiling_params()
    del params["next_token"]["window"]
    with pytest.raises(SettingsError, match=r"profiling.next_token: missing keys \['window'\]"):
        ProfilingSettings.from_dict(params)
    with pytest.raises(
        SettingsError, match=r"profiling.diversity.temperatures\[1\] must be a number"
    ):
        ProfilingSettings.from_dict(profiling_params(diversity={"temperatures": [0.5, "hot"]}))
    with pytest.raises(SettingsError, match="profiling.calibration.datasets must be a list"):
        ProfilingSettings.from_dict(profiling_params(calibration={"datasets": "piqa"}))
    with pytest.raises(SettingsError, match="profiling.toxicity.enabled must be true or false"):
        ProfilingSettings.from_dict(profiling_params(toxicity={"enabled": "yes"}))
    with pytest.raises(ValueError, match="request_format must be one of"):
        ProfilingSettings.from_dict(profiling_params(request_format="chat"))
    with pytest.raises(SettingsError, match="profiling.batch_size must be >= 1"):
        ProfilingSettings.from_dict(profiling_params(batch_size=0))
