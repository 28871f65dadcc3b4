"""Processes or threads that share the cache train local_toxicity one at a time."""

from __future__ import annotations

import threading
import time

from llm_behavior.scoring.local_toxicity import training as lt_model


def test_cache_lock_excludes_concurrent_holders(tmp_path):
    events: list[str] = []

    def hold(name: str) -> None:
        with lt_model._cache_lock(tmp_path):
            events.append(f"{name} in")
            time.sleep(0.2)
            events.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each holder leaves before the next enters: in/out strictly alternate
    assert len(events) == 6
    assert all(
        events[i].endswith("in") and events[i + 1] == events[i].replace("in", "out")
        for i in range(0, 6, 2)
    )


def test_prepare_returns_an_existing_model_without_taking_the_lock(tmp_path, monkeypatch):
    cfg = lt_model.TrainConfig()
    out = tmp_path / "local_toxicity" / cfg.model_id()
    out.mkdir(parents=True)
    (out / "model.json").write_text("{}")

    def no_lock(cache):
        raise AssertionError("the lock is only for training")

    monkeypatch.setattr(lt_model, "_cache_lock", no_lock)
    assert lt_model.prepare(tmp_path, cfg, download=False) == out
