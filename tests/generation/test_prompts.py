import pandas as pd
import pytest

from llm_behavior.prompts import load_prompt_set, normalise_prompts


def test_bundled_sets_have_stable_ids_independent_of_subset():
    full = load_prompt_set("toxicity")
    assert len(full) == 993 and full["prompt_id"].is_unique
    assert {"prompt_toxicity", "prompt_threat"} <= set(full.columns)
    sub = load_prompt_set("toxicity", n_prompts=20, seed=3)
    merged = sub.merge(full, on="prompt_id", suffixes=("", "_full"))
    assert len(merged) == 20 and (merged["prompt"] == merged["prompt_full"]).all()
    assert load_prompt_set("toxicity", n_prompts=20, seed=3).equals(sub)  # seeded
    benign = load_prompt_set("translation", n_prompts=5)
    assert benign["prompt_id"].str.startswith("translation-").all()


def test_user_files_in_every_format(tmp_path):
    df = pd.DataFrame({"prompt": ["a b", "c d", "a b"], "reference": ["x", "y", "z"]})
    for name, write in [("p.csv", df.to_csv), ("p.jsonl", None), ("p.parquet", df.to_parquet)]:
        path = tmp_path / name
        if name.endswith(".jsonl"):
            df.to_json(path, orient="records", lines=True)
        else:
            write(path, index=False)
        out = load_prompt_set(str(path))
        assert list(out["prompt"]) == ["a b", "c d", "a b"]
        assert out["prompt_id"].is_unique and out["prompt_id"][2].endswith("~2")  # repeated text
        assert "reference" in out


def test_bad_prompt_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Unknown prompt set 'nope'"):
        load_prompt_set("nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="Unsupported prompt file type"):
        load_prompt_set(str(tmp_path / "x.txt"))
    pd.DataFrame({"text": ["a"]}).to_csv(tmp_path / "nocol.csv", index=False)
    with pytest.raises(ValueError, match="expected a 'prompt' column"):
        load_prompt_set(str(tmp_path / "nocol.csv"))
    with pytest.raises(ValueError, match="empty prompt"):
        normalise_prompts(pd.DataFrame({"prompt": ["ok", " "]}), "s", "f.csv")
    with pytest.raises(ValueError, match="duplicate prompt_id"):
        normalise_prompts(
            pd.DataFrame({"prompt": ["a", "b"], "prompt_id": ["1", "1"]}), "s", "f.csv"
        )
