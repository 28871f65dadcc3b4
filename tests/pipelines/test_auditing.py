"""The auditing pipeline: structure, nodes on a fake scores table, and a full Kedro run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from llm_behavior.audit.validation import AuditInputError
from llm_behavior.pipelines.auditing import create_pipeline
from llm_behavior.pipelines.auditing.nodes import (
    audit_folds,
    audit_report,
    audit_shift,
    pair_scores,
)
from llm_behavior.versions import latest_path, version_path
from tests.audit.fakes import fake_scores

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def params() -> dict:
    return yaml.safe_load((ROOT / "conf/base/parameters_auditing.yml").read_text())["auditing"]


def test_pipeline_structure() -> None:
    pipe = create_pipeline()
    assert pipe.inputs() == {"scores", "params:auditing"}
    assert pipe.outputs() == {"audit_result", "audit_wealth_plot", "audit_distributions_plot"}
    assert {n.name for n in pipe.nodes} >= {
        "pair_behaviour_scores",
        "audit_shift",
        "audit_folds",
        "audit_report",
    }


def test_pairing_maps_and_reports(params: dict) -> None:
    scores = fake_scores(n_prompts=20, nan_every=7)
    wide, report = pair_scores(scores, params)
    assert len(wide) == 80 and report["n_rows"] == 80
    assert set(wide.columns) >= {"toxicity:reference", "toxicity:candidate", "length:replicate"}
    assert report["behaviours"]["toxicity"]["n_missing_candidate"] == int(np.ceil(80 / 7))
    raw = scores[(scores.metric == "n_tokens") & (scores.side == "reference")].sort_values(
        ["prompt_id", "sample"]
    )
    np.testing.assert_allclose(
        wide["length:reference"], np.clip(raw["value"].to_numpy() / 64, 0, 1)
    )


def test_pairing_errors_and_optional_behaviours(params: dict) -> None:
    scores = fake_scores(n_prompts=10)
    no_length = scores[scores.metric != "n_tokens"]
    _, report = pair_scores(no_length, params)
    assert "skipped" in report["behaviours"]["length"]
    with pytest.raises(AuditInputError, match="no scores for metric 'toxicity'"):
        pair_scores(scores[scores.metric != "toxicity"], params)
    twice = pd.concat(
        [scores, scores[scores.metric == "toxicity"].assign(scorer="profanity_check")]
    )
    loose = {**params, "behaviours": {"toxicity": {"metric": "toxicity"}}}
    with pytest.raises(AuditInputError, match="several scorers"):
        pair_scores(twice, loose)
    with pytest.raises(AuditInputError, match="no 'candidate' rows"):
        pair_scores(scores[scores.side != "candidate"], params)


def test_noise_floor_eps_holds_out_prompts(params: dict) -> None:
    wide, pairing = pair_scores(fake_scores(n_prompts=100, shift=0.0, seed=3), params)
    settings = {**params, "eps": "noise_floor"}
    state = audit_shift(wide, pairing, settings)
    assert state["calibration_rows"] == 120 and state["audit_rows"] == 280
    assert set(state["calibration_prompts"]).isdisjoint(state["audit_prompts"])
    assert all(e >= 0 for e in state["eps"].values())
    assert (
        state["noise_floor"]["toxicity"]["rows"] == 120
        and state["noise_floor"]["toxicity"]["held_out"]
    )
    assert (
        state["audit"]["n_prompts"] == 70
        and state["audit"]["behaviours"]["toxicity"]["n_pairs"] == 280
    )
    quick = {
        **settings,
        "folds": {
            **params["folds"],
            "tests": ["mean"],
            "sweep_test": "mean",
            "eps_grid_points": 2,
            "fold_size": 30,
            "min_fold_size": 10,
        },
    }
    folds = audit_folds(wide, pairing, state, quick)
    tox = folds["toxicity"]
    # folds and sweep on the 70 audited prompts only; eps grid from the 30 held-out prompts
    assert tox["n_folds"] == 2 and tox["n_unused_prompts"] == 10
    assert tox["eps_calibration"]["unacceptable"]["candidate"]["n_prompts"] == 30
    assert tox["eps_calibration"]["acceptable"]["replicate"]["n_prompts"] == 30
    assert all(row["folds"] == 2 for row in tox["power_sweep"])
    result = audit_report(state, folds)
    json.dumps(result, allow_nan=False)
    assert result["rows_for_calibration"] == 120 and result["prompts_for_calibration"] == 30


def test_fixed_eps_sweep_calibrates_on_audited_prompts_it_does_not_sweep(params: dict) -> None:
    wide, pairing = pair_scores(fake_scores(n_prompts=100, shift=0.1, seed=4), params)
    state = audit_shift(wide, pairing, params)
    assert state["calibration_prompts"] is None and state["audit"]["n_prompts"] == 100
    quick = {
        **params,
        "folds": {
            **params["folds"],
            "tests": ["mean"],
            "sweep_test": "mean",
            "eps_grid_points": 2,
            "fold_size": 30,
            "min_fold_size": 10,
        },
    }
    tox = audit_folds(wide, pairing, state, quick)["toxicity"]
    assert tox["n_folds"] == 3  # all 100 audited prompts
    assert tox["eps_calibration"]["unacceptable"]["candidate"]["n_prompts"] == 30
    assert all(row["folds"] == 2 for row in tox["power_sweep"])  # the other 70 prompts


def test_settings_are_typed_and_strict(params: dict) -> None:
    from llm_behavior.audit.settings import AuditSettings

    s = AuditSettings.from_dict(params)
    assert s.alpha == params["alpha"] and s.folds.tests == tuple(params["folds"]["tests"])
    with pytest.raises(AuditInputError, match=r"unknown keys \['alhpa'\]"):
        AuditSettings.from_dict({**params, "alhpa": 0.1})
    with pytest.raises(AuditInputError, match=r"missing keys \['seed'\]"):
        AuditSettings.from_dict({k: v for k, v in params.items() if k != "seed"})
    with pytest.raises(AuditInputError, match=r"auditing.folds: unknown keys \['fold'\]"):
        AuditSettings.from_dict({**params, "folds": {**params["folds"], "fold": 3}})
    with pytest.raises(AuditInputError, match="unknown test"):
        AuditSettings.from_dict({**params, "test": "combinedd"})
    with pytest.raises(AuditInputError, match="eps"):
        AuditSettings.from_dict({**params, "eps": "floor"})


def _run_project(tmp_path: Path, scores: pd.DataFrame, pair: str) -> dict:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    shutil.copytree(ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "src").mkdir()
    scores.to_parquet(
        version_path(
            tmp_path / "data/04_feature" / pair / "scores.parquet", "2020-01-01T00.00.00.000Z"
        )
    )
    bootstrap_project(tmp_path)
    with KedroSession.create(project_path=tmp_path, runtime_params={"pair": pair}) as session:
        session.run(pipeline_names=["auditing"])
    out = tmp_path / "data/08_reporting" / pair
    assert latest_path(out / "audit_wealth.png").stat().st_size > 0
    assert latest_path(out / "audit_score_distributions.png").stat().st_size > 0
    return json.loads(latest_path(out / "audit_result.json").read_text())


def test_kedro_run_shifted_and_null_pairs(tmp_path: Path) -> None:
    shifted = _run_project(tmp_path / "a", fake_scores(n_prompts=100, shift=0.2, seed=1), "shifted")
    assert shifted["rejected"] and shifted["behaviours"]["toxicity"]["rejected"]
    assert shifted["samples_used"] < 400 and shifted["final_wealth"] >= 20
    # 4 samples per prompt, one bet per prompt
    assert shifted["pairs_used"] == 4 * shifted["prompts_used"]
    tox = shifted["behaviours"]["toxicity"]
    assert (
        tox["n_prompts"] == 100
        and tox["n_pairs"] == 400
        and tox["pairs_to_rejection"] == 4 * tox["prompts_to_rejection"]
    )
    assert (
        tox["mean_shift"] > 0
        and tox["mean_shift_ci"][0] < tox["mean_shift"] < tox["mean_shift_ci"][1]
    )
    assert shifted["aa_audit"]["rejected"] is False
    from llm_behavior.audit.sequential import TESTS

    assert shifted["test_description"] == TESTS[shifted["test"]].description
    fold_tests = shifted["folds"]["toxicity"]["tests"]
    assert fold_tests["logopt"]["folds"] == fold_tests["combined"]["folds"] == 2  # 2 x 50 prompts
    assert shifted["folds"]["toxicity"]["fold_unit"] == "prompts"
    assert "power_sweep" in shifted["folds"]["toxicity"]
    null = _run_project(tmp_path / "b", fake_scores(n_prompts=60, shift=0.0, seed=2), "null")
    assert null["rejected"] is False and null["samples_used"] == null["pairs_used"] == 240
    assert null["prompts_used"] == 60
