"""The audit's answer in words (report.verdict), checked against hand-worked figures."""

from __future__ import annotations

import pytest

from llm_behavior.report.verdict import (
    audit_verdict,
    behaviour_unit,
    eps_meaning,
    number,
    p_value_bound,
)
from tests.report.audit_fixtures import AUDITING_BEHAVIOURS, contract_audit, old_audit


def test_number_formats_like_the_issue():
    assert number(1.4e7, 2) == "1.4e7" and number(7e-8, 1) == "7e-8" and number(5e-8, 2) == "5e-8"
    assert number(0.135) == "0.135" and number(-0.0119) == "-0.0119" and number(20.0) == "20"
    assert number(None) == "n/a" and number(float("nan")) == "n/a"


def test_contract_result_reads_as_the_issue_sentence():
    answer = audit_verdict(contract_audit(), AUDITING_BEHAVIOURS)
    tox, length = answer.behaviours
    # 95% two-sided interval: 1.959964 x 0.0357 = 0.06997 -> "0.07"
    assert tox.distance.half_width == pytest.approx(1.959964 * 0.0357, rel=1e-6)
    assert tox.sentence() == (
        "toxicity shifted: detected after 18 prompts (52 "
        "pairs); mean shift +0.135 (candidate \u2212 reference; "
        "95% CI +0.101 to +0.169): the candidate scores higher; "
        "distance 0.27 \u00b1 0.07 (total variation, 95%), "
        "9.5x the A/A noise floor; evidence: max wealth 1.4e7 (rejects at 40), so p \u2264 1.4e-7."
    )
    # length: spaCy tokens divided by 64, so -0.0119 reads as -0.0119 x 64 = -0.7616 tokens
    assert (
        length.unit.description
        == "spaCy tokens (text_characteristics n_tokens), divided by 64, clipped to [0, 1]"
    )
    assert length.unit.raw(-0.0119) == pytest.approx(-0.7616)
    assert (
        "mean shift -0.0119 (candidate \u2212 reference; 95% CI -0.03 to +0.006) = -0.762 spaCy "
        "tokens: the candidate scores lower"
        in length.sentence()
    )
    assert "(approx." not in length.sentence()  # the map clipped nothing
    assert length.sentence().startswith("length: no shift detected in 100 prompts (300 pairs)")
    assert "0.67x the A/A noise floor" in length.sentence() and "p \u2264 0.62" in length.sentence()
    assert answer.headline() == (
        "Behaviour shifted (H0 rejected at alpha = 0.05) after "
        "18 prompts (52 pairs); combined evidence over 2 "
        "behaviour(s): max wealth 2e7 (rejects at 20), so p \u2264 5e-8."
    )
    assert (
        answer.eps_text
        == "eps = 0: any change at all in the score distribution "
            "counts as a shift (fixed in parameters)"
    )
    assert "no shift, as it should be (max wealth 1.7)" in answer.aa_text()


def test_old_result_degrades_to_what_is_present():
    answer = audit_verdict(old_audit(), {"toxicity": AUDITING_BEHAVIOURS["toxicity"]})
    (tox,) = answer.behaviours
    assert (
        tox.prompts is None and tox.pairs == 42 and tox.distance is None and tox.noise_ratio is None
    )
    # the p-value bound follows from its definition: K / max wealth = threshold x alpha / max wealth
    assert tox.p_value_bound == pytest.approx(20.0 * 0.05 / 40.0)
    assert answer.p_value_bound == pytest.approx(1 / 40.0)
    sentence = tox.sentence()
    assert sentence.startswith("toxicity shifted: detected after 42 pairs (prompts n/a)")
    assert "distance n/a" in sentence and "CI" not in sentence
    assert "after 42 pairs;" in answer.headline()


def test_missing_keys_say_na_not_zero():
    answer = audit_verdict({"behaviours": {"toxicity": {}}}, {})
    (tox,) = answer.behaviours
    assert (
        tox.status == "n/a"
        and "mean shift n/a" in tox.sentence()
        and "p \u2264 n/a" in tox.sentence()
    )
    assert answer.headline().startswith("Verdict n/a")
    assert p_value_bound({"max_wealth": 0.0, "threshold": 20}, 0.05) is None


def test_skipped_behaviour_is_listed_with_its_reason():
    audit = old_audit()
    audit["pairing"] = {"behaviours": {"length": {"skipped": "no scores for metric 'n_tokens'"}}}
    names = [(b.name, b.status) for b in audit_verdict(audit, AUDITING_BEHAVIOURS).behaviours]
    assert names == [("toxicity", "shifted"), ("length", "not audited")]


def test_units_from_the_maps():
    # no map to undo
    assert behaviour_unit({}, {"metric": "toxicity", "scorer": "local_toxicity"}).raw(0.1) is None
    inverted = behaviour_unit(
        {},
        {
            "metric": "mtld",
            "scorer": "text_characteristics",
            "transform": {"kind": "range", "low": 10, "high": 110, "invert": True},
        },
    )
    # (1 - v): a higher mapped score is a lower MTLD
    assert inverted.raw(0.05) == pytest.approx(-5.0)
    assert inverted.description.endswith("mapped by (v - 10) / (110 - 10), then 1 - v")
    clipped = behaviour_unit({}, AUDITING_BEHAVIOURS["length"], n_clipped=4)
    assert (
        clipped.clipped
        and not behaviour_unit({}, AUDITING_BEHAVIOURS["length"], n_clipped=0).clipped
    )
    assert eps_meaning(0.02).startswith("eps = 0.02: changes up to 0.02 in total variation")


def test_unit_descriptions_name_the_scorer_once():
    assert behaviour_unit({}, AUDITING_BEHAVIOURS["toxicity"]).description == (
        "toxicity score in [0, 1] (local_toxicity toxicity), used as scored"
    )
    assert (
        behaviour_unit({}, {"metric": "toxicity"}).description
        == "toxicity score in [0, 1] (toxicity), used as scored"
    )
    assert behaviour_unit(
        {}, {"metric": "bleu", "transform": {"kind": "scale", "max": 100}}
    ).description == ("bleu, divided by 100")


def test_a_zero_noise_floor_is_said_not_hidden():
    """The A/A distance's 95% upper bound can be 0 (its estimate negative): the ratio is undefined,
    and the sentence and the console say the floor is 0 instead of n/a."""
    audit = contract_audit()
    floor = audit["noise_floor"]["toxicity"]
    floor["reference_vs_replicate"]["upper"] = 0.0
    floor["candidate_distance_over_noise_floor"] = None
    tox = audit_verdict(audit, AUDITING_BEHAVIOURS).behaviours[0]
    assert tox.noise_ratio is None and tox.noise_text() == "floor 0"
    assert "against an A/A noise floor of 0 (the A/A distance's 95% upper bound)" in tox.sentence()
    floor["reference_vs_replicate"]["upper"] = None
    assert audit_verdict(audit, AUDITING_BEHAVIOURS).behaviours[0].noise_text() == "n/a"
