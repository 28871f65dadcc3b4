"""The distributed (Dask) path gives the same scores, summary and audit as the pandas path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from kedro.io.core import generate_timestamp

from llm_behavior.scale.dask_scores import (
    score_generations_dask,
    select_behaviour_scores,
    summarise_scores_dask,
)
from llm_behavior.scoring.run import build_scorers, score_tables, summarise_scores
from llm_behavior.versions import latest_path, version_path

ROOT = Path(__file__).resolve().parents[2]
SCORERS = [{"name": "profanity_check"}]
KEYS = ["side", "prompt_id", "sample", "scorer", "metric"]
RUDE = ["you stupid idiot", "shut up, moron", "what a damn fool you are", "go to hell, loser"]
KIND = ["thank you, friend", "the weather is lovely", "have a nice day", "that is a good idea"]


def stacked_generations(n_prompts: int = 30, k: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for side in ("reference", "candidate", "replicate"):
        for p in range(n_prompts):
            for j in range(k):
                rude = rng.random() < (0.7 if side == "candidate" else 0.1)
                text = (RUDE if rude else KIND)[int(rng.integers(4))]
                rows.append(
                    {
                        "side": side,
                        "prompt_id": f"p{p:03d}",
                        "sample": j,
                        "prompt": f"prompt {p}",
                        "text": text,
                    }
                )
    rows[5]["text"] = ""  # an empty text: NaN + reason on both paths
    return pd.DataFrame(rows)


def pandas_scores(gens: pd.DataFrame) -> pd.DataFrame:
    tables = {s: g.drop(columns="side") for s, g in gens.groupby("side")}
    return score_tables(tables, build_scorers(SCORERS), cache_path=None)


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEYS).reset_index(drop=True)


def test_dask_scores_summary_and_selection_equal_pandas():
    gens = stacked_generations()
    expected = pandas_scores(gens)
    scores = score_generations_dask(dd.from_pandas(gens, npartitions=4), SCORERS)
    got = scores.compute()
    a, b = sort(got), sort(expected)
    assert len(a) == len(b) == len(gens)
    assert (a[KEYS].astype(str).to_numpy() == b[KEYS].astype(str).to_numpy()).all()
    assert np.allclose(a["value"], b["value"], equal_nan=True)
    assert a["value"].isna().sum() == 1 and a["reason"].notna().sum() == 1
    summary = summarise_scores_dask(scores)
    ref = summarise_scores(expected)
    assert summary[["side", "scorer", "metric"]].equals(ref[["side", "scorer", "metric"]])
    assert np.allclose(summary[["mean", "std"]], ref[["mean", "std"]])
    assert (
        summary["n"].tolist() == ref["n"].tolist()
        and summary["n_missing"].tolist() == ref["n_missing"].tolist()
    )
    selected = select_behaviour_scores(
        scores, {"tox": {"scorer": "profanity_check", "metric": "toxicity"}}
    )
    assert len(selected) == len(expected[expected.metric == "toxicity"])
    with pytest.raises(ValueError, match="no behaviours"):
        select_behaviour_scores(scores, {})


def test_unknown_scorer_fails_on_the_client():
    gens = dd.from_pandas(stacked_generations(2, 1), npartitions=1)
    with pytest.raises(Exception, match="nope"):
        score_generations_dask(gens, [{"name": "nope"}])


@pytest.fixture()
def project(tmp_path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("credentials*", "local")
    )
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()
    return tmp_path


def run(project: Path, pipeline: str, params: dict) -> dict:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline])
    return json.loads(
        latest_path(project / "data" / "08_reporting" / "dist" / "audit_result.json").read_text()
    )


def test_distributed_pipeline_on_a_local_cluster_matches_the_pandas_audit(project):
    gens = stacked_generations(40, 2)
    primary = project / "data" / "03_primary" / "dist"
    primary.mkdir(parents=True)
    for side, g in gens.groupby("side"):
        g.to_parquet(primary / f"{side}_generations.parquet", index=False)
    params = {
        "pair": "dist",
        "tracking": {"enabled": False},
        "scoring": {"scorers": SCORERS},
        "auditing": {
            "min_pairs": 4,
            "behaviours": {"toxicity": {"scorer": "profanity_check", "required": True}},
        },
        "dask": {"scheduler": "local", "n_workers": 2, "processes": False},
    }
    distributed = run(project, "distributed", params)
    parts = list(
        (project / "data" / "04_feature" / "dist" / "scores_partitioned").glob("*.parquet")
    )
    assert len(parts) >= 1
    # the same audit from the pandas scores table
    feature = project / "data" / "04_feature" / "dist"
    pandas_scores(gens).to_parquet(
        version_path(feature / "scores.parquet", generate_timestamp()), index=False
    )
    local = run(project, "auditing", params)
    assert distributed["rejected"] and local["rejected"]
    assert distributed["samples_used"] == local["samples_used"]
    assert distributed["final_wealth"] == pytest.approx(local["final_wealth"], rel=1e-9)
    tox = distributed["behaviours"]["toxicity"]
    # the empty text: NaN, counted, not hidden
    assert tox["n_pairs"] == 79 and tox["n_dropped"] == 1
    summary = pd.read_csv(
        latest_path(project / "data" / "08_reporting" / "dist" / "score_summary.csv")
    )
    assert set(summary["side"]) == {"reference", "candidate", "replicate"}
