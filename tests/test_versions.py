"""Versioned catalog: two runs keep two versions; a
later pipeline and the report read the latest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from llm_behavior.versions import find_versioned, latest_path, main, prune, runs, version_path
from tests.report.test_tracking_console import synthetic_scores

ROOT = Path(__file__).resolve().parents[1]
V0 = "2020-01-01T00.00.00.000Z"


@pytest.fixture()
def project(tmp_path, monkeypatch) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("credentials*", "local")
    )
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()
    synthetic_scores().to_parquet(version_path(tmp_path / "data/04_feature/ver/scores.parquet", V0))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def kedro_run(
    project: Path, params: dict, pipelines: list[str], load_versions: dict | None = None
) -> str:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=pipelines, load_versions=load_versions or {})
        return session.session_id


def test_two_runs_keep_two_versions_and_both_load(project):
    from kedro.io import Version
    from kedro_datasets.json import JSONDataset

    base = {"pair": "ver", "tracking": {"enabled": False}}
    first = kedro_run(project, {**base, "auditing": {"alpha": 0.05}}, ["auditing"])
    second = kedro_run(project, {**base, "auditing": {"alpha": 0.01}}, ["auditing"])
    assert first != second
    folder = project / "data/08_reporting/ver/audit_result.json"
    # the version is the session id
    assert sorted(p.name for p in folder.iterdir()) == sorted([first, second])
    loaded = {
        v: JSONDataset(filepath=str(folder), version=Version(v, None)).load()
        for v in (first, second)
    }
    assert loaded[first]["alpha"] == 0.05 and loaded[second]["alpha"] == 0.01
    # unpinned, the dataset loads the latest; the figures are versioned alike
    assert JSONDataset(filepath=str(folder), version=Version(None, None)).load()["alpha"] == 0.01
    assert json.loads(latest_path(folder).read_text())["alpha"] == 0.01
    wealth = project / "data/08_reporting/ver/audit_wealth.png"
    assert sorted(p.name for p in wealth.iterdir()) == sorted([first, second])
    assert latest_path(wealth).read_bytes().startswith(b"\x89PNG")
    # both runs read the one scores version on disk; --load-versions pins an older audit result
    datasets = {ds.path.name: ds for ds in find_versioned(project / "data")}
    assert datasets["scores.parquet"].versions == (V0,)
    assert set(runs(list(datasets.values()))) == {V0, first, second}


def test_run_version_names_this_runs_version_and_its_inputs(project):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params={"pair": "ver"}) as session:
        catalog = session.load_context().catalog
        # the hook binds run_version only when the session runs; bind it as the hook would
        from llm_behavior.hooks import VersionsHook

        VersionsHook().after_catalog_created(catalog, {}, {}, {}, session.session_id, {})
        info = catalog.load("run_version")
    assert info["save_version"] == session.session_id
    assert info["loaded"]["scores"] == V0

    from llm_behavior.report.run_report import version_provenance

    shown = version_provenance(info)
    assert shown["catalog version"] == session.session_id
    assert f"scores {V0}" in shown["inputs of earlier versions"]


def test_list_show_and_prune(project, capsys):
    for i in range(1, 4):
        frame = pd.DataFrame({"x": [i]})
        frame.to_csv(
            version_path(
                project / "data/08_reporting/ver/probe_summary.csv", f"2020-01-0{i}T00.00.00.000Z"
            )
        )
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2020-01-03T00.00.00.000Z") and "pair: ver" in out[0]
    assert out[0].endswith("saved: probe_summary")
    assert out[-1].endswith("saved: probe_summary, scores")  # V0: both, sorted
    assert len(out) == 3  # V0 is 2020-01-01 too: scores and probe_summary share it
    assert main(["show", "2020-01-01T00.00.00.000Z"]) == 0
    shown = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in shown) == ["probe_summary.csv", "scores.parquet"]
    removed = prune(find_versioned(project / "data"), keep=1, dry_run=True)
    assert [p.name for p in removed] == ["2020-01-01T00.00.00.000Z", "2020-01-02T00.00.00.000Z"]
    assert main(["prune", "--keep", "1"]) == 0
    summary = project / "data/08_reporting/ver/probe_summary.csv"
    assert [p.name for p in summary.iterdir()] == ["2020-01-03T00.00.00.000Z"]
    assert pd.read_csv(latest_path(summary))["x"].tolist() == [3]
    # the only one kept
    assert latest_path(project / "data/04_feature/ver/scores.parquet").parent.name == V0
    with pytest.raises(ValueError, match="at least 1"):
        prune(find_versioned(project / "data"), keep=0)
    with pytest.raises(FileNotFoundError, match="no file and no saved version"):
        latest_path(project / "data/nothing.csv")


def test_saved_names_are_sorted_stems_with_a_count_of_the_rest():
    from llm_behavior.versions import saved_names

    files = [Path(f"data/x/{n}/V/{n}") for n in ("f.csv", "b.png", "a.json", "e.csv", "d.csv")]
    files += [Path("data/y/a.json/V/a.json")]  # the same name in another pair: once
    assert saved_names(files) == "a, b, d, e (+1 more)"
    assert saved_names(files[:2]) == "b, f"


def test_list_into_a_closed_pipe_ends_quietly(tmp_path):
    import subprocess
    import sys

    for i in range(1, 4):
        pd.DataFrame({"x": [i]}).to_csv(
            version_path(tmp_path / "data/08_reporting/p/s.csv", f"2020-01-0{i}T00.00.00.000Z")
        )
    child = subprocess.Popen(
        [sys.executable, "-m", "llm_behavior.versions", "--data", str(tmp_path / "data"), "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # the reader is gone before the child writes (as `| head` does)
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0 and stderr == "", stderr
