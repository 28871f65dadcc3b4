"""Scenarios, folds, control task and selectivity on synthetic activations with a planted signal."""

import numpy as np
import pandas as pd
import pytest

from llm_behavior.probes.probing import (
    ProbeSettings,
    build_targets,
    group_folds,
    permuted,
    probe_target,
    summarize,
)
from tests.probes.synthetic import planted_store


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return planted_store(tmp_path_factory.mktemp("store") / "s")


def test_targets_align_labels_with_store_rows(planted):
    store, prompt_labels, gen_labels = planted
    targets = build_targets(store, prompt_labels, gen_labels)
    assert set(targets) == {"input", "output", "forward", "backward"}
    raw_max = gen_labels.groupby("prompt_id")["value"].max()
    t = targets["backward"]
    expected = raw_max.reindex(store.input_index["prompt_id"]).to_numpy()
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    np.testing.assert_allclose(t.y, expected)
    f = targets["forward"]
    assert f.kind == "output" and len(f.y) == len(store.output_index)
    # prompt-level label repeated over each prompt's generations
    assert (pd.Series(f.y).groupby(f.groups).nunique() == 1).all()
    assert targets["output"].level == "row" and targets["input"].task == "regression"


def test_missing_labels_and_empty_generations_are_counted(planted, tmp_path):
    store, prompt_labels, gen_labels = planted
    labels = gen_labels.copy()
    labels.loc[[0, 5], "value"] = np.nan
    store.output_index.loc[7, "n_tokens"] = 0
    try:
        t = build_targets(store, prompt_labels, labels, scenarios=["output"])["output"]
    finally:
        store.output_index.loc[7, "n_tokens"] = 4
    assert t.n_dropped == 3
    assert t.drop_reasons == {"missing label": 2, "no tokens to encode": 1}
    assert len(t.rows) == len(store.output_index) - 3


def test_group_folds_keep_prompts_together_and_cover_all_rows():
    groups = np.repeat(np.arange(20), 3)
    folds = group_folds(groups, 4, seed=1)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests) == list(range(60))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
    assert [list(te) for _, te in folds] != [list(te) for _, te in group_folds(groups, 4, seed=2)]


def test_permutation_keeps_labels_and_prompt_structure():
    groups = np.repeat(np.arange(30), 2)
    y = np.repeat(np.linspace(0, 1, 30), 2)
    c = permuted(y, groups, "prompt", seed=0)
    assert sorted(c) == sorted(y)
    assert (pd.Series(c).groupby(groups).nunique() == 1).all()
    assert not np.allclose(c, y)
    r = permuted(y, groups, "row", seed=0)
    assert sorted(r) == sorted(y) and not np.allclose(r, y)


def test_probe_finds_the_planted_layer_and_control_stays_near_zero(planted):
    store, prompt_labels, gen_labels = planted
    targets = build_targets(store, prompt_labels, gen_labels)
    settings = ProbeSettings(seeds=(0, 1))
    res = pd.concat([probe_target(store, targets[s], settings) for s in ("input", "output")])
    assert len(res) == 2 * store.n_layers * 2 * 4 * 2  # scenarios x layers x seeds x folds x tasks
    summ = summarize(res)
    for scenario, layer in (("input", 3), ("output", 2)):
        part = summ[summ["scenario"] == scenario].set_index("layer")
        assert part["pearson_r"].idxmax() == layer
        assert part.loc[layer, "pearson_r"] > 0.8
        assert part.drop(index=layer)["pearson_r"].abs().max() < 0.25
        assert part["control_pearson_r"].abs().max() < 0.25
        assert part.loc[layer, "selectivity"] > 0.6
        # summary = mean over folds x seeds of the per-run rows
        runs = res[
            (res["scenario"] == scenario) & (res["layer"] == layer) & (res["task"] == "real")
        ]
        assert part.loc[layer, "pearson_r"] == pytest.approx(runs["pearson_r"].mean())


def test_binary_labels_use_logistic_probe_with_auc(planted):
    store, prompt_labels, gen_labels = planted
    targets = build_targets(
        store, prompt_labels, gen_labels, scenarios=["input"], binary_threshold=0.5
    )
    t = targets["input"]
    assert t.task == "classification" and set(np.unique(t.y)) == {0.0, 1.0}
    res = probe_target(store, t, ProbeSettings(seeds=(0,), layers=(0, 3)))
    summ = summarize(res).set_index("layer")
    assert (res["probe"] == "logistic").all()
    assert summ.loc[3, "auc"] > 0.85 and abs(summ.loc[0, "auc"] - 0.5) < 0.15
    assert abs(summ.loc[3, "control_auc"] - 0.5) < 0.15


def test_settings_reject_unknown_keys():
    with pytest.raises(ValueError, match="Unknown probe setting"):
        ProbeSettings.from_dict({"n_split": 4})


def test_compare_sides_is_the_corrected_resampled_t_test():
    from scipy import stats

    from llm_behavior.probes.probing import compare_sides

    rng = np.random.default_rng(0)
    rows = []
    for side, shift in (("reference", 0.0), ("candidate", 0.1)):
        for seed in range(5):
            for fold in range(4):
                for layer in (0, 1):
                    base = 0.4 + 0.01 * seed - 0.02 * fold
                    r = base + (shift if layer == 1 else 0.0) + 0.01 * rng.normal()
                    rows.append(
                        {"side": side, "task": "real", "scenario": "input", "layer": layer,
                         "seed": seed, "fold": fold, "pearson_r": r, "n_train": 300, "n_test": 100}
                    )  # fmt: skip
    res = pd.DataFrame(rows)
    out = compare_sides(res).set_index("layer")
    ref = (
        res[(res.side == "reference") & (res.layer == 1)]
        .sort_values(["seed", "fold"])["pearson_r"]
        .to_numpy()
    )
    cand = (
        res[(res.side == "candidate") & (res.layer == 1)]
        .sort_values(["seed", "fold"])["pearson_r"]
        .to_numpy()
    )
    d = cand - ref
    se = np.sqrt((1 / 20 + 100 / 300) * d.var(ddof=1))
    assert out.loc[1, "difference"] == pytest.approx(d.mean())
    assert out.loc[1, "se"] == pytest.approx(se)
    assert out.loc[1, "p_value"] == pytest.approx(2 * stats.t.sf(abs(d.mean() / se), 19))
    assert out.loc[1, "p_value"] < 1e-6 and out.loc[0, "p_value"] > 0.01
