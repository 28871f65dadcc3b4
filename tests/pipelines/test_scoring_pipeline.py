"""Scoring pipeline: nodes through SequentialRunner, and the project's catalog/parameters files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset
from profanity_check import predict_prob

import llm_behavior.scoring.run as run_module
from llm_behavior.pipelines.scoring import create_pipeline
from llm_behavior.schemas import SCORE_COLUMNS, SIDES
from llm_behavior.scoring.run import parse_specs
from llm_behavior.scoring.toxicity import ProfanityCheckScorer
from llm_behavior.versions import latest_path

PROJECT = Path(__file__).resolve().parents[2]


def generations(side: str) -> pd.DataFrame:
    texts = {
        "reference": ["You are an idiot.", "The weather is nice. We walked.", "", "Ein Hund."],
        "candidate": ["Shut up, moron!", "The weather is nice. We walked.", None, "A dog."],
        "replicate": ["You are an idiot.", "Rain again today.", "   ", "A cat."],
    }[side]
    return pd.DataFrame(
        {
            "prompt_id": ["p0", "p1", "p2", "p3"],
            "sample": [0, 0, 0, 1],
            "side": side,
            "prompt": ["x"] * 4,
            "text": texts,
            "reference": [None, None, None, "A dog."],
        }
    )


SCORERS = [
    {"name": "profanity_check"},
    {"name": "translation_quality"},
    {
        "name": "text_characteristics",
        "as": "style",
        "params": {
            "components": ["descriptive_stats", "readability"],
            "metrics": ["n_tokens", "rix", "mtld"],
        },
    },
]


def run(catalog_data: dict, folder: Path) -> dict:
    """Run the pipeline; ``scores`` is a parquet file (as in the project), the rest in memory."""
    catalog = DataCatalog({k: MemoryDataset(v) for k, v in catalog_data.items()})
    path = folder / f"scores_{len(list(folder.glob('scores_*')))}.parquet"
    catalog["scores"] = ParquetDataset(filepath=str(path))
    SequentialRunner().run(create_pipeline(), catalog)
    return {"scores": catalog.load("scores"), "score_summary": catalog.load("score_summary")}


def test_pipeline_scores_every_side_once_per_scorer(tmp_path, monkeypatch):
    builds = []
    real_build = run_module.build_scorer
    monkeypatch.setattr(
        run_module, "build_scorer", lambda name, **kw: builds.append(name) or real_build(name, **kw)
    )
    params = {"scorers": SCORERS, "cache": {"path": str(tmp_path / "cache.sqlite")}}
    data = {f"{s}.generations": generations(s) for s in SIDES} | {"params:scoring": params}
    out = run(data, tmp_path)
    scores, summary = out["scores"], out["score_summary"]

    assert builds == ["profanity_check", "translation_quality", "text_characteristics"]
    assert list(scores.columns) == list(SCORE_COLUMNS)
    n_metrics = 1 + 2 + 3
    assert len(scores) == len(SIDES) * 4 * n_metrics  # nothing dropped
    assert set(scores["scorer"]) == {"profanity_check", "translation_quality", "style"}
    nan = scores["value"].isna()
    assert scores.loc[nan, "reason"].notna().all() and scores.loc[~nan, "reason"].isna().all()

    tox = scores[scores["metric"] == "toxicity"].set_index(["side", "prompt_id"])["value"]
    for side in SIDES:
        texts = generations(side)["text"]
        ok = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        np.testing.assert_allclose(
            tox.loc[side].loc[[f"p{i}" for i in ok]].to_numpy(),
            predict_prob([texts[i] for i in ok]),
        )
    reasons = scores.set_index(["side", "prompt_id", "metric"])["reason"]
    assert reasons[("candidate", "p2", "toxicity")] == "missing text"
    assert reasons[("replicate", "p2", "rix")] == "whitespace-only text"
    assert reasons[("reference", "p0", "bleu")] == "no reference for this prompt"
    bleu = scores.set_index(["side", "prompt_id", "metric"])["value"]
    assert bleu[("candidate", "p3", "bleu")] == pytest.approx(100.0)

    # summary against a direct computation
    assert list(summary.columns) == ["side", "scorer", "metric", "mean", "std", "n", "n_missing"]
    assert len(summary) == len(SIDES) * n_metrics
    for row in summary.itertuples():
        values = scores.loc[
            (scores["side"] == row.side) & (scores["metric"] == row.metric), "value"
        ].to_numpy()
        ok = values[~np.isnan(values)]
        assert row.n == len(ok) and row.n_missing == len(values) - len(ok)
        if len(ok):
            assert row.mean == pytest.approx(ok.mean())
        if len(ok) > 1:
            assert row.std == pytest.approx(np.std(ok, ddof=1))


def test_rerun_with_added_scorer_computes_only_the_new_one(tmp_path, monkeypatch):
    params = {
        "scorers": [{"name": "profanity_check"}],
        "cache": {"path": str(tmp_path / "c.sqlite")},
    }
    data = {f"{s}.generations": generations(s) for s in SIDES}
    first = run(data | {"params:scoring": params}, tmp_path)["scores"]

    calls = []
    real_score = ProfanityCheckScorer.score
    monkeypatch.setattr(
        ProfanityCheckScorer,
        "score",
        lambda self, t, r=None: calls.append(t) or real_score(self, t, r),
    )
    params2 = {**params, "scorers": [{"name": "profanity_check"}, {"name": "translation_quality"}]}
    second = run(data | {"params:scoring": params2}, tmp_path)["scores"]
    assert calls == []  # profanity scores all came from the cache
    pd.testing.assert_frame_equal(
        second[second["scorer"] == "profanity_check"].reset_index(drop=True),
        first.reset_index(drop=True),
    )
    assert (second["scorer"] == "translation_quality").sum() == len(SIDES) * 4 * 2


def test_bad_inputs_are_named(tmp_path):
    params = {"scorers": [{"name": "profanity_check"}], "cache": {"enabled": False}}
    data = {f"{s}.generations": generations(s) for s in SIDES} | {"params:scoring": params}
    with pytest.raises(Exception, match="reference generations lack columns \\['text'\\]"):
        run(
            data | {"reference.generations": generations("reference").drop(columns="text")},
            tmp_path,
        )
    with pytest.raises(
        Exception, match="candidate generations hold rows of side\\(s\\) \\['reference'\\]"
    ):
        run(data | {"candidate.generations": generations("reference")}, tmp_path)
    dup = pd.concat([generations("replicate")] * 2)
    with pytest.raises(Exception, match="replicate generations repeat \\(prompt_id, sample\\)"):
        run(data | {"replicate.generations": dup}, tmp_path)
    with pytest.raises(ValueError, match="Unknown scorer 'vibes'.*available"):
        parse_specs([{"name": "vibes"}])
    with pytest.raises(ValueError, match="used twice"):
        parse_specs([{"name": "profanity_check"}, {"name": "profanity_check"}])
    with pytest.raises(ValueError, match="unknown parameters \\['colour'\\]"):
        run_module.build_scorers([{"name": "profanity_check", "params": {"colour": "red"}}])


def test_project_catalog_and_parameters_run_end_to_end(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    for name in (
        "globals.yml",
        "catalog_generation.yml",
        "catalog_scoring.yml",
        "parameters_scoring.yml",
    ):
        shutil.copy(PROJECT / "conf" / "base" / name, conf / "base" / name)
    # `scores` is declared by the auditing pipeline's catalog with this path and type
    (conf / "base" / "catalog_scores_stub.yml").write_text(
        yaml.safe_dump(
            {
                "scores": {
                    "type": "pandas.ParquetDataset",
                    "filepath": (
                        "data/04_feature/${runtime_params:pair, ${globals:default_pair}}"
                        "/scores.parquet"
                    ),
                }
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    loader = OmegaConfigLoader(
        str(conf), base_env="base", default_run_env="local", runtime_params={"pair": "tiny"}
    )
    params = loader["parameters"]["scoring"]
    parse_specs(params["scorers"])  # the shipped scorer list is valid
    catalog = DataCatalog.from_config(loader["catalog"])
    for side in SIDES:
        catalog.save(f"{side}.generations", generations(side))
        assert (tmp_path / "data/03_primary/tiny" / f"{side}_generations.parquet").is_file()
    catalog["params:scoring"] = {**params, "scorers": [{"name": "profanity_check"}]}
    SequentialRunner().run(create_pipeline(), catalog)

    scores = pd.read_parquet(tmp_path / "data/04_feature/tiny/scores.parquet")
    assert list(scores.columns) == list(SCORE_COLUMNS) and len(scores) == len(SIDES) * 4
    summary = pd.read_csv(latest_path(tmp_path / "data/08_reporting/tiny/score_summary.csv"))
    assert summary["n"].sum() + summary["n_missing"].sum() == len(scores)
    assert (tmp_path / params["cache"]["path"]).is_file()


def test_chunked_scoring_equals_one_call_and_empty_sides_are_fine():
    from llm_behavior.scoring.run import build_scorers, score_tables

    scorers = build_scorers([{"name": "profanity_check"}, {"name": "translation_quality"}])
    tables = {s: generations(s) for s in SIDES}
    whole = score_tables(tables, scorers, chunk_size=1000)
    chunked = score_tables(tables, scorers, chunk_size=3)
    pd.testing.assert_frame_equal(whole, chunked)
    empty = score_tables({"reference": generations("reference").iloc[:0]}, scorers)
    assert list(empty.columns) == list(SCORE_COLUMNS) and len(empty) == 0
    with pytest.raises(ValueError, match="chunk_size"):
        score_tables(tables, scorers, chunk_size=0)
