"""docs/extending.md's example scorer works as documented: by registered name and by import path,
through the scoring table, into an audited behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from llm_behavior.pipelines.auditing.tables import pair_behaviour_scores, parse_behaviours
from llm_behavior.scoring import Scorer, build_scorer, register_scorer
from llm_behavior.scoring.base import nan_frame, text_problem
from llm_behavior.scoring.run import build_scorers, score_tables


@register_scorer("exclamation_example")
class ExclamationScorer(Scorer):
    metrics = ("exclamation_rate",)
    version = "1"

    def __init__(self, per: int = 100):
        self.per = per

    def score(self, texts, references=None) -> pd.DataFrame:
        out = nan_frame(len(texts), self.metrics)
        for i, text in enumerate(texts):
            problem = text_problem(text)
            if problem:
                out.loc[i, "reason"] = problem
                continue
            out.loc[i, "exclamation_rate"] = self.per * text.count("!") / max(len(text), 1)
        return out


def test_example_scorer_by_name_and_by_import_path():
    texts = ["Wow!!", "calm", ""]
    by_name = build_scorer("exclamation_example").score(texts)
    by_path = build_scorer("tests.test_extending:ExclamationScorer", per=1000).score(texts)
    assert by_name["exclamation_rate"].iloc[:2].tolist() == pytest.approx([100 * 2 / 5, 0.0])
    assert by_path["exclamation_rate"].iloc[0] == pytest.approx(1000 * 2 / 5)
    assert (
        np.isnan(by_name["exclamation_rate"].iloc[2]) and by_name["reason"].iloc[2] == "empty text"
    )


def test_bad_import_paths_say_what_is_wrong():
    with pytest.raises(ValueError, match="cannot import 'Nope'"):
        build_scorer("tests.test_extending:Nope")
    with pytest.raises(ValueError, match="not a subclass"):
        build_scorer("tests.test_extending:pair_behaviour_scores")


def test_example_scorer_feeds_an_audited_behaviour():
    gens = {
        side: pd.DataFrame({"prompt_id": ["a", "b"], "sample": [0, 0], "text": texts})
        for side, texts in {"reference": ["fine.", "ok"], "candidate": ["no!!!", "yes!"]}.items()
    }
    scorers = build_scorers([{"name": "tests.test_extending:ExclamationScorer", "as": "excl"}])
    scores = score_tables(gens, scorers)
    assert set(scores["scorer"]) == {"excl"}
    behaviours = parse_behaviours(
        {
            "exclamations": {
                "scorer": "excl",
                "metric": "exclamation_rate",
                "transform": {"kind": "scale", "max": 100},
            }
        }
    )
    wide, report = pair_behaviour_scores(scores, behaviours)
    assert wide["exclamations:candidate"].tolist() == pytest.approx([3 / 5, 1 / 4])
    assert wide["exclamations:reference"].tolist() == pytest.approx([0.0, 0.0])
    assert report["behaviours"]["exclamations"]["scorer"] == "excl"
