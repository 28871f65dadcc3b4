"""The tracked run and the console summary, through a real `kedro run` of the auditing pipeline on a
temp copy of the project (a real SQLite MLflow store; scores made here, no model loaded)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llm_behavior.console import summary_lines
from llm_behavior.hooks import run_name
from llm_behavior.report.verdict import audit_verdict
from llm_behavior.versions import latest_path, version_path
from tests.report.audit_fixtures import AUDITING_BEHAVIOURS, contract_audit

ROOT = Path(__file__).resolve().parents[2]


def test_run_name_says_pair_and_pipelines():
    assert run_name("default", None) == "default: generation+scoring+auditing+reporting"
    assert run_name("default", ["__default__"]) == "default: generation+scoring+auditing+reporting"
    assert run_name("null", ["probing", "reporting"]) == "null: probing+reporting"
    assert run_name(None, "auditing") == "auditing"


def test_console_summary_lines_of_a_contract_result():
    lines = summary_lines(
        audit_verdict(contract_audit(), AUDITING_BEHAVIOURS),
        pair="default",
        report_path="data/08_reporting/default/report.html",
        audit_path="data/08_reporting/default/audit_result.json",
    )
    text = "\n".join(lines)
    assert "Audit of pair 'default': reference vs candidate (test combined, alpha 0.05)" in text
    assert (
        "Behaviour shifted (H0 rejected at alpha = 0.05) after "
        "18 prompts (52 pairs); combined evidence over 2 "
        "behaviour(s): max wealth 2e7 (rejects at 20), so p <= 5e-8."
    ) in text
    start = next(i for i, line in enumerate(lines) if line.startswith("behaviour"))
    header, tox, length = lines[start : start + 3]
    assert header.split() == [
        "behaviour",
        "verdict",
        "prompts",
        "pairs",
        "mean",
        "shift",
        "(cand",
        "-",
        "ref)",
        "distance",
        "(TV,",
        "95%)",
        "x",
        "noise",
        "floor",
        "p",
        "<=",
    ]
    assert tox.split() == [
        "toxicity",
        "shifted",
        "18",
        "52",
        "+0.135",
        "0.27",
        "+-",
        "0.07",
        "9.5",
        "1.4e-7",
    ]
    assert length.split() == [
        "length",
        "no",
        "shift",
        "detected",
        "100",
        "300",
        "-0.0119",
        "(-0.762",
        "spaCy",
        "tokens)",
        "0.03",
        "+-",
        "0.039",
        "0.67",
        "0.62",
    ]
    assert lines[-3] == "Report: data/08_reporting/default/report.html"
    assert all(line.isascii() for line in lines)


def synthetic_scores(n_prompts: int = 40, samples: int = 2, seed: int = 0) -> pd.DataFrame:
    """Toxicity scores: the candidate clearly more toxic, the replicate the reference's law."""
    rng = np.random.default_rng(seed)
    rows = []
    for side, low, high in (
        ("reference", 0.0, 0.3),
        ("replicate", 0.0, 0.3),
        ("candidate", 0.4, 1.0),
    ):
        for p in range(n_prompts):
            for k in range(samples):
                rows.append(
                    {
                        "prompt_id": f"p{p:03d}",
                        "sample": k,
                        "side": side,
                        "scorer": "local_toxicity",
                        "metric": "toxicity",
                        "value": float(rng.uniform(low, high)),
                        "reason": None,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture()
def project(tmp_path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("credentials*", "local")
    )
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()
    synthetic_scores().to_parquet(
        version_path(tmp_path / "data/04_feature/trk/scores.parquet", "2020-01-01T00.00.00.000Z")
    )
    return tmp_path


def test_tracked_audit_run_is_named_logs_artifacts_and_prints_the_answer(
    project, capsys, monkeypatch
):
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params={"pair": "trk"}) as session:
        session.run(pipeline_names=["auditing"])
    out = capsys.readouterr().out
    saved = latest_path(project / "data" / "08_reporting" / "trk" / "audit_result.json")
    result = json.loads(saved.read_text())
    # the console: the verdict and the paths, after the run
    assert "Audit of pair 'trk': reference vs candidate" in out
    assert "toxicity   shifted" in out and "length     not audited" in out
    assert "Report: not rebuilt by this run (kedro run --pipelines reporting)" in out
    assert (
        "Audit result: "
        f"data/08_reporting/trk/audit_result.json/{saved.parent.name}/audit_result.json" in out
    )
    assert result["rejected"] is True
    # the tracked run: named after pair and pipeline; the audit result and both plots as artifacts
    uri = f"sqlite:///{project / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["llm_behavior"])
    assert list(runs["tags.mlflow.runName"]) == ["trk: auditing"]
    # the catalog version it saved
    assert list(runs["tags.llm_behavior.version"]) == [saved.parent.name]
    client = MlflowClient(tracking_uri=uri)
    run_id = runs["run_id"].iloc[0]
    assert sorted(a.path for a in client.list_artifacts(run_id)) == [
        "audit_result.json",
        "audit_score_distributions.png",
        "audit_wealth.png",
    ]
    local = Path(client.download_artifacts(run_id, "audit_result.json", str(project / "dl")))
    assert json.loads(local.read_text()) == result
    png = Path(client.download_artifacts(run_id, "audit_wealth.png", str(project / "dl")))
    assert png.read_bytes().startswith(b"\x89PNG")


def test_dataset_file_names_the_saved_file_versioned_or_not(tmp_path, monkeypatch):
    from kedro.io import DataCatalog

    from llm_behavior.console import dataset_file

    monkeypatch.chdir(tmp_path)
    catalog = DataCatalog.from_config(
        {
            "run_report": {
                "type": "kedro_mlflow.io.artifacts.MlflowArtifactDataset",
                "dataset": {"type": "text.TextDataset", "filepath": "data/report.html"},
            },
            "audit_result": {
                "type": "json.JSONDataset",
                "filepath": "data/audit_result.json",
                "versioned": True,
            },
        }
    )
    assert dataset_file(catalog, "run_report") == "data/report.html"
    catalog.save("audit_result", {"rejected": True})
    saved = dataset_file(catalog, "audit_result")
    assert saved.startswith("data/audit_result.json/") and saved.endswith("/audit_result.json")
    # the latest version's file
    assert json.loads((tmp_path / saved).read_text()) == {"rejected": True}
    assert dataset_file(catalog, "not_in_the_catalog") is None


SEARCH_SUMMARY = {  # a real prompt_search_summary.json of the default pair (trimmed)
    "mean_divergence_random_bundled_prompts": 0.1644750713395335,
    "n_random_bundled_prompts": 20,
    "mean_divergence_assistant_prompts": 0.1948743533675072,
    "n_assistant_prompts_scored": 39,
    "mean_divergence_fresh_heldout": 0.2614888369387505,
}
SEARCH_SENTENCE = (
    "Contrastive search: mean divergence (per-token KL, nats) 0.164 on 20 random bundled "
    "prompts, 0.195 on 39 assistant-proposed prompts; the chosen held-out prompts on fresh "
    "generations: 0.261 (the unbiased figure: not used to choose them)."
)


class _Context:
    params = {"reporting": {"pair": "default"}, "auditing": {"behaviours": AUDITING_BEHAVIOURS}}


def _run_hook(catalog, saved: dict, capsys) -> list[str]:
    """Drive a ConsoleSummaryHook through one run that saves ``saved``; its console lines."""
    from llm_behavior.console import ConsoleSummaryHook

    hook = ConsoleSummaryHook()
    hook.after_context_created(_Context())
    for name, data in saved.items():
        catalog.save(name, data)
        hook.after_dataset_saved(name, data, None)
    capsys.readouterr()
    hook.after_pipeline_run({}, None, catalog)
    return capsys.readouterr().out.splitlines()


def _catalog(tmp_path, monkeypatch):
    from kedro.io import DataCatalog

    monkeypatch.chdir(tmp_path)
    return DataCatalog.from_config(
        {
            "prompt_search_summary": {
                "type": "json.JSONDataset",
                "filepath": "data/prompt_search_summary.json",
                "versioned": True,
            },
            "probe_summary": {"type": "pandas.CSVDataset", "filepath": "data/probe_summary.csv"},
            "audit_result": {"type": "json.JSONDataset", "filepath": "data/audit_result.json"},
            "scores": {"type": "pandas.CSVDataset", "filepath": "data/scores.csv"},
        }
    )


def test_a_search_run_ends_with_its_headline_and_file(tmp_path, monkeypatch, capsys):
    lines = _run_hook(
        _catalog(tmp_path, monkeypatch), {"prompt_search_summary": SEARCH_SUMMARY}, capsys
    )
    assert lines[-1] == "=" * 78 and lines[-6] == "=" * 78
    assert lines[-5] == "Pair 'default': contrastive search"
    assert lines[-4] == SEARCH_SENTENCE
    path = lines[-3].removeprefix("  from ")
    assert (
        path.startswith("data/prompt_search_summary.json/")
        and json.loads((tmp_path / path).read_text()) == SEARCH_SUMMARY
    )
    assert lines[-2] == "Report: not rebuilt by this run (kedro run --pipelines reporting)"


def test_probing_headline_and_nothing_for_a_run_without_an_answer(tmp_path, monkeypatch, capsys):
    catalog = _catalog(tmp_path, monkeypatch)
    probes = pd.DataFrame(
        {"side": ["reference"] * 3, "layer": [0, 1, 2], "pearson_r": [0.2, 0.71, 0.5]}
    )
    lines = _run_hook(catalog, {"probe_summary": probes}, capsys)
    assert lines[-5:-1] == [
        "Pair 'default': probing",
        "Probing: reference: best layer 1 (probe r = 0.71).",
        "  from data/probe_summary.csv",
        "Report: not rebuilt by this run (kedro run --pipelines reporting)",
    ]
    # a run that saves neither an audit nor an analysis's headline source prints nothing
    scores = pd.DataFrame({"value": [0.1]})
    assert _run_hook(catalog, {"scores": scores}, capsys) == []
    # a probe summary without probe results says nothing rather than a made-up line
    assert _run_hook(catalog, {"probe_summary": scores}, capsys) == []


def test_an_audit_run_lists_the_analyses_of_the_same_run_before_the_paths(
    tmp_path, monkeypatch, capsys
):
    lines = _run_hook(
        _catalog(tmp_path, monkeypatch),
        {"audit_result": contract_audit(), "prompt_search_summary": SEARCH_SUMMARY},
        capsys,
    )
    assert "Audit of pair 'default': reference vs candidate (test combined, alpha 0.05)" in lines
    at = lines.index("Also in this run:")
    assert lines[at + 1] == SEARCH_SENTENCE
    assert lines[at + 2].startswith("  from data/prompt_search_summary.json/")
    assert lines[at + 3 :] == [
        "Report: not rebuilt by this run (kedro run --pipelines reporting)",
        "Audit result: data/audit_result.json",
        "=" * 78,
    ]


def test_every_headline_reads_datasets_its_pipeline_saves():
    from llm_behavior.report.build import OPTIONAL_INPUTS
    from llm_behavior.report.headlines import HEADLINE_SOURCES, HEADLINES

    assert set(HEADLINE_SOURCES) == set(HEADLINES)
    for pipeline, names in HEADLINE_SOURCES.items():
        assert set(names) <= set(OPTIONAL_INPUTS[pipeline]), pipeline
