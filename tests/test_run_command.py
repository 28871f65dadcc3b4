"""`kedro run -c runs/<pair>.yml --params ...`: the run file's pair, with the overrides merged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_behavior.run_command import deep_merge

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    from kedro.framework.startup import bootstrap_project

    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("credentials*", "local")
    )
    (tmp_path / "conf" / "local").mkdir()
    shutil.copytree(ROOT / "runs", tmp_path / "runs")
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


@pytest.fixture
def dry_session(monkeypatch) -> dict:
    """Replaces the session's run by one that records the resolved params and output paths."""
    from kedro.framework.session import KedroSession

    seen: dict = {}

    def fake_run(self, **kwargs):
        context = self.load_context()
        seen["params"] = context.params
        seen["pipelines"] = kwargs.get("pipeline_names")
        catalog = context.catalog
        seen["paths"] = {
            name: str(catalog[name]._filepath) for name in ("scores", "audit_result", "prompts")
        }
        return {}

    monkeypatch.setattr(KedroSession, "run", fake_run)
    return seen


def invoke(*args: str):
    from llm_behavior.run_command import run

    return CliRunner().invoke(run, list(args), catch_exceptions=False)


def test_deep_merge_keeps_base_keys_and_lets_override_win():
    base = {
        "pair": "null",
        "candidate": {"seed_offset": 100, "model": {"name": "a", "system_prompt": None}},
    }
    over = {"candidate": {"model": {"name": "b"}}, "tracking": {"enabled": False}}
    merged = deep_merge(base, over)
    assert merged == {
        "pair": "null",
        "candidate": {"seed_offset": 100, "model": {"name": "b", "system_prompt": None}},
        "tracking": {"enabled": False},
    }
    assert base["candidate"]["model"]["name"] == "a"  # inputs untouched


def test_run_file_with_params_runs_the_run_files_pair(project, dry_session):
    result = invoke("-c", "runs/null.yml", "--params", "tracking.enabled=false,prompts.n_prompts=3")
    assert result.exit_code == 0, result.output
    params = dry_session["params"]
    assert params["pair"] == "null"
    assert params["tracking"]["enabled"] is False and params["prompts"]["n_prompts"] == 3
    # the run file's own settings survive the merge, the base parameters fill the rest
    assert params["candidate"]["seed_offset"] == 100
    assert params["candidate"]["model"]["system_prompt"] is None
    assert params["candidate"]["model"]["name"] == "smollm2-instruct"
    assert params["candidate"]["model"]["source"] == "smollm2-135m-instruct"
    for name, path in dry_session["paths"].items():
        assert Path(path).parts[-2:-1] == ("null",) or "/null/" in path, (name, path)
        assert "/default/" not in path, (name, path)


def test_params_win_over_the_run_file_key_by_key(project, dry_session):
    result = invoke("-c", "runs/null.yml", "--params", "candidate.seed_offset=7")
    assert result.exit_code == 0, result.output
    assert dry_session["params"]["candidate"]["seed_offset"] == 7
    assert dry_session["params"]["pair"] == "null"


def test_run_file_alone_and_params_alone(project, dry_session):
    assert invoke("-c", "runs/null.yml").exit_code == 0
    assert dry_session["params"]["pair"] == "null"
    assert invoke("--params", "pair=other").exit_code == 0
    assert dry_session["params"]["pair"] == "other"
    assert "/other/" in dry_session["paths"]["scores"]


def test_unknown_pipeline_lists_the_registered_ones(project, dry_session):
    from llm_behavior.run_command import run

    result = CliRunner().invoke(run, ["--pipelines", "nope"])
    assert result.exit_code != 0
    message = str(result.exception) + result.output
    assert "unknown pipeline 'nope'" in message
    for name in ("generation", "scoring", "auditing", "reporting", "profiling"):
        assert name in message
    assert "params" not in dry_session  # the session never ran


def test_registry_raises_a_key_error_naming_the_registered_pipelines(project):
    from kedro.framework.project import pipelines

    from llm_behavior.pipeline_registry import register_pipelines

    pipelines.set_requested(["nope"])
    try:
        with pytest.raises(KeyError, match="registered: __default__, auditing"):
            register_pipelines()
    finally:
        pipelines.set_requested(None)
