"""The report's plain helpers behind the reporting nodes: metrics for the tracking store, the
behaviour the report ranks by, the run identity it names and the page from the pipelines'
outputs."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from llm_behavior.report.divergent import DIVERGENT_COLUMNS, behaviour_divergent_texts, scored_by
from llm_behavior.report.run_report import (
    REPORT_OUTPUTS,
    provenance,
    report_behaviour,
    run_report,
    version_provenance,
)
from llm_behavior.report.tracking import audit_metrics, log10_wealth
from tests.report.audit_fixtures import contract_audit

AUDIT = {
    "rejected": True,
    "prompts_used": 10,
    "pairs_used": 30,
    "final_wealth": 100.0,
    "max_wealth": 1000.0,
    "alpha": 0.05,
    "aa_audit": {"rejected": False, "max_wealth": 0.5},
    "behaviours": {
        "tox": {
            "rejected": True,
            "mean_shift": 0.2,
            "prompts_to_rejection": 8,
            "max_wealth": 1e4,
            "threshold": 40,
        },
        "len": {"rejected": False, "mean_shift": -0.1, "max_wealth": 0.0, "threshold": 40},
    },
    "noise_floor": {
        "tox": {
            "reference_vs_candidate": {"d_hat": 0.3},
            "candidate_distance_over_noise_floor": 3.0,
        },
        "len": "skipped: too few pairs",
    },
}


def test_audit_metrics_by_hand():
    expected = {
        "rejected": 1.0,
        "prompts_used": 10.0,
        "pairs_used": 30.0,
        "log10_final_wealth": 2.0,
        "log10_max_wealth": 3.0,
        "p_value_bound": 1e-3,  # 1 / max wealth 1000 (the result has no bound of its own)
        "aa_rejected": 0.0,
        "aa_log10_max_wealth": -0.3010299956639812,  # log10 0.5
        "tox.rejected": 1.0,
        "tox.mean_shift": 0.2,
        "tox.prompts_to_rejection": 8.0,
        "tox.p_value_bound": 2e-4,  # threshold 40 x alpha 0.05 / max wealth 1e4
        "tox.log10_max_wealth": 4.0,
        "tox.distance": 0.3,
        "tox.distance_over_noise_floor": 3.0,
        # len: wealth 0 gives no log10 and no bound; no pairs_to_rejection, no noise floor
        "len.rejected": 0.0,
        "len.mean_shift": -0.1,
    }
    got = audit_metrics(AUDIT)
    assert list(got) == list(expected)
    assert got == pytest.approx(expected, rel=1e-12)
    assert all(type(v) is float for v in got.values())


def test_audit_metrics_of_a_sparse_result():
    # the old key samples_used stands for pairs_used; nothing else is made up
    assert audit_metrics({"samples_used": 7}) == {"rejected": 0.0, "pairs_used": 7.0}
    assert log10_wealth(None) is None and log10_wealth(0) is None and log10_wealth(-3.0) is None
    assert log10_wealth("1e7") == pytest.approx(7.0)


def test_report_behaviour():
    auditing = {
        "behaviours": {
            "toxicity": {"metric": "toxicity"},
            "length": {"scorer": "tc", "metric": "n_tokens"},
        }
    }
    assert report_behaviour({"behaviour": None}, auditing) == ("toxicity", None, "toxicity")
    assert report_behaviour({"behaviour": "length"}, auditing) == ("length", "tc", "n_tokens")
    with pytest.raises(
        ValueError, match=r"'style' is not an auditing behaviour; known: \['length', 'toxicity'\]"
    ):
        report_behaviour({"behaviour": "style"}, auditing)
    with pytest.raises(ValueError, match="auditing.behaviours is empty"):
        report_behaviour({}, {"behaviours": {}})


def test_provenance_takes_the_first_value_found_per_key():
    audit = {"data_version": "", "run_id": "r1"}
    summary = {"data_version": "d2", "run_id": "r2", "code_version": None}
    assert provenance(audit, summary) == {"data version": "d2", "run": "r1"}
    assert provenance({}) == {}


def test_version_provenance_lists_inputs_of_earlier_versions():
    assert version_provenance(None) == {} and version_provenance({"save_version": None}) == {}
    info = {
        "save_version": "S",
        "loaded": {"scores": "A", "audit_result": "S", "generation_summary": "B"},
    }
    assert version_provenance(info) == {
        "catalog version": "S",
        "inputs of earlier versions": "scores A, generation_summary B",
    }
    assert version_provenance({"save_version": "S", "loaded": {"scores": "S"}}) == {
        "catalog version": "S"
    }


def outputs() -> dict:
    return {
        "generation_summary": {"run_id": "run-7", "sides": {}},
        "audit_result": contract_audit()
        | {"data_version": "data-3", "test_description": "average of e-processes: 1 mean"},
        "score_summary": pd.DataFrame(),
        "divergent": pd.DataFrame(columns=list(DIVERGENT_COLUMNS)),
        "wealth_png": None,
        "distributions_png": None,
        "artifacts": {},
    }


def test_run_report_builds_the_page_from_the_outputs():
    sides = {
        "reference": {"model": {"name": "ref-model", "generation": {"seed": 3}}, "seed_offset": 0},
        "candidate": {"model": {"name": "cand-model", "generation": {"seed": 3}}, "seed_offset": 0},
        "replicate": {"seed_offset": 1000},
    }
    auditing = {"behaviours": {"toxicity": {"metric": "toxicity"}}}
    page = run_report(
        outputs(),
        params={"pair": "tiny"},
        sides=sides,
        auditing=auditing,
        run_version={"save_version": "S1"},
    )
    assert "llm_behavior report: tiny" in page
    subtitle = re.search(r"Created \d{4}-\d\d-\d\d \d\d:\d\d UTC\.[^<]*", page).group(0)
    assert (
        "Data version: data-3." in subtitle
        and "Run: run-7." in subtitle
        and "Catalog version: S1." in subtitle
    )
    # the replicate is the reference model with its seed raised by the offset: 3 + 1000
    assert "seed=1003" in page and "seed=3" in page and "cand-model" in page
    assert page.count("ref-model") >= 2
    assert "Test <code>combined</code> (average of e-processes: 1 mean) at alpha" in page


def test_run_report_names_missing_and_unknown_outputs():
    given = {k: v for k, v in outputs().items() if k != "wealth_png"} | {"wealth": None}
    with pytest.raises(ValueError, match=r"missing \['wealth_png'\], unknown \['wealth'\]"):
        run_report(
            given, params={"pair": "p"}, sides={}, auditing={"behaviours": {"t": {"metric": "t"}}}
        )
    assert set(outputs()) == set(REPORT_OUTPUTS)


def long(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """(prompt_id, side, scorer:metric, value) rows as long scores, one sample each."""
    return pd.DataFrame(
        [
            {"prompt_id": p, "side": s, "sample": 0, "scorer": k.split(":")[0],
             "metric": k.split(":")[1], "value": v}
            for p, s, k, v in rows
        ]
    )  # fmt: skip


def test_scored_by_resolves_an_implicit_scorer():
    one = long([("a", "reference", "tox:toxicity", 0.1), ("a", "reference", "tc:n_tokens", 5.0)])
    assert scored_by(one, None, "toxicity") == "tox"  # the one scorer reporting the metric
    assert scored_by(one, "tox", "toxicity") == "tox"
    assert scored_by(one, "tc", "toxicity") is None  # that scorer has no such metric
    assert scored_by(one, None, "mtld") is None  # nobody scored it
    two = long(
        [("a", "reference", "tox:toxicity", 0.1), ("a", "reference", "perspective:toxicity", 0.2)]
    )
    assert scored_by(two, None, "toxicity") is None  # ambiguous: two scorers report it
    assert scored_by(two, "perspective", "toxicity") == "perspective"


def test_behaviour_divergent_texts_of_an_unscored_behaviour_is_empty(caplog):
    scores = long(
        [("a", "reference", "tox:toxicity", 0.1), ("a", "candidate", "tox:toxicity", 0.7)]
    )
    gens = {
        side: pd.DataFrame({"prompt_id": ["a"], "sample": [0], "prompt": ["p"], "text": [side]})
        for side in ("reference", "candidate")
    }
    out = behaviour_divergent_texts(
        scores, gens, behaviour="length", scorer=None, metric="n_tokens", n_prompts=3
    )
    assert out.empty and list(out.columns) == list(DIVERGENT_COLUMNS)
    assert "no n_tokens scores for behaviour 'length'" in caplog.text
    out = behaviour_divergent_texts(
        scores, gens, behaviour="toxicity", scorer=None, metric="toxicity", n_prompts=3
    )
    # the one prompt: reference 0.1, candidate 0.7, difference +0.6; each side's own text
    assert out["prompt_difference"].tolist() == pytest.approx([0.6, 0.6])
    assert sorted(zip(out["side"], out["text"])) == [
        ("candidate", "candidate"),
        ("reference", "reference"),
    ]
