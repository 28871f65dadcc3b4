"""The probes' penalty is chosen with the outer CV's grouping (by prompt), without leaks.

Closed-form leave-one-group-out against brute-force refits (scikit-learn Ridge per left-out group,
LeaveOneGroupOut), and planted data where rows are near copies within a prompt: there the
row-level choice leaks (smallest penalty, optimistic error) and the grouped one does not.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import LeaveOneGroupOut

from llm_behavior.probes.linear import logistic_fit, ridge_fit
from llm_behavior.probes.probing import ProbeSettings, build_targets, group_folds, probe_target
from llm_behavior.probes.store import ActivationStore

ALPHAS = [float(a) for a in np.logspace(-3, 5, 9)]


def _grouped_data(n_groups, d, G=2, seed=0, sizes=(1, 2, 3, 4)):
    rng = np.random.default_rng(seed)
    size = rng.choice(sizes, size=n_groups)
    groups = np.repeat([f"p{i:03d}" for i in range(n_groups)], size)
    rng.shuffle(groups)  # a group's rows need not be adjacent
    n = len(groups)
    X = rng.normal(size=(G, n, d)) * rng.uniform(0.2, 5, size=d) + rng.normal(size=d)
    y = X[0] @ rng.normal(size=d) + 4 * rng.normal(size=n)
    return X, np.stack([y, rng.normal(size=n)], 1), groups


def _brute_logo_mse(Xg, y, groups, alpha):
    sse = 0.0
    for tr, te in LeaveOneGroupOut().split(Xg, y, groups):
        m = Ridge(alpha=alpha).fit(Xg[tr], y[tr])
        sse += float(((y[te] - m.predict(Xg[te])) ** 2).sum())
    return sse / len(y)


@pytest.mark.parametrize(("n_groups", "d"), [(30, 6), (14, 40)])
@pytest.mark.parametrize("standardize", [False, True])
def test_leave_one_group_out_equals_brute_force_refits(n_groups, d, standardize):
    X, Y, groups = _grouped_data(n_groups, d)
    fit = ridge_fit(X, Y, alphas=ALPHAS, standardize=standardize, groups=groups)
    for g in range(X.shape[0]):
        Xg = X[g]
        if standardize:  # the closed form keeps the training set's (label-free) standardisation
            sd = Xg.std(0)
            Xg = (Xg - Xg.mean(0)) / np.where(sd > 0, sd, 1)
        for t in range(Y.shape[1]):
            brute = [_brute_logo_mse(Xg, Y[:, t], groups, a) for a in ALPHAS]
            np.testing.assert_allclose(fit.path_mse[g, :, t].numpy(), brute, rtol=1e-7)
            assert fit.alpha[g, t].item() == pytest.approx(ALPHAS[int(np.argmin(brute))])
            assert fit.loo_mse[g, t].item() == pytest.approx(min(brute), rel=1e-7)


def test_groups_of_one_row_give_the_row_level_choice():
    X, Y, _ = _grouped_data(25, 5, sizes=(1,))
    rows = ridge_fit(X, Y, alphas=ALPHAS)
    singles = ridge_fit(X, Y, alphas=ALPHAS, groups=np.arange(X.shape[1]))
    np.testing.assert_allclose(singles.path_mse.numpy(), rows.path_mse.numpy(), rtol=1e-10)


def test_grouped_selection_rejects_bad_groups():
    X, Y, groups = _grouped_data(10, 3)
    with pytest.raises(ValueError, match="one group per row"):
        ridge_fit(X, Y, groups=groups[:-1])
    with pytest.raises(ValueError, match="at least 2 groups"):
        ridge_fit(X, Y, groups=np.zeros(X.shape[1]))


def _duplicated(n_prompts, copies, d, seed, jitter=0.01):
    """Each prompt: one random encoding and a pure-noise label, repeated ``copies`` times with a
    little jitter (like a prompt's generations sharing its label)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_prompts, d))
    y = rng.normal(size=n_prompts)
    X = np.repeat(base, copies, 0) + jitter * rng.normal(size=(n_prompts * copies, d))
    return X[None], np.repeat(y, copies), np.repeat(np.arange(n_prompts), copies)


def test_row_level_choice_leaks_on_duplicated_rows_and_grouped_does_not():
    X, y, groups = _duplicated(60, 5, 40, seed=1)
    Xnew, ynew, _ = _duplicated(400, 1, 40, seed=2)  # fresh prompts
    var = float(np.var(y))
    rows = ridge_fit(X, y, alphas=ALPHAS)
    grouped = ridge_fit(X, y, alphas=ALPHAS, groups=groups)
    fresh = {
        name: float(((fit.predict(Xnew)[0, :, 0].numpy() - ynew) ** 2).mean())
        for name, fit in (("rows", rows), ("grouped", grouped))
    }
    # row-level LOO: a left-out row's copies stay in the training data -> a small penalty and an
    # error estimate far below what fresh prompts see
    assert rows.alpha.item() <= 10
    assert rows.loo_mse.item() < 0.6 * var
    assert fresh["rows"] > 3 * rows.loo_mse.item()
    # grouped: a heavy penalty (the labels are noise: predict about the mean) and an honest
    # error estimate, close to the error on fresh prompts
    assert grouped.alpha.item() >= 1e3
    assert 0.9 * var < grouped.loo_mse.item() < 1.3 * var
    assert grouped.loo_mse.item() == pytest.approx(fresh["grouped"], rel=0.3)
    assert fresh["grouped"] < 0.7 * fresh["rows"]


def test_logistic_holdout_by_group_does_not_leak():
    X, y, groups = _duplicated(60, 5, 40, seed=3)
    yb = (y > 0).astype(float)
    lambdas = [1e-3, 1e-2, 1e-1, 1.0]
    rows = logistic_fit(X, yb, lambdas, seed=0)
    grouped = logistic_fit(X, yb, lambdas, seed=0, groups=groups)
    assert rows.lam.item() == lambdas[0]  # dev rows have their copies in the training part
    assert grouped.lam.item() >= 0.1  # pure-noise labels: the strongest penalties
    # the grouped choice's refit on all rows is the plain fit at that strength
    ref = LogisticRegression(C=1 / (grouped.lam.item() * len(yb)), tol=1e-10, max_iter=10000)
    Xs = (X[0] - X[0].mean(0)) / X[0].std(0)
    ref.fit(Xs, yb)
    np.testing.assert_allclose(
        grouped.predict_proba(X)[0, :, 0].numpy(), ref.predict_proba(Xs)[:, 1], atol=1e-5
    )
    with pytest.raises(ValueError, match="at least 2 groups"):
        logistic_fit(X, yb, lambdas, groups=np.zeros(len(yb)))


def test_probe_target_chooses_the_penalty_by_prompt(tmp_path):
    """forward scenario: a prompt's generations share its (noise) label; near-copy encodings."""
    n_prompts, k, d = 80, 4, 24
    Xo, _, _ = _duplicated(n_prompts, k, d, seed=4)
    rng = np.random.default_rng(5)
    L = 2
    X_out = np.concatenate([Xo] * L)  # (L, n*k, d)
    X_in = rng.normal(size=(L, n_prompts, d))
    pids = [f"p{i:03d}" for i in range(n_prompts)]
    input_index = pd.DataFrame({"prompt_id": pids, "n_tokens": 3, "span": "prompt_text"})
    output_index = pd.DataFrame(
        {"prompt_id": np.repeat(pids, k), "sample": np.tile(np.arange(k), n_prompts), "n_tokens": 2}
    )
    store = ActivationStore.from_arrays(
        tmp_path / "s", X_in, X_out, input_index, output_index, dtype="float32"
    )
    prompt_labels = pd.Series(rng.uniform(size=n_prompts), index=pids)
    gen_labels = output_index[["prompt_id", "sample"]].assign(value=rng.uniform(size=n_prompts * k))
    t = build_targets(store, prompt_labels, gen_labels, scenarios=["forward"])["forward"]
    res = probe_target(
        store, t, ProbeSettings(seeds=(0,), alphas=tuple(ALPHAS), control=False, layers=(1,))
    )
    # each fold's penalty is the one chosen leaving whole prompts out of its training rows
    X = store.load_layers("output", [1], t.rows, dtype=np.float64)
    by_rows = []
    for f, (tr, _) in enumerate(group_folds(t.groups, 4, 0)):
        grouped = ridge_fit(X[:, tr], t.y[tr], ALPHAS, groups=t.groups[tr]).alpha.item()
        by_rows.append(ridge_fit(X[:, tr], t.y[tr], ALPHAS).alpha.item())
        assert res.loc[res["fold"] == f, "regularization"].item() == grouped
    assert (np.array(by_rows) < res.sort_values("fold")["regularization"].to_numpy()).all()
