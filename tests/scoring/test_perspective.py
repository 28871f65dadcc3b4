"""Perspective scorer against a local fake Perspective server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from llm_behavior.scoring import build_scorer
from llm_behavior.scoring.base import TRANSIENT_COLUMN
from llm_behavior.scoring.cache import ScoreCache, score_with_cache
from llm_behavior.scoring.perspective import PerspectiveKeyError

KEY = "test-key-0123456789-SECRET"


def canned_score(text: str, attribute: str) -> float:
    """Deterministic fake score, so the test knows what the scorer must report."""
    return round((len(text) % 10) / 10 + (0.01 if attribute == "INSULT" else 0.0), 4)


class FakePerspective:
    """Scripted server: per text a queue of statuses to return before succeeding."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, dict]]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "key": self.headers.get("X-Goog-Api-Key"), "body": body}
                )
                text = body["comment"]["text"]
                queue = fake.script.get(text, [])
                if queue:
                    status, headers = queue.pop(0)
                    payload = {"error": {"code": status, "message": f"scripted {status}"}}
                    return self._send(status, payload, headers)
                if self.headers.get("X-Goog-Api-Key") != KEY:
                    return self._send(
                        403, {"error": {"code": 403, "message": "API key not valid."}}
                    )
                if body.get("doNotStore") is not True:
                    return self._send(
                        400, {"error": {"code": 400, "message": "doNotStore missing"}}
                    )
                scores = {
                    a: {"summaryScore": {"value": canned_score(text, a), "type": "PROBABILITY"}}
                    for a in body["requestedAttributes"]
                }
                return self._send(200, {"attributeScores": scores, "languages": body["languages"]})

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1alpha1/comments:analyze"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeClock:
    """Monotonic clock that advances only when the scorer sleeps; records the sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def server():
    fake = FakePerspective()
    yield fake
    fake.close()


def make_scorer(server, monkeypatch, tmp_path, **params):
    monkeypatch.setenv("PERSPECTIVE_API_KEY", KEY)
    params = {"url": server.url, "credentials_file": str(tmp_path / "none.yml"), **params}
    scorer = build_scorer("perspective", **params)
    clock = FakeClock()
    scorer.clock, scorer.sleep = clock, clock.sleep
    return scorer, clock


def test_close_releases_the_client(server, monkeypatch, tmp_path):
    scorer, _ = make_scorer(server, monkeypatch, tmp_path)
    assert scorer.score(["hello"]).at[0, "reason"] is None
    client = scorer._client
    assert not client.is_closed
    scorer.close()
    assert client.is_closed


def test_request_body_scores_and_throttle(server, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    scorer, clock = make_scorer(
        server, monkeypatch, tmp_path, attributes=["TOXICITY", "insult"], qps=4, languages=["en"]
    )
    texts = ["you are an idiot", "", "nice weather", "go away"]
    wide = scorer.score(texts)
    assert scorer.metrics == ("toxicity", "insult")
    for i in (0, 2, 3):
        assert wide.at[i, "toxicity"] == canned_score(texts[i], "TOXICITY")
        assert wide.at[i, "insult"] == canned_score(texts[i], "INSULT")
        assert wide.at[i, "reason"] is None
    assert np.isnan(wide.at[1, "toxicity"]) and wide.at[1, "reason"] == "empty text"
    # the empty text is never sent; each request is well formed
    assert [r["body"]["comment"]["text"] for r in server.requests] == [texts[0], texts[2], texts[3]]
    for r in server.requests:
        assert r["path"] == "/v1alpha1/comments:analyze"  # key not in the URL
        assert r["key"] == KEY
        assert r["body"]["doNotStore"] is True
        assert r["body"]["requestedAttributes"] == {"TOXICITY": {}, "INSULT": {}}
        assert r["body"]["languages"] == ["en"]
    # 4 QPS: request starts 0.25 s apart
    assert clock.sleeps == [0.25, 0.25]
    assert (
        KEY not in caplog.text
        and KEY not in repr(scorer)
        and KEY not in json.dumps(scorer.fingerprint())
    )


def test_429_then_success_with_retry_after_and_backoff(server, monkeypatch, tmp_path):
    scorer, clock = make_scorer(server, monkeypatch, tmp_path, qps=1000, backoff_s=0.5)
    server.script["flaky"] = [(429, {"Retry-After": "3"}), (503, {})]
    wide = scorer.score(["flaky"])
    assert wide.at[0, "toxicity"] == canned_score("flaky", "TOXICITY")
    assert len(server.requests) == 3
    # Retry-After honoured, then exponential backoff 0.5 * 2**1
    assert clock.sleeps == [3.0, 1.0]


def test_retries_exhausted_is_transient_and_not_cached(server, monkeypatch, tmp_path):
    scorer, _ = make_scorer(server, monkeypatch, tmp_path, qps=1000, max_retries=2, backoff_s=0.1)
    server.script["down"] = [(503, {})] * 3
    server.script["bad"] = [(400, {})]
    wide = scorer.score(["down", "bad", "fine"])
    assert wide["reason"].iloc[0] == "Perspective API HTTP 503 after 2 retries"
    assert wide["reason"].iloc[1] == "Perspective API HTTP 400: scripted 400"
    assert wide[TRANSIENT_COLUMN].tolist() == [True, False, False]
    assert len(server.requests) == 3 + 1 + 1

    cache = ScoreCache(tmp_path / "cache.sqlite")
    server.requests.clear()
    server.script["down"] = [(503, {})] * 3
    score_with_cache(scorer, ["down", "fine"], None, cache, "cfg")
    out, n_new = score_with_cache(scorer, ["down", "fine"], None, cache, "cfg")
    # "down" failed transiently: asked again; "fine" came from the cache
    assert n_new == 1 and out.at[0, "toxicity"] == canned_score("down", "TOXICITY")
    assert len(cache) == 2


def test_key_from_credentials_file_and_missing_key(server, monkeypatch, tmp_path):
    monkeypatch.delenv("PERSPECTIVE_API_KEY", raising=False)
    with pytest.raises(PerspectiveKeyError, match="PERSPECTIVE_API_KEY.*credentials"):
        build_scorer("perspective", url=server.url, credentials_file=str(tmp_path / "missing.yml"))
    creds = tmp_path / "credentials.yml"
    creds.write_text(f"perspective:\n  api_key: {KEY}\n")
    scorer = build_scorer("perspective", url=server.url, credentials_file=str(creds), qps=1000)
    assert scorer.score(["hello"]).at[0, "toxicity"] == canned_score("hello", "TOXICITY")


def test_rejected_key_raises_without_leaking_it(server, monkeypatch, tmp_path):
    monkeypatch.setenv("PERSPECTIVE_API_KEY", "wrong-key-XYZ")
    scorer = build_scorer(
        "perspective", url=server.url, credentials_file=str(tmp_path / "n.yml"), qps=1000
    )
    with pytest.raises(PerspectiveKeyError, match="HTTP 403") as info:
        scorer.score(["hello"])
    assert "wrong-key-XYZ" not in str(info.value)
    with pytest.raises(ValueError, match="attributes"):
        build_scorer("perspective", url=server.url, attributes=["not an attribute"])
