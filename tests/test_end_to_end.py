"""End to end on the packaged SmolLM2: `kedro run` of
the default pipelines on a temp copy of the project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from llm_behavior.versions import latest_path

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"max_new_tokens": 12, "num_samples": 2, "batch_size": 8}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    shutil.copytree(
        ROOT / "conf", dst / "conf", ignore=shutil.ignore_patterns("credentials*", "local")
    )
    (dst / "conf" / "local").mkdir()
    (dst / "src").mkdir()  # the package itself is installed (editable) in the venv
    return dst


def run_pipeline(project: Path, pipeline: str | None, params: dict) -> None:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline] if pipeline else None)


def tracking_uri(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


def tracked_runs(project: Path) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(project))
    return mlflow.search_runs(experiment_names=["llm_behavior"])


@pytest.mark.slow
def test_default_pair_generates_scores_and_audits(project, capsys):
    params = {
        "pair": "e2e",
        "prompts": {"n_prompts": 4},
        "reference": {"model": {"generation": SMALL}},
        "candidate": {"model": {"generation": SMALL}},
        "auditing": {"min_pairs": 4},
    }
    run_pipeline(project, None, params)
    console = capsys.readouterr().out
    data = project / "data"
    gens = {
        s: pd.read_parquet(data / "03_primary" / "e2e" / f"{s}_generations.parquet")
        for s in ("reference", "candidate", "replicate")
    }
    for side, df in gens.items():
        assert len(df) == 8 and df["text"].str.len().gt(0).any(), side
        assert (df["n_new_tokens"] <= 12).all()
    # the replicate is the reference spec with another seed: same spec hash, other texts
    assert gens["replicate"]["spec_hash"].iloc[0] == gens["reference"]["spec_hash"].iloc[0]
    assert gens["candidate"]["spec_hash"].iloc[0] != gens["reference"]["spec_hash"].iloc[0]
    assert (gens["replicate"]["text"] != gens["reference"]["text"]).any()
    scores = pd.read_parquet(latest_path(data / "04_feature" / "e2e" / "scores.parquet"))
    tox = scores[(scores["metric"] == "toxicity") & (scores["scorer"] == "local_toxicity")]
    assert len(tox) == 24 and tox["value"].between(0, 1).all()
    report = data / "08_reporting" / "e2e"
    result = json.loads(latest_path(report / "audit_result.json").read_text())
    version = latest_path(report / "audit_result.json").parent.name  # the run's catalog version
    assert result["alpha"] == 0.05 and "toxicity" in json.dumps(result)
    assert latest_path(report / "audit_wealth.png").stat().st_size > 1000
    # the report, with the per-token log-ratios of the most divergent texts
    page = latest_path(report / "report.html").read_text()
    assert latest_path(report / "report.html").parent.name == version
    assert f"Catalog version: {version}." in page  # the report names the version it came from
    for anchor in ("run", "audit", "scores", "divergent"):
        assert f"<section id='{anchor}'" in page
    assert page.count("src='data:image/png;base64,") == 2 and "smollm2-instruct-rude" in page
    assert page.index("<section id='verdict'") < page.index("<section id='run'")  # the answer first
    # the console ends with the answer and the report's path
    assert "Audit of pair 'e2e': reference vs candidate" in console
    report_line = console.split("Report: ")[-1].splitlines()[0]  # the saved (latest) version's file
    assert report_line.endswith(f"08_reporting/e2e/report.html/{version}/report.html")
    assert Path(report_line).is_file() or (Path.cwd() / report_line).is_file()
    divergent = pd.read_parquet(latest_path(report / "report_token_divergence.parquet"))
    assert len(divergent) == 8 and set(divergent["side"]) == {"reference", "candidate"}
    shaded = divergent[divergent["token_log_ratio"].map(len) > 0]
    assert len(shaded) > 0 and all(
        len(p) == len(r) for p, r in zip(shaded["token_pieces"], shaded["token_log_ratio"])
    )
    # the tracking store: one run with the parameters, the audit metrics and the report
    runs = tracked_runs(project)
    assert len(runs) == 1
    run = runs.iloc[0]
    assert (
        run["params.auditing.alpha"] == "0.05"
        and run["params.reference.model.source"] == "smollm2-135m-instruct"
    )
    assert run["tags.mlflow.runName"] == "e2e: generation+scoring+auditing+reporting"
    assert run["tags.llm_behavior.version"] == version
    assert run["metrics.audit_metrics.pairs_used"] == result.get(
        "pairs_used", result.get("samples_used")
    )
    assert run["metrics.audit_metrics.rejected"] == float(result["rejected"])
    from mlflow.tracking import MlflowClient

    artifacts = [
        a.path
        for a in MlflowClient(tracking_uri=tracking_uri(project)).list_artifacts(run["run_id"])
    ]
    assert artifacts == [
        "audit_result.json",
        "audit_score_distributions.png",
        "audit_wealth.png",
        "report.html",
    ]
    # a second run reuses every generation: the cache holds exactly one chunk set per side;
    # with tracking switched off it records no run
    n_chunks = len(list((data / "02_intermediate" / "generation_cache").rglob("*.parquet")))
    run_pipeline(project, "generation", {**params, "tracking": {"enabled": False}})
    assert len(list((data / "02_intermediate" / "generation_cache").rglob("*.parquet"))) == n_chunks
    assert len(tracked_runs(project)) == 1
