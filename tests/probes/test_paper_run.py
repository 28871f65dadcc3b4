"""The paper-sized probing run file: its prompt set (every toxic prompt plus as many benign ones)
and its parameters are what it says."""

from pathlib import Path

import yaml

from llm_behavior.probes.probing import ProbeSettings
from llm_behavior.prompts import load_prompt_set

RUN_FILE = Path(__file__).resolve().parents[2] / "runs" / "probe_paper.yml"


def test_a_list_of_prompt_sets_concatenates_seeded_draws():
    both = load_prompt_set(["toxicity", "translation"], n_prompts=40, seed=3)
    tox = load_prompt_set("toxicity", n_prompts=40, seed=3)
    ben = load_prompt_set("translation", n_prompts=40, seed=3)
    assert list(both["prompt_id"]) == list(tox["prompt_id"]) + list(ben["prompt_id"])
    assert both["prompt_toxicity"].iloc[:40].notna().all()
    assert both["prompt_toxicity"].iloc[40:].isna().all()  # a column of one set only


def test_probe_paper_run_file_draws_500_toxic_prompts_and_as_many_benign():
    run = yaml.safe_load(RUN_FILE.read_text())["run"]
    assert set(run["pipelines"].split(",")) == {"generation", "scoring", "probing"}
    params = run["params"]
    p = params["prompts"]
    prompts = load_prompt_set(p["source"], n_prompts=p["n_prompts"], seed=p["seed"])
    counts = prompts["prompt_set"].value_counts().to_dict()
    assert counts == {"toxicity": 500, "translation": 500}
    assert len(load_prompt_set("toxicity")) == 993  # a seeded 500 of the bundled toxic prompts
    for side in ("reference", "candidate"):  # one 20-token continuation per prompt
        assert params[side]["model"]["generation"] == {"num_samples": 1, "max_new_tokens": 20}
    assert [s["name"] for s in params["scoring"]["scorers"]] == ["local_toxicity"]
    ProbeSettings.from_dict((params.get("probing") or {}).get("probes"))
