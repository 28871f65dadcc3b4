"""The probing pipeline end to end on two tiny random models (real forward passes, real scorer)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset

from llm_behavior.datasets.activations import ActivationStoreDataset
from llm_behavior.models.hf import TransformersLM
from llm_behavior.models.spec import ModelSpec
from llm_behavior.pipelines.probing import create_pipeline
from llm_behavior.probes.behaviour import toxicity_summary
from llm_behavior.scoring import build_scorer, to_long
from tests.probes.base_settings import probing_params
from tests.tiny_models import CORPUS, make_tiny_llama

SENTENCES = sorted(set(CORPUS))
# the base parameters_probing.yml with the test's sizes and the profanity_check scorer
PARAMS = probing_params(
    sides=["reference", "candidate"],
    behaviour={"scorer": "profanity_check", "metric": "toxicity", "threshold": 0.5},
    prompt_toxicity={"source": "scorer"},
    scenarios=["input", "output", "forward", "backward"],
    extraction={"batch_size": 8, "input_span": "prompt_text", "dtype": "float16"},
    probes={"n_splits": 4, "seeds": [0, 1], "control": True},
    mdl={"enabled": True, "seeds": [0], "precision": 0.01},
)


def _tables(n_prompts=16, k=2, seed=0):
    rng = np.random.default_rng(seed)
    prompts = pd.DataFrame(
        {
            "prompt_id": [f"p{i:02d}" for i in range(n_prompts)],
            "prompt": [SENTENCES[i % len(SENTENCES)] + f" number {i}" for i in range(n_prompts)],
        }
    )
    gens = {}
    for side in ("reference", "candidate"):
        rows = []
        for pid in prompts["prompt_id"]:
            for s in range(k):
                rows.append(
                    {
                        "prompt_id": pid,
                        "sample": s,
                        "text": " " + SENTENCES[rng.integers(len(SENTENCES))],
                    }
                )
        gens[side] = pd.DataFrame(rows)
    scorer = build_scorer("profanity_check")
    parts = []
    for side, g in gens.items():
        wide = scorer.score(list(g["text"]))
        parts.append(
            to_long(
                wide, g[["prompt_id", "sample"]].assign(side=side), "profanity_check", ["toxicity"]
            )
        )
    return prompts, gens, pd.concat(parts, ignore_index=True)


def _catalog(tmp_path: Path, prompts, gens, scores):
    datasets = {
        "prompts": MemoryDataset(prompts),
        "scores": MemoryDataset(scores),
        "params:probing": MemoryDataset(PARAMS),
        "probe_curves_plot": MatplotlibDataset(
            filepath=str(tmp_path / "report" / "probing_pearson_r.png")
        ),
        "probe_mdl_plot": MatplotlibDataset(filepath=str(tmp_path / "report" / "probing_mdl.png")),
        "probing_prompt_labels": ParquetDataset(filepath=str(tmp_path / "labels.parquet")),
        "probe_summary": CSVDataset(filepath=str(tmp_path / "report" / "summary.csv")),
        "probing_behaviour": CSVDataset(filepath=str(tmp_path / "report" / "behaviour.csv")),
        "probe_side_difference": CSVDataset(filepath=str(tmp_path / "report" / "difference.csv")),
    }
    for i, side in enumerate(("reference", "candidate")):
        model, tok = make_tiny_llama(seed=i, n_layers=2, d=32)
        lm = TransformersLM(model, tok, ModelSpec(source=f"tiny-{side}", name=f"tiny-{side}"))
        datasets[f"{side}.language_model"] = MemoryDataset(lm, copy_mode="assign")
        datasets[f"{side}.generations"] = MemoryDataset(gens[side])
        datasets[f"{side}.activations"] = ActivationStoreDataset(
            path=str(tmp_path / f"{side}_activations")
        )
        for name in ("probe_results", "probe_mdl"):
            datasets[f"{side}.{name}"] = ParquetDataset(
                filepath=str(tmp_path / f"{side}_{name}.parquet")
            )
    return DataCatalog(datasets=datasets)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("probing")
    prompts, gens, scores = _tables()
    catalog = _catalog(tmp, prompts, gens, scores)
    SequentialRunner().run(create_pipeline(), catalog)
    return tmp, catalog, prompts, gens, scores


def test_pipeline_writes_stores_results_and_plots(run):
    tmp, catalog, prompts, gens, scores = run
    for side in ("reference", "candidate"):
        store = catalog.load(f"{side}.activations")
        assert store.meta["complete"] and store.n_layers == 3
        assert len(store.input_index) == len(prompts) and len(store.output_index) == len(gens[side])
        assert store.layer("output", 1).dtype == np.float16
        res = catalog.load(f"{side}.probe_results")
        # 4 scenarios x 3 layers x 2 seeds x 4 folds x (real, control)
        assert len(res) == 4 * 3 * 2 * 4 * 2
        assert set(res["side"]) == {side} and res["pearson_r"].between(-1, 1).all()
        mdl = catalog.load(f"{side}.probe_mdl")
        assert len(mdl) == 4 * 3 * 2 and (mdl["online_bits"] > 0).all()
    summary = catalog.load("probe_summary")
    assert len(summary) == 2 * 4 * 3
    assert {"selectivity", "control_pearson_r", "compression", "control_compression"} <= set(
        summary.columns
    )
    sizes = summary.groupby("scenario")[["n_prompts", "n_rows"]].agg(["min", "max"])
    for scenario, rows in (("input", 16), ("backward", 16), ("output", 32), ("forward", 32)):
        assert tuple(sizes.loc[scenario]) == (16, 16, rows, rows)
    assert (tmp / "report" / "probing_pearson_r.png").stat().st_size > 10_000
    assert (tmp / "report" / "probing_mdl.png").exists()
    diff = catalog.load("probe_side_difference")
    assert len(diff) == 4 * 3 and diff["p_value"].between(0, 1).all()
    assert (diff["n_runs"] == 2 * 4).all()


def test_prompt_labels_and_behaviour_match_direct_computation(run):
    _, catalog, prompts, gens, scores = run
    labels = catalog.load("probing_prompt_labels")
    direct = build_scorer("profanity_check").score(list(prompts["prompt"]))["toxicity"].to_numpy()
    np.testing.assert_allclose(labels["toxicity"].to_numpy(), direct)
    behaviour = catalog.load("probing_behaviour").set_index("side")
    for side in ("reference", "candidate"):
        s = scores[scores["side"] == side]
        expected = toxicity_summary(s["prompt_id"], s["value"], 0.5)
        assert behaviour.loc[side, "emt"] == pytest.approx(expected["emt"])
        assert behaviour.loc[side, "n_prompts"] == len(prompts)


def test_rerun_reuses_complete_activation_stores(run):
    tmp, catalog, *_ = run
    store = tmp / "reference_activations" / "input" / "blocks.0.hook_resid_pre.npy"
    before = store.stat().st_mtime_ns
    SequentialRunner().run(
        create_pipeline().filter(node_names=["reference.extract_activations"]), catalog
    )
    assert store.stat().st_mtime_ns == before


def test_prompt_labels_from_a_column_and_clear_errors():
    from llm_behavior.pipelines.probing.nodes import generation_toxicity, probing_prompt_labels

    prompts = pd.DataFrame(
        {
            "prompt_id": ["a", "b", "c"],
            "prompt": ["x", "y", "z"],
            "prompt_toxicity": [0.9, 0.6, 0.7],
        }
    )
    gens = pd.DataFrame({"prompt_id": ["a", "b"], "sample": [0, 0], "text": ["t", "u"]})
    behaviour = {"scorer": "profanity_check", "metric": "toxicity", "threshold": 0.5}
    params = probing_params(
        behaviour=behaviour, prompt_toxicity={"source": "column", "column": "prompt_toxicity"}
    )
    labels = probing_prompt_labels(prompts, params, reference=gens, candidate=gens.head(2))
    assert list(labels["prompt_id"]) == ["a", "b"]  # c has no generations: left out
    assert (
        list(labels["toxicity"]) == [0.9, 0.6]
        and labels["source"].iloc[0] == "column:prompt_toxicity"
    )
    with pytest.raises(ValueError, match="not a column of the prompts table"):
        probing_prompt_labels(
            prompts,
            probing_params(
                behaviour=behaviour, prompt_toxicity={"source": "column", "column": "nope"}
            ),
            reference=gens,
        )
    with pytest.raises(ValueError, match="must be one of"):
        probing_prompt_labels(
            prompts,
            probing_params(behaviour=behaviour, prompt_toxicity={"source": "oracle"}),
            reference=gens,
        )
    no_threshold = {**probing_params(), "behaviour": {"scorer": "s", "metric": "m"}}
    with pytest.raises(ValueError, match=r"missing keys \['threshold'\]"):  # no default in code
        probing_prompt_labels(prompts, no_threshold, reference=gens)
    with pytest.raises(ValueError, match=r"unknown keys \['treshold'\]"):
        probing_prompt_labels(
            prompts, probing_params(behaviour={**behaviour, "treshold": 0.5}), reference=gens
        )
    scores = pd.DataFrame(
        {
            "prompt_id": ["a"],
            "sample": [0],
            "side": ["reference"],
            "scorer": ["perspective"],
            "metric": ["toxicity"],
            "value": [0.1],
            "reason": [None],
        }
    )
    with pytest.raises(ValueError, match="no profanity_check/toxicity values"):
        generation_toxicity(scores, "reference", probing_params(behaviour=behaviour))


def test_plot_titles_state_the_sizes(run):
    import matplotlib.pyplot as plt

    from llm_behavior.pipelines.probing.nodes import plot_probing

    _, catalog, *_ = run
    summary = catalog.load("probe_summary")
    fig_r, fig_mdl = plot_probing(summary, catalog.load("probing_behaviour"), PARAMS)
    for fig in (fig_r, fig_mdl):
        titles = {ax.get_title().split(":")[0]: ax.get_title() for ax in fig.axes if ax.get_title()}
        assert titles["input"].endswith("n = 16 prompts")
        assert titles["output"].endswith("n = 16 prompts, 32 rows")
        assert titles["forward"].endswith("n = 16 prompts, 32 rows")
    assert "over 8 folds x seeds" in fig_r._suptitle.get_text()
    # sides probed on different rows: each side's size
    uneven = summary.copy()
    uneven.loc[uneven["side"] == "candidate", "n_rows"] -= 1
    fig, _ = plot_probing(uneven, None, PARAMS)
    out = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("output")][0]
    assert (
        "reference: n = 16 prompts, 32 rows" in out and "candidate: n = 16 prompts, 31 rows" in out
    )
    plt.close("all")
