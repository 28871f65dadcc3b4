"""A scorer that fails on every text logs one warning
with the count (instead of finishing silently)."""

from __future__ import annotations

import logging
import socket

import pandas as pd

from llm_behavior.scoring.base import build_scorer
from llm_behavior.scoring.run import BuiltScorer, score_tables, warn_failed_scorers


def closed_port() -> int:
    """A local port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def generations(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(n)],
            "sample": 0,
            "text": [f"text {i}" for i in range(n)],
        }
    )


def test_perspective_without_network_warns_once_with_the_count(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("PERSPECTIVE_API_KEY", "test-key")
    scorer = build_scorer(
        "perspective",
        url=f"http://127.0.0.1:{closed_port()}/analyze",
        qps=1000,
        max_retries=0,
        timeout_s=2,
        credentials_file=str(tmp_path / "none.yml"),
    )
    built = BuiltScorer("perspective", "perspective", {}, scorer, "h")
    caplog.set_level(logging.WARNING, logger="llm_behavior.scoring.run")
    scores = score_tables({"reference": generations(3), "candidate": generations(3)}, [built])
    assert scores["value"].isna().all() and len(scores) == 6
    failed = [r.getMessage() for r in caplog.records if "failed on every text" in r.getMessage()]
    assert len(failed) == 1, failed
    assert failed[0].startswith(
        "scorer 'perspective' failed on every text: 6 texts, all 6 scores NaN "
        "(sides: candidate, reference); most common reason: "
    )
    assert "test-key" not in failed[0]  # the key is never logged


def test_partial_failures_do_not_warn():
    scores = pd.DataFrame(
        {
            "prompt_id": ["a", "b"],
            "sample": 0,
            "side": "reference",
            "scorer": "s",
            "metric": "m",
            "value": [0.5, float("nan")],
            "reason": [None, "empty text"],
        }
    )
    assert warn_failed_scorers(scores) == []
    scores["value"] = float("nan")
    assert warn_failed_scorers(scores) == [
        "scorer 's' failed on every text: 2 texts, all 2 scores NaN (sides: reference); most "
        "common reason: empty text"
    ]
