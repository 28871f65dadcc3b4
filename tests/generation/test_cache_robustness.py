"""The generation cache: corrupt chunks, durable writes, and more samples reusing the old ones."""

from __future__ import annotations

import logging
import os

import pandas as pd
import pytest
from tiny_models import make_tiny_llama

from llm_behavior.chunks import ChunkStore
from llm_behavior.generation import generate_continuations
from llm_behavior.models.spec import GenerationSettings
from tests.generation.test_generation_resume import PROMPTS, lm


@pytest.fixture(scope="module")
def model_tok():
    return make_tiny_llama(seed=2)


def test_a_truncated_chunk_is_named_set_aside_and_its_rows_regenerated(tmp_path, model_tok, caplog):
    store = ChunkStore(tmp_path)
    settings = GenerationSettings(max_new_tokens=4, num_samples=2, seed=3, batch_size=4)
    first = generate_continuations(
        lm(model_tok), PROMPTS, "reference", store, settings, chunk_prompts=2
    )
    chunks = sorted(tmp_path.rglob("*.parquet"))
    assert len(chunks) == 3
    broken = chunks[1]
    broken.write_bytes(broken.read_bytes()[:100])  # a power loss mid-write of an older format
    with pytest.raises(Exception, match="Parquet|parquet"):  # what pandas alone would say
        pd.read_parquet(broken)
    again = lm(model_tok)
    with caplog.at_level(logging.WARNING, logger="llm_behavior.chunks"):
        second = generate_continuations(
            again, PROMPTS, "reference", store, settings, chunk_prompts=2
        )
    assert str(broken) in caplog.text and "set aside" in caplog.text
    assert not broken.exists() and broken.with_name(broken.name + ".corrupt").is_file()
    assert again.generated == 2  # the two prompts of the broken chunk, no more
    pd.testing.assert_frame_equal(first, second)  # same texts: same keys and seeds
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="llm_behavior.chunks"):
        third = lm(model_tok)
        generate_continuations(third, PROMPTS, "reference", store, settings, chunk_prompts=2)
    assert third.generated == 0 and caplog.text == ""  # the set-aside file is never read again


def test_a_chunk_is_fsynced_before_its_rename(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b))[1]
    )
    path = ChunkStore(tmp_path).append("m", pd.DataFrame({"row_key": ["a"], "x": [1]}))
    assert events == ["fsync", "rename", "fsync"]  # the file's bytes, the rename, then the folder
    assert pd.read_parquet(path)["row_key"].tolist() == ["a"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_raising_num_samples_keeps_the_samples_already_generated(tmp_path, model_tok):
    store = ChunkStore(tmp_path)
    two = GenerationSettings(max_new_tokens=5, num_samples=2, seed=3, batch_size=4)
    four = GenerationSettings(max_new_tokens=5, num_samples=4, seed=3, batch_size=4)
    a = generate_continuations(lm(model_tok), PROMPTS, "reference", store, two, chunk_prompts=5)
    stored_before = store.read(next(p.name for p in tmp_path.iterdir()))
    b = generate_continuations(lm(model_tok), PROMPTS, "reference", store, four, chunk_prompts=5)
    assert len(a) == 10 and len(b) == 20
    # the first two samples of every prompt: the very rows stored by the first run
    old = b[b["sample"] < 2].reset_index(drop=True)
    cols = ["prompt_id", "sample", "text", "generation_key", "seed"]
    pd.testing.assert_frame_equal(old[cols], a[cols])
    stored_after = store.read(next(p.name for p in tmp_path.iterdir()))
    assert len(stored_after) == 20 and set(stored_before["row_key"]) < set(stored_after["row_key"])
    # each stored row is written once: the second run appended only samples 2 and 3
    second_chunk = sorted(tmp_path.rglob("*.parquet"))[-1]
    assert sorted(pd.read_parquet(second_chunk)["sample"].unique()) == [2, 3]
    # the new samples are those a fresh 4-sample run draws (a sample's key and seed ignore the
    # count)
    fresh = generate_continuations(
        lm(model_tok), PROMPTS, "reference", ChunkStore(tmp_path / "f"), four, chunk_prompts=5
    )
    pd.testing.assert_frame_equal(fresh[cols], b[cols])
    # lowering it again needs no generation at all
    back = lm(model_tok)
    c = generate_continuations(back, PROMPTS, "reference", store, two, chunk_prompts=5)
    assert back.generated == 0
    pd.testing.assert_frame_equal(c[cols], a[cols])
