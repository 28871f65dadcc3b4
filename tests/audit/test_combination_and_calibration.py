"""Several behaviours, distance estimates, eps calibration, folds, baselines, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from llm_behavior.audit import (
    AuditInputError,
    ScoreTransform,
    audit_behaviours,
    calibrate_eps,
    clean_pairs,
    estimate_distance,
    fold_run,
    make_folds,
    power_sweep,
    run_test,
)
from llm_behavior.audit.baselines import fixed_sample_pvalues, peeking_rejection
from llm_behavior.audit.simulate import ToxicityShape, bernoulli_pairs_at_distance, paired_scores


def test_multi_behaviour_average_bonferroni_and_missing_rows() -> None:
    rng = np.random.default_rng(0)
    shape = ToxicityShape()
    x1, y1 = paired_scores(shape, shape.with_mean_shift(0.2), (300,), rng)
    x2, y2 = paired_scores(shape, shape, (300,), rng)
    y2 = y2.copy()
    y2[::3] = np.nan  # behaviour b is missing on a third of the rows
    out = audit_behaviours({"a": (x1, y1), "b": (x2, y2)}, test="mean", alpha=0.05)
    traj = out["log_wealth"]
    own_b = run_test(x2[~np.isnan(y2)], y2[~np.isnan(y2)], "mean").log_wealth[0]
    seen = np.cumsum(~np.isnan(y2))
    # held when missing
    np.testing.assert_allclose(traj["b"], np.where(seen > 0, own_b[np.maximum(seen - 1, 0)], 0.0))
    np.testing.assert_allclose(
        np.exp(traj["combined"]), (np.exp(traj["a"]) + np.exp(traj["b"])) / 2
    )
    assert out["behaviours"]["b"]["n_dropped"] == 100
    assert out["behaviours"]["a"]["threshold"] == pytest.approx(40.0)
    first_a = int(np.argmax(traj["a"] >= np.log(40))) + 1
    assert out["behaviours"]["a"]["prompts_to_rejection"] == first_a
    assert out["behaviours"]["a"]["pairs_to_rejection"] == first_a  # one sample per prompt
    assert out["rejected"] and out["prompts_to_rejection"] <= first_a
    assert out["behaviours"]["a"]["mean_shift"] == pytest.approx(np.mean(y1) - np.mean(x1))
    assert out["behaviours"]["a"]["p_value_bound"] == pytest.approx(
        min(1.0, 2 / out["behaviours"]["a"]["max_wealth"])
    )


def test_multi_behaviour_counts_prompts_and_pairs_with_several_samples() -> None:
    """Groups of 3 samples (rows shuffled in the file): the wealth moves once per prompt, equal to
    the prompt-level run on rows laid out prompt by prompt; counts in prompts and pairs agree."""
    rng = np.random.default_rng(11)
    shape = ToxicityShape()
    x, y = paired_scores(shape, shape.with_mean_shift(0.2), (240,), rng)
    groups = np.repeat([f"p{i}" for i in range(80)], 3)
    order = rng.permutation(240)
    x_file, y_file, g_file = x[order], y[order], groups[order]
    y_file[5] = np.nan  # one failed sample: that prompt has k = 2
    out = audit_behaviours({"tox": (x_file, y_file)}, test="mean", groups=g_file)
    b = out["behaviours"]["tox"]
    assert out["n_prompts"] == 80 and b["n_prompts"] == 80 and b["n_pairs"] == 239
    prompts = list(dict.fromkeys(g_file))  # first appearance
    rows = np.concatenate([np.flatnonzero((g_file == p) & ~np.isnan(y_file)) for p in prompts])
    sizes = np.array([int(((g_file == p) & ~np.isnan(y_file)).sum()) for p in prompts])
    own = run_test(x_file[rows], y_file[rows], "mean", sizes=sizes)
    np.testing.assert_allclose(out["log_wealth"]["tox"], own.log_wealth[0])
    assert b["prompts_to_rejection"] == own.prompts_to_rejection[0]
    assert (
        b["pairs_to_rejection"]
        == own.pairs_to_rejection[0]
        == sizes[: b["prompts_to_rejection"]].sum()
    )
    assert out["prompts_used"] == b["prompts_to_rejection"]
    # hand-worked cluster CI: per-prompt sums of (y - x)
    d = y_file[rows] - x_file[rows]
    sums = np.add.reduceat(d, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    mean = sums.sum() / sizes.sum()
    se = np.sqrt(80 / 79 * np.sum((sums - mean * sizes) ** 2)) / sizes.sum()
    assert b["mean_shift"] == pytest.approx(mean)
    assert b["mean_shift_ci"] == pytest.approx(
        [mean - 1.959964 * se, mean + 1.959964 * se], rel=1e-5
    )


def test_multi_behaviour_rows_must_align() -> None:
    with pytest.raises(ValueError, match="aligned"):
        audit_behaviours({"a": (np.zeros(20), np.zeros(20)), "b": (np.zeros(30), np.zeros(30))})


def test_distance_estimate_recovers_total_variation() -> None:
    """Two-point laws: D = TV = |p - q|, attained by the mean witness."""
    x, y = bernoulli_pairs_at_distance(0.2, 0.1, (20000,), np.random.default_rng(1))
    est = estimate_distance(x, y)
    assert abs(est.d_hat - 0.1) < 4 * est.standard_error + 1e-3
    assert est.upper >= est.d_hat
    null = estimate_distance(*np.random.default_rng(2).random((2, 5000)))
    assert abs(null.d_hat) < 4 * null.standard_error


def test_calibration_and_power_sweep() -> None:
    rng = np.random.default_rng(3)
    shape = ToxicityShape()
    ref, rep = paired_scores(shape, shape, (4000,), rng)
    x, y = paired_scores(shape, shape.with_mean_shift(0.1), (4000,), rng)
    calib = calibrate_eps({"replicate": (ref, rep)}, {"candidate": (x, y)}, n_grid=4)
    assert calib["suggested_eps"] == pytest.approx(calib["acceptable"]["replicate"]["upper"])
    assert calib["unacceptable"]["candidate"]["d_hat"] > calib["suggested_eps"]
    assert calib["eps_grid"][0] == 0.0 and calib["eps_grid"][-1] == pytest.approx(
        calib["unacceptable"]["candidate"]["d_hat"]
    )
    sweep = power_sweep(x, y, [0.0, 0.5], "mean", fold_size=500)
    assert sweep[0]["rejection_rate"] == 1.0 and sweep[1]["rejection_rate"] == 0.0


def test_folds_split_by_prompt_and_distance_clusters_by_prompt() -> None:
    rng = np.random.default_rng(12)
    groups = np.repeat(np.arange(300), rng.integers(1, 4, 300))  # k = 1..3 samples per prompt
    x = rng.random(groups.size)
    folds = make_folds(x, x, 50, seed=1, groups=groups)
    assert len(folds.folds) == 6 and folds.n_unused_prompts == 0 and folds.n_unused == 0
    seen = [set(groups[np.isin(x, f.x)]) for f in folds.folds]
    # no prompt in two folds
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])
    assert all(len(f.sizes) == 50 and f.sizes.sum() == f.x.size for f in folds.folds)
    result = fold_run(x, x[::-1].copy(), ["mean"], 50, groups=groups, baseline_sizes=[10])
    assert result["fold_unit"] == "prompts" and "skipped" in result["fixed_sample_baselines"]
    # one sample per prompt: clustered SE = the plain one; grouped: halves hold whole prompts
    y = rng.random(groups.size)
    plain = estimate_distance(x, y, seed=3)
    same = estimate_distance(x, y, seed=3, groups=np.arange(x.size))
    assert plain.standard_error == pytest.approx(
        same.standard_error
    ) and plain.d_hat == pytest.approx(same.d_hat)
    grouped = estimate_distance(x, y, seed=3, groups=groups)
    assert grouped.n_prompts == 300 and grouped.n_pairs == groups.size
    assert grouped.mean_difference == pytest.approx(y.mean() - x.mean())  # candidate - reference


def test_calibrated_power_sweep_uses_calibration_pairs_only() -> None:
    from llm_behavior.audit.calibration import calibrated_power_sweep

    rng = np.random.default_rng(13)
    shape = ToxicityShape()
    cal_ref, cal_rep = paired_scores(shape, shape, (2000,), rng)
    cal_x, cal_y = paired_scores(shape, shape.with_mean_shift(0.1), (2000,), rng)
    x, y = paired_scores(shape, shape.with_mean_shift(0.1), (2000,), rng)
    out = calibrated_power_sweep(
        (x, y),
        {"replicate": (cal_ref, cal_rep)},
        {"candidate": (cal_x, cal_y)},
        "mean",
        500,
        n_grid=3,
    )
    expected = calibrate_eps(
        {"replicate": (cal_ref, cal_rep)}, {"candidate": (cal_x, cal_y)}, n_grid=3
    )
    assert out["eps_calibration"] == expected
    assert [r["eps"] for r in out["power_sweep"]] == expected["eps_grid"]
    assert out["power_sweep"] == power_sweep(x, y, expected["eps_grid"], "mean", 500)


def test_folds_are_disjoint_and_seeded() -> None:
    x = np.arange(1050) / 1050
    folds = make_folds(x, x, 100, seed=4)
    assert folds.x.shape == (10, 100) and folds.n_unused == 50
    assert np.unique(folds.x).size == 1000
    np.testing.assert_array_equal(make_folds(x, x, 100, seed=4).x, folds.x)
    with pytest.raises(ValueError, match="larger"):
        make_folds(x[:50], x[:50], 100)


def test_fold_run_summary_matches_per_fold_runs() -> None:
    rng = np.random.default_rng(5)
    shape = ToxicityShape()
    x, y = paired_scores(shape, shape.with_mean_shift(0.05), (2000,), rng)
    out = fold_run(x, y, ["mean"], fold_size=400, seed=6, baseline_sizes=[100, 400])
    folds = make_folds(x, y, 400, seed=6)
    stops = []
    for f in range(folds.x.shape[0]):
        r = run_test(folds.x[f], folds.y[f], "mean")
        if r.rejected[0]:
            stops.append(r.samples_to_rejection[0])
    summary = out["tests"]["mean"]
    assert summary["folds"] == 5
    assert summary["rejection_rate"] == pytest.approx(len(stops) / 5)
    assert summary["median_samples_to_rejection"] == (
        pytest.approx(np.median(stops)) if stops else None
    )
    assert out["fixed_sample_baselines"]["anytime_valid"] is False


def test_baselines_are_scipy_on_prefixes_and_peeking_is_invalid() -> None:
    rng = np.random.default_rng(7)
    x, y = rng.random((2, 300)), rng.random((2, 300))
    p = fixed_sample_pvalues(x, y, [50, 300])
    assert p["paired_t"][1, 0] == pytest.approx(stats.ttest_rel(x[1, :50], y[1, :50]).pvalue)
    assert p["wilcoxon"][0, 1] == pytest.approx(stats.wilcoxon(x[0], y[0]).pvalue)
    assert p["ks"][0, 0] == pytest.approx(stats.ks_2samp(x[0, :50], y[0, :50]).pvalue)
    # H0 true; KS at 15 looks without correction rejects far more often than alpha
    xs, ys = rng.random((2, 200, 600))
    rate = peeking_rejection(xs, ys, list(range(40, 601, 40)), alpha=0.05).mean()
    assert rate > 0.1


def test_clean_pairs_errors_and_counts() -> None:
    with pytest.raises(AuditInputError, match="unequal lengths"):
        clean_pairs([0.1, 0.2], [0.1])
    with pytest.raises(AuditInputError, match="outside"):
        clean_pairs([0.1] * 20, [1.2] + [0.1] * 19)
    ok = clean_pairs([0.1] * 20, [1.2] + [np.nan] + [0.1] * 18, clip=True)
    assert ok.n_pairs == 19 and ok.n_dropped == 1 and ok.n_clipped == 1 and ok.y.max() == 1.0
    with pytest.raises(AuditInputError, match="too few pairs"):
        clean_pairs([0.1] * 5, [0.2] * 5)


def test_transforms() -> None:
    t = ScoreTransform.from_params({"kind": "scale", "max": 50})
    values, clipped = t.apply(np.array([0.0, 25.0, np.nan]))
    np.testing.assert_allclose(values, [0.0, 0.5, np.nan])
    assert clipped == 0
    with pytest.raises(AuditInputError, match="outside"):
        t.apply(np.array([60.0]))
    values, clipped = ScoreTransform(kind="scale", max=50, clip=True).apply(np.array([60.0]))
    assert values[0] == 1.0 and clipped == 1
    inv, _ = ScoreTransform.from_params(
        {"kind": "range", "low": -1, "high": 1, "invert": True}
    ).apply(np.array([0.5]))
    assert inv[0] == pytest.approx(0.25)
    with pytest.raises(AuditInputError, match="fixed max"):
        ScoreTransform.from_params({"kind": "scale"})
    with pytest.raises(AuditInputError, match="unknown"):
        ScoreTransform.from_params({"kind": "identity", "fit": True})


def test_run_test_checks_arguments() -> None:
    with pytest.raises(ValueError, match="alpha"):
        run_test(np.zeros(20), np.zeros(20), "mean", alpha=1.5)
    with pytest.raises(ValueError, match="eps"):
        run_test(np.zeros(20), np.zeros(20), "mean", eps=-0.1)
    with pytest.raises(ValueError, match="unknown test"):
        run_test(np.zeros(20), np.zeros(20), "oracle")
