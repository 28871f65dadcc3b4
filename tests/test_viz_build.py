"""`kedro viz build` works and exports every pipeline (lineage for the users)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_kedro_viz_build_exports_all_pipelines(tmp_path):
    for name in ("pyproject.toml", "conf"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    (tmp_path / "src").mkdir()  # the package is installed in the venv
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    kedro = Path(sys.executable).parent / "kedro"
    proc = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    main = json.loads((tmp_path / "build" / "api" / "main").read_text())
    pipelines = {p["id"] for p in main["pipelines"]}
    expected = {
        p.name
        for p in (ROOT / "src" / "llm_behavior" / "pipelines").iterdir()
        if (p / "pipeline.py").exists()
    }
    assert expected <= pipelines, expected - pipelines
    assert {"generation", "scoring", "__default__"} <= pipelines
    node_names = {n["name"] for n in main["nodes"]}
    assert any("generate_continuations" in n for n in node_names)
