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
    assert set(report) >= {"tests", "n_pairs", "n_dropped"}
    assert report["n_pairs"] == 1200 and report["n_dropped"] == 0
    (name, row), = report["tests"].items()
    assert row["folds"] == 1 and row["rejection_rate"] == 1.0
    assert isinstance(row["median_samples_to_rejection"], float)
    assert row["samples_to_rejection"] == int(row["median_samples_to_rejection"])


def test_folds_all_tests_parquet(tmp_path: Path, shifted, capsys) -> None:
    x, y = shifted
    path = tmp_path / "s.parquet"
    pd.DataFrame({"a": x, "b": y}).to_parquet(path)
    report = _json(capsys, ["audit", str(path), "--a", "a", "--b", "b", "--test", "mean", "--fold-size", "300",
                            "--format", "json", "--seed", "3"])
    row = report["tests"]["mean"]
    assert row["folds"] == 4 and 0.0 <= row["rejection_rate"] <= 1.0
    assert row["median_samples_to_rejection"] is None or 1 <= row["median_samples_to_rejection"] <= 300


@pytest.mark.parametrize("layout", ["records", "lists"])
def test_json_inputs_and_nan_counting(tmp_path: Path, layout: str, capsys) -> None:
    x = [0.1, 0.2, None, 0.4] * 10
    y = [0.3, 0.1, 0.2, None] * 10
    data = [{"p": a, "q": b} for a, b in zip(x, y, strict=True)] if layout == "records" else {"p": x, "q": y}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    report = _json(capsys, ["audit", str(path), "--a", "p", "--b", "q", "--test", "mean", "--format", "json"])
    assert report["n_pairs"] == 20 and report["n_dropped"] == 20


def test_text_table(tmp_path: Path, shifted, capsys) -> None:
    x, y = shifted
    path = tmp_path / "s.csv"
    pd.DataFrame({"a": x, "b": y}).to_csv(path, index=False)
    assert main(["audit", str(path), "--a", "a", "--b", "b", "--test", "mean"]) == 0
    out = capsys.readouterr().out
    assert "mean" in out and "rejection rate" in out


@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        ({"a": [0.1] * 20, "b": [0.1] * 19}, [], "unequal lengths"),
        ({"a": [0.1] * 20, "b": [1.5] + [0.1] * 19}, [], "outside [0, 1]"),
        ({"a": [0.1] * 5, "b": [0.1] * 5}, [], "too few pairs"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--eps", "-0.1"], "eps must be >= 0"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--alpha", "1.5"], "alpha must be in (0, 1)"),
        ({"a": [0.1] * 20, "b": [0.1] * 20}, ["--test", "magic"], "unknown test"),
        ({"a": [0.1] * 20, "c": [0.1] * 20}, [], "not found"),
        ({"a": ["x"] * 20, "b": [0.1] * 20}, [], "non-numeric"),
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
    report = _json(capsys, ["audit", str(path), "--a", "a", "--b", "b", "--clip", "--test", "mean", "--format", "json"])
    assert report["n_clipped"] == 1


def test_console_script_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"a": [0.1, 0.2] * 15, "b": [0.2, 0.1] * 15}))
    proc = subprocess.run([sys.executable, "-m", "llm_behavior.cli", "audit", str(path), "--a", "a", "--b", "b",
                           "--test", "mean", "--format", "json"], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["n_pairs"] == 30


def test_kedro_cli_still_loads() -> None:
    """Kedro imports llm_behavior.cli and needs a click group `cli` there."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "kedro", "registry", "list"], cwd=root, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "auditing" in proc.stdout
