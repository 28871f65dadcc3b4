"""The `llm-behavior audit` command: formats, JSON schema, folds, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llm_behavior.audit.simulate import ToxicityShape, paired_scores
from llm_behavior.cli import main


@pytest.fixture(scope="module")
def shifted() -> tuple[np.ndarray, np.ndarray]:
    shape = ToxicityShape()
    return paired_scores(shape, shape.with_mean_shift(0.1), (1200,), np.random.default_rng(0))


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    return json.loads(out)


def test_csv_single_run_json(tmp_path: Path, shifted, capsys) -> None:
    x, y = shifted
    path = tmp_path / "s.csv"
    pd.DataFrame({"ref": x, "cand": y}).to_csv(path, index=False)
    report = _json(capsys, ["audit", str(path), "--a", "ref", "--b", "cand", "--format", "json"])
    assert set(report) >= {"tests", "n_pairs", "n_dropped", "seed", "shuffled", "mean_shift"}
    assert report["n_pairs"] == 1200 and report["n_dropped"] == 0 and report["n_prompts"] == 1200
    assert report["shuffled"] is True and report["seed"] == 0
    assert report["mean_shift"] == pytest.approx(np.mean(y) - np.mean(x))  # candidate - reference
    ((name, row),) = report["tests"].items()
    assert name == "logopt" and row["rejected"] is True  # the default test
    assert row["samples_to_rejection"] == row["pairs_to_rejection"] == row["prompts_to_rejection"]
    # the run is the library's run on the seeded shuffle of the units
    from llm_behavior.audit import run_test

    order = np.random.default_rng(0).permutation(1200)
    direct = run_test(x[order], y[order], "logopt")
    assert row["pairs_to_rejection"] == direct.pairs_to_rejection[0]


def test_group_column_makes_one_unit_per_group(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    shape = ToxicityShape()
    x, y = paired_scores(shape, shape.with_mean_shift(0.15), (600,), rng)
    groups = np.repeat([f"q{i}" for i in range(200)], 3)
    path = tmp_path / "g.csv"
    pd.DataFrame({"ref": x, "cand": y, "prompt": groups}).to_csv(path, index=False)
    report = _json(
        capsys,
        [
            "audit",
            str(path),
            "--a",
            "ref",
            "--b",
            "cand",
            "--group",
            "prompt",
            "--test",
            "mean",
            "--no-shuffle",
            "--format",
            "json",
        ],
    )
    row = report["tests"]["mean"]
    assert report["n_prompts"] == 200 and report["n_pairs"] == 600 and report["shuffled"] is False
    from llm_behavior.audit import run_test

    direct = run_test(x, y, "mean", sizes=np.full(200, 3))
    assert row["prompts_to_rejection"] == direct.prompts_to_rejection[0]
    assert row["pairs_to_rejection"] == 3 * row["prompts_to_rejection"]
    folds = _json(
        capsys,
        [
            "audit",
            str(path),
            "--a",
            "ref",
            "--b",
            "cand",
            "--group",
            "prompt",
            "--test",
            "mean",
            "--fold-size",
            "50",
            "--format",
            "json",
        ],
    )
    assert folds["tests"]["mean"]["folds"] == 4 and folds["fold_unit"] == "units"


def test_reads_the_pipelines_long_scores_table(tmp_path: Path, capsys) -> None:
    from tests.audit.fakes import fake_scores

    scores = fake_scores(n_prompts=50, n_samples=3, shift=0.3)
    path = tmp_path / "scores.parquet"
    scores.to_parquet(path)
    report = _json(
        capsys, ["audit", str(path), "--metric", "toxicity", "--test", "mean", "--format", "json"]
    )
    assert report["source"] == "long scores (local_toxicity/toxicity)"
    assert (
        report["n_prompts"] == 50
        and report["n_pairs"] == 150
        and report["tests"]["mean"]["rejected"]
    )
    ref = scores[(scores.metric == "toxicity") & (scores.side == "reference")]["value"].mean()
    cand = scores[(scores.metric == "toxicity") & (scores.side == "candidate")]["value"].mean()
    assert report["mean_shift"] == pytest.approx(cand - ref)
    aa = _json(
        capsys,
        [
            "audit",
            str(path),
            "--metric",
            "toxicity",
            "--b",
            "replicate",
            "--test",
            "mean",
            "--format",
            "json",
        ],
    )
    assert aa["candidate"] == "replicate" and aa["n_pairs"] == 150
    assert main(["audit", str(path), "--test", "mean"]) == 2  # two metrics: name one
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "several (scorer, metric)" in err and "n_tokens" in err


def test_reads_the_latest_version_of_a_versioned_scores_folder(tmp_path: Path, capsys) -> None:
    """The catalog saves scores.parquet/<version>/scores.parquet:
    the folder reads as its latest version."""
    from llm_behavior.versions import version_path
    from tests.audit.fakes import fake_scores

    folder = tmp_path / "scores.parquet"
    fake_scores(n_prompts=20, n_samples=2, shift=0.0).to_parquet(
        version_path(folder, "2026-12-01T10.00.00.000Z")
    )
    newest = fake_scores(n_prompts=30, n_samples=3, shift=0.3)
    newest.to_parquet(version_path(folder, "2026-12-02T10.00.00.000Z"))
    assert (
        main(["audit", str(folder), "--metric", "toxicity", "--test", "mean", "--format", "json"])
        == 0
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["n_prompts"] == 30 and report["n_pairs"] == 90
    assert (
        "reading the latest saved version" in captured.err
        and "2026-12-02T10.00.00.000Z" in captured.err
    )
    empty = tmp_path / "empty.parquet"
    empty.mkdir()
    assert main(["audit", str(empty), "--metric", "toxicity"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no file and no saved version" in err


def test_text_output_is_a_verdict_sentence(tmp_path: Path, shifted, capsys) -> None:
    x, y = shifted
    path = tmp_path / "s.csv"
    pd.DataFrame({"a": x, "b": y}).to_csv(path, index=False)
    assert main(["audit", str(path), "--a", "a", "--b", "b", "--test", "mean"]) == 0
    out = capsys.readouterr().out
    assert "mean: behaviour shifted (H0: same score law rejected at alpha 0.05) after" in out
    assert "seed 0" in out and "mean shift (candidate - reference) +" in out
    assert main(["audit", str(path), "--a", "a", "--b", "b", "--test", "mean", "--no-shuffle"]) == 0
    assert "FILE order (--no-shuffle)" in capsys.readouterr().out


def test_help_names_the_default_test(capsys) -> None:
    assert main(["audit", "--help"]) == 0
    assert "(default: logopt)" in capsys.readouterr().out


def test_folds_all_tests_parquet(tmp_path: Path, shifted, capsys) -> None:
    x, y = shifted
    path = tmp_path / "s.parquet"
    pd.DataFrame({"a": x, "b": y}).to_parquet(path)
    report = _json(
        capsys,
        [
            "audit",
            str(path),
            "--a",
            "a",
            "--b",
            "b",
            "--test",
            "mean",
            "--fold-size",
            "300",
            "--format",
            "json",
            "--seed",
            "3",
        ],
    )
    row = report["tests"]["mean"]
    assert row["folds"] == 4 and 0.0 <= row["rejection_rate"] <= 1.0
    assert (
        row["median_samples_to_rejection"] is None or 1 <= row["median_samples_to_rejection"] <= 300
    )


@pytest.mark.parametrize("layout", ["records", "lists"])
def test_json_inputs_and_nan_counting(tmp_path: Path, layout: str, capsys) -> None:
    x = [0.1, 0.2, None, 0.4] * 10
    y = [0.3, 0.1, 0.2, None] * 10
    data = (
        [{"p": a, "q": b} for a, b in zip(x, y, strict=True)]
        if layout == "records"
        else {"p": x, "q": y}
    )
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    report = _json(
        capsys, ["audit", str(path), "--a", "p", "--b", "q", "--test", "mean", "--format", "json"]
    )
    assert report["n_pairs"] == 20 and report["n_dropped"] == 20


def test_text_table(tmp_path: Path, shifted, capsys) -> None:
    x, y = shifted
    path = tmp_path / "s.csv"
    pd.DataFrame({"a": x, "b": y}).to_csv(path, index=False)
    assert (
        main(["audit", str(path), "--a", "a", "--b", "b", "--test", "mean", "--fold-size", "400"])
        == 0
    )
    out = capsys.readouterr().out
    assert "mean" in out and "rejection rate" in out and "median pairs to rej." in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-folds", "0"], "--max-folds must be >= 1, got 0"),
        (["--min-pairs", "0"], "--min-pairs must be >= 1, got 0"),
        (["--fold-size", "1"], "--fold-size must be >= 2, got 1"),
        (["--fold-size", "abc"], "--fold-size must be an integer"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--alpha", "0"], "--alpha must be in (0, 1)"),
        (["--eps", "nan"], "--eps must be in [0, 1)"),
    ],
)
def test_bad_numeric_arguments_give_one_line(
    tmp_path: Path, extra: list[str], message: str, capsys
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"a": [0.1] * 20, "b": [0.2] * 20}))
    assert main(["audit", str(path), "--a", "a", "--b", "b", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": [[0.1, 0.2]] * 10, "b": [0.1] * 10}, "'a'[0] must be a number or null"),
        ({"a": "0.10.20.30.4", "b": [0.1] * 12}, "'a' must be a list of numbers, got str"),
        ({"a": [True] * 20, "b": [0.1] * 20}, "'a'[0] must be a number or null, got true"),
        ({"a": ["0.5"] * 20, "b": [0.1] * 20}, "'a'[0] must be a number or null"),
        ([{"a": 0.1, "b": False}] * 20, "column 'b'[0] must be a number or null"),
        ([[0.1, 0.2]] * 20, "JSON must be a non-empty list of records or an object of lists"),
    ],
)
def test_json_of_the_wrong_shape_is_refused(tmp_path: Path, data, message: str, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["audit", str(path), "--a", "a", "--b", "b"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        ({"a": [0.1] * 20, "b": [0.1] * 19}, [], "unequal lengths"),
        ({"a": [0.1] * 20, "b": [1.5] + [0.1] * 19}, [], "outside [0, 1]"),
        ({"a": [0.1] * 5, "b": [0.1] * 5}, [], "too few pairs"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--eps", "-0.1"], "--eps must be in [0, 1)"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--alpha", "1.5"], "--alpha must be in (0, 1)"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--test", "magic"], "unknown test"),
        ({"a": [0.1] * 20, "c": [0.1] * 20}, [], "not found"),
        ({"a": ["x"] * 20, "b": [0.1] * 20}, [], "must be a number or null"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--fold-size", "50"], "exceeds"),
    ],
)
def test_bad_input_errors(tmp_path: Path, data, extra, message, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["audit", str(path), "--a", "a", "--b", "b", *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_clip_flag_allows_out_of_range(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"a": [0.1] * 20, "b": [1.5] + [0.1] * 19}))
    report = _json(
        capsys,
        [
            "audit",
            str(path),
            "--a",
            "a",
            "--b",
            "b",
            "--clip",
            "--test",
            "mean",
            "--format",
            "json",
        ],
    )
    assert report["n_clipped"] == 1


def test_console_script_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"a": [0.1, 0.2] * 15, "b": [0.2, 0.1] * 15}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_behavior.cli",
            "audit",
            str(path),
            "--a",
            "a",
            "--b",
            "b",
            "--test",
            "mean",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout)["n_pairs"] == 30


def test_kedro_cli_still_loads() -> None:
    """Kedro imports llm_behavior.cli and needs a click group `cli` there."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "kedro", "registry", "list"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "auditing" in proc.stdout


def test_a_metric_from_several_scorers_lists_only_the_matches(tmp_path: Path, capsys) -> None:
    from tests.audit.fakes import fake_scores

    scores = fake_scores(n_prompts=10, n_samples=2, shift=0.1)
    other = scores[scores["metric"] == "toxicity"].assign(scorer="profanity_check")
    path = tmp_path / "scores.parquet"
    pd.concat([scores, other], ignore_index=True).to_parquet(path)
    assert main(["audit", str(path), "--metric", "toxicity"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "several (scorer, metric)" in err
    assert "('profanity_check', 'toxicity')" in err and "n_tokens" not in err


def test_an_unknown_scorer_or_metric_is_named_with_what_the_table_has(
    tmp_path: Path, capsys
) -> None:
    from tests.audit.fakes import fake_scores

    path = tmp_path / "scores.parquet"
    fake_scores(n_prompts=10, n_samples=2, shift=0.1).to_parquet(path)
    # a metric's name given as the scorer: said so, with the flag to use
    assert main(["audit", str(path), "--scorer", "toxicity"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no scorer 'toxicity' ('toxicity' is a metric: --metric toxicity)" in err
    assert "scorers: ['local_toxicity', 'text_characteristics']" in err
    assert main(["audit", str(path), "--metric", "toxicty"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no metric 'toxicty'; metrics: " in err and "'n_tokens'" in err
    # both known, but not together: the pairs the table has; no "None" for an option not given
    assert (
        main(["audit", str(path), "--scorer", "text_characteristics", "--metric", "toxicity"]) == 2
    )
    err = capsys.readouterr().err
    assert "no (scorer, metric) matches --scorer text_characteristics --metric toxicity" in err
    assert "('local_toxicity', 'toxicity')" in err and "None" not in err
