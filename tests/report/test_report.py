"""The run report's pieces: divergent-text selection, per-token log-ratios, datasets, metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import DatasetError

from llm_behavior.datasets.report import FigureDataset, OptionalDataset
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.pipelines.reporting.nodes import select_divergent_texts, tracking_metrics
from llm_behavior.report.build import OPTIONAL_NAMES
from llm_behavior.report.divergent import token_log_ratios, top_divergent_texts
from llm_behavior.report.html import diverging_colour, fmt, table, token_spans
from tests.tiny_models import make_tiny_llama

torch.set_num_threads(1)


def long_scores(values: dict[tuple[str, str, int], float]) -> pd.DataFrame:
    rows = [
        {
            "prompt_id": p,
            "side": s,
            "sample": k,
            "scorer": "tox",
            "metric": "toxicity",
            "value": v,
            "reason": None,
        }
        for (p, s, k), v in values.items()
    ]
    return pd.DataFrame(rows)


def generations(side: str, prompts: list[str], k: int) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"prompt_id": p, "sample": j, "prompt": f"prompt {p}", "text": f"{side} {p} {j}"}
            for p in prompts
            for j in range(k)
        ]
    )


def test_top_divergent_texts_ranks_by_absolute_mean_difference():
    # means (ref, cand): a (0.1, 0.9) diff +0.8; b (0.5, 0.4) -0.1; c (0.9, 0.2) -0.7; d only NaN on
    # cand
    v = {
        ("a", "reference", 0): 0.0,
        ("a", "reference", 1): 0.2,
        ("a", "candidate", 0): 0.8,
        ("a", "candidate", 1): 1.0,
        ("b", "reference", 0): 0.5,
        ("b", "reference", 1): 0.5,
        ("b", "candidate", 0): 0.3,
        ("b", "candidate", 1): 0.5,
        ("c", "reference", 0): 1.0,
        ("c", "reference", 1): 0.8,
        ("c", "candidate", 0): 0.1,
        ("c", "candidate", 1): 0.3,
        ("d", "reference", 0): 0.3,
        ("d", "candidate", 0): float("nan"),
        ("a", "replicate", 0): 0.9,  # other sides are ignored
    }
    gens = {s: generations(s, list("abcd"), 2) for s in ("reference", "candidate")}
    out = top_divergent_texts(long_scores(v), gens, scorer="tox", metric="toxicity", n_prompts=2)
    assert list(out["prompt_id"]) == ["a", "a", "c", "c"]
    assert list(out["rank"]) == [1, 1, 2, 2]
    assert out["prompt_difference"].tolist() == pytest.approx([0.8, 0.8, -0.7, -0.7])
    # each side's highest-scoring sample, and its own text
    a_ref = out[(out.prompt_id == "a") & (out.side == "reference")].iloc[0]
    assert (
        a_ref["sample"] == 1
        and a_ref["score"] == pytest.approx(0.2)
        and a_ref["text"] == "reference a 1"
    )
    c_cand = out[(out.prompt_id == "c") & (out.side == "candidate")].iloc[0]
    assert c_cand["sample"] == 1 and c_cand["text"] == "candidate c 1"


def test_top_divergent_texts_errors_name_the_problem():
    scores = long_scores({("a", "reference", 0): 0.1, ("a", "candidate", 0): 0.5})
    with pytest.raises(ValueError, match="no scores for scorer 'other'"):
        top_divergent_texts(scores, {}, scorer="other", metric="toxicity")
    gens = {
        "reference": generations("reference", ["a"], 1),
        "candidate": generations("candidate", ["b"], 1),
    }
    with pytest.raises(ValueError, match="candidate generations lack prompt 'a'"):
        top_divergent_texts(scores, gens, scorer="tox", metric="toxicity")


def direct_token_logprobs(model, tok, context: str, text: str) -> np.ndarray:
    """log p(text tokens | context) from one full forward pass of the whole sequence (the context's
    trailing whitespace moved onto the text, as lm-evaluation-harness and the backend do)."""
    stripped = context.rstrip()
    context, text = stripped, context[len(stripped) :] + text
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([whole])).logits[0].double(), -1)
    return np.array([float(logp[t - 1, whole[t]]) for t in range(len(ctx), len(whole))])


def test_token_log_ratios_equal_direct_log_probability_differences():
    m_ref, tok = make_tiny_llama(seed=1)
    m_cand, _ = make_tiny_llama(seed=2)
    ref = TransformersLM(m_ref, tok, ModelSpec(source="r", name="r"))
    cand = TransformersLM(m_cand, tok, ModelSpec(source="c", name="c", system_prompt="be rude"))
    texts = pd.DataFrame(
        {
            "prompt": ["the quick brown fox", "shut up"],
            "text": [" jumps over the lazy dog", "   "],
            "side": ["candidate"] * 2,
        }
    )
    out = token_log_ratios(texts, ref, cand)
    expected = direct_token_logprobs(
        m_cand, tok, cand.format_prompt(texts.prompt[0]), texts.text[0]
    ) - direct_token_logprobs(m_ref, tok, ref.format_prompt(texts.prompt[0]), texts.text[0])
    assert np.allclose(out["token_log_ratio"][0], expected, atol=1e-4)
    # the template's newline is scored with it
    assert "".join(out["token_pieces"][0]) == "\n" + texts.text[0]
    assert out["mean_log_ratio"][0] == pytest.approx(expected.mean(), abs=1e-4)
    # an empty text is kept, with the reason, not dropped
    assert (
        len(out) == 2 and out["token_log_ratio"][1] == [] and out["token_note"][1] == "empty text"
    )


def test_html_helpers():
    assert (
        fmt(float("nan")) == "n/a"
        and fmt(None) == "n/a"
        and fmt(3) == "3"
        and fmt(0.123456) == "0.1235"
        and fmt(True) == "True"
    )
    assert diverging_colour(1.0, 2.0) == "rgba(220,38,38,0.500)"
    assert diverging_colour(-4.0, 2.0) == "rgba(37,99,235,1.000)"
    html = token_spans(["a<b", "\n"], [0.5, -0.1], 1.0)
    assert "a&lt;b" in html and html.count("<span") == 2 and "+0.500 nats" in html
    with pytest.raises(ValueError, match="2 token pieces but 1 values"):
        token_spans(["a", "b"], [0.1], 1.0)
    t = table(pd.DataFrame({"x": range(5)}), max_rows=2)
    assert t.count("<tr>") == 3 and "3 more rows not shown" in t


def test_figure_dataset_round_trip(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ds = FigureDataset(filepath=str(tmp_path / "sub" / "f.png"), dpi=50)
    assert not ds.exists()
    ds.save(fig)
    png = ds.load()
    assert png.startswith(b"\x89PNG") and ds.exists()


def test_optional_dataset_is_none_until_written_and_versions_are_the_wrapped_datasets(tmp_path):
    from kedro.io import Version

    config = {
        "type": "pandas.CSVDataset",
        "filepath": str(tmp_path / "probe_summary.csv"),
        "save_args": {"index": False},
    }
    ds = OptionalDataset(dataset=dict(config), version=Version(None, "2026-01-01T00.00.00.000Z"))
    assert ds.load() is None and not ds.exists()
    ds.save(pd.DataFrame({"layer": [0], "r": [0.5]}))
    assert ds.exists() and ds.load()["r"].tolist() == [0.5]
    assert (
        tmp_path / "probe_summary.csv" / "2026-01-01T00.00.00.000Z" / "probe_summary.csv"
    ).is_file()
    assert ds.resolve_load_version() == "2026-01-01T00.00.00.000Z" and ds._version is not None
    with pytest.raises(DatasetError, match="'versioned' on the OptionalDataset entry"):
        OptionalDataset(dataset={**config, "versioned": True})


def test_the_report_reads_the_optional_outputs_through_their_catalog_entries(tmp_path, monkeypatch):
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from llm_behavior.pipelines.reporting.nodes import gather_optional_outputs
    from llm_behavior.pipelines.reporting.pipeline import create_pipeline

    monkeypatch.chdir(tmp_path)  # the catalog's relative paths: an empty project
    root = Path(__file__).resolve().parents[2]
    loader = OmegaConfigLoader(
        str(root / "conf"),
        base_env="base",
        default_run_env="local",
        runtime_params={"pair": "tiny"},
    )
    catalog = DataCatalog.from_config(loader["catalog"])
    for name in OPTIONAL_NAMES:
        assert isinstance(catalog[name], OptionalDataset), name
    gather = next(n for n in create_pipeline().nodes if n.name == "gather_optional_outputs")
    assert gather.inputs == list(OPTIONAL_NAMES)
    assert gather_optional_outputs(*(catalog.load(n) for n in OPTIONAL_NAMES)) == {}
    catalog.save("probe_summary", pd.DataFrame({"layer": [0, 1], "pearson_r": [0.1, 0.4]}))
    catalog.save("prompt_search_summary", {"cycles": 2})
    found = gather_optional_outputs(*(catalog.load(n) for n in OPTIONAL_NAMES))
    assert set(found) == {"probing", "contrastive_search"}
    assert found["probing"]["probe_summary"]["pearson_r"].tolist() == [0.1, 0.4]
    assert found["contrastive_search"] == {"prompt_search_summary": {"cycles": 2}}
    # versioned, where it was
    assert (tmp_path / "data/08_reporting/tiny/probe_summary.csv").is_dir()


def test_tracking_metrics_from_audit_result():
    from tests.report.audit_fixtures import contract_audit, old_audit

    m = {k: v["value"] for k, v in tracking_metrics(contract_audit()).items()}
    assert (
        m["rejected"] == 1.0
        and m["prompts_used"] == 18.0
        and m["pairs_used"] == 52.0
        and m["aa_rejected"] == 0.0
    )
    # wealth as log10: max wealth 2e7 -> 7.30103 (= log10 2 + 7), toxicity 1.4e7 -> 7.146128
    assert m["log10_max_wealth"] == pytest.approx(7.30103, abs=1e-5)
    assert m["toxicity.log10_max_wealth"] == pytest.approx(7.146128, abs=1e-6)
    assert m["aa_log10_max_wealth"] == pytest.approx(0.230449, abs=1e-6)  # log10 1.7
    assert m["toxicity.prompts_to_rejection"] == 18.0 and m["toxicity.pairs_to_rejection"] == 52.0
    assert m["toxicity.mean_shift"] == pytest.approx(0.135) and m[
        "toxicity.distance"
    ] == pytest.approx(0.27)
    assert m["toxicity.distance_over_noise_floor"] == pytest.approx(9.5) and m[
        "p_value_bound"
    ] == pytest.approx(5e-8)
    # no raw wealth
    assert not any(k.startswith("max_wealth") or k.endswith(".max_wealth") for k in m)
    # absent values stay absent (never logged as 0): length was not rejected
    assert "length.pairs_to_rejection" not in m and "length.prompts_to_rejection" not in m
    old = {k: v["value"] for k, v in tracking_metrics(old_audit()).items()}
    assert (
        old["pairs_used"] == 42.0 and "prompts_used" not in old and "toxicity.distance" not in old
    )
    # the p-value bounds follow from max wealth where the result lacks them: 1/40 and K/40 = 20 x
    # 0.05 / 40
    assert old["p_value_bound"] == pytest.approx(0.025) and old[
        "toxicity.p_value_bound"
    ] == pytest.approx(0.025)


def test_select_divergent_texts_resolves_the_behaviour():
    scores = long_scores({("a", "reference", 0): 0.1, ("a", "candidate", 0): 0.9})
    gens = {s: generations(s, ["a"], 1) for s in ("reference", "candidate")}
    auditing = {
        "behaviours": {
            "toxicity": {"metric": "toxicity"},
            "length": {"scorer": "tc", "metric": "n_tokens"},
        }
    }
    # null: the first auditing behaviour; its scorer, left implicit, is the one reporting the metric
    out = select_divergent_texts(
        scores, gens["reference"], gens["candidate"], {"n_prompts": 3}, auditing
    )
    assert list(out["side"]) == ["reference", "candidate"] and out[
        "score"
    ].tolist() == pytest.approx([0.1, 0.9])
    # an optional behaviour that was not scored: an empty table, not a failed run
    empty = select_divergent_texts(
        scores,
        gens["reference"],
        gens["candidate"],
        {"behaviour": "length", "n_prompts": 3},
        auditing,
    )
    assert empty.empty and "prompt_id" in empty.columns
    with pytest.raises(ValueError, match="'style' is not an auditing behaviour"):
        select_divergent_texts(
            scores,
            gens["reference"],
            gens["candidate"],
            {"behaviour": "style", "n_prompts": 3},
            auditing,
        )
