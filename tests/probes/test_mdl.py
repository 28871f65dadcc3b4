"""Online code lengths: units checked by hand, learnable vs permuted labels on planted data."""

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from llm_behavior.probes.mdl import (
    bernoulli_bits,
    block_ends,
    gaussian_bin_bits,
    online_code,
    quantize,
)
from llm_behavior.probes.probing import ProbeSettings, build_targets
from tests.probes.synthetic import planted_store


def test_block_ends_follow_the_fractions():
    assert block_ends(1024) == [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert block_ends(100) == [6, 12, 25, 50, 100]
    with pytest.raises(ValueError, match="too few"):
        block_ends(6)


def test_gaussian_bin_bits_equal_direct_integration():
    K, mu, sd, eps = 10, 0.3, 0.2, 1e-3
    total = integrate.quad(lambda x: norm.pdf(x, mu, sd), 0, 1)[0]
    for b in (0, 3, 9):
        mass = integrate.quad(lambda x: norm.pdf(x, mu, sd), b / K, (b + 1) / K)[0] / total
        expected = -np.log2((1 - eps) * mass + eps / K)
        assert gaussian_bin_bits(np.array([b]), np.array([mu]), np.array([sd]), K, eps)[
            0
        ] == pytest.approx(expected)
    # a proper code: the bin probabilities sum to one
    bits = gaussian_bin_bits(np.arange(K), np.full(K, mu), np.full(K, sd), K, eps)
    assert np.sum(2.0**-bits) == pytest.approx(1.0)
    assert list(quantize(np.array([0.0, 0.05, 0.1, 0.999, 1.0]), 10)) == [0, 0, 1, 9, 9]


def test_bernoulli_bits_by_hand():
    assert bernoulli_bits(np.array([1.0]), np.array([0.5]), eps=0)[0] == pytest.approx(1.0)
    assert bernoulli_bits(np.array([0.0]), np.array([0.75]), eps=0)[0] == pytest.approx(2.0)


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    store, prompt_labels, gen_labels = planted_store(
        tmp_path_factory.mktemp("mdl") / "s", n_prompts=400, k=1
    )
    return store, build_targets(store, prompt_labels, gen_labels, scenarios=["input"])


def test_learnable_signal_compresses_and_permuted_labels_do_not(targets):
    store, t = targets
    res = online_code(
        store, t["input"], settings=ProbeSettings(layers=(0, 3)), precision=0.02
    ).set_index(["task", "layer"])
    real, control = res.loc["real"], res.loc["control"]
    assert real.loc[3, "online_bits"] < 0.9 * real.loc[3, "uniform_bits"]
    assert real.loc[3, "compression"] > 1.1 and real.loc[3, "compression_vs_null"] > 1.1
    # no information: close to the input-free code, at most the uniform code plus estimation noise
    for layer in (0, 3):
        assert control.loc[layer, "compression_vs_null"] == pytest.approx(1.0, abs=0.05)
        assert control.loc[layer, "compression"] < 1.1
    assert real.loc[0, "compression_vs_null"] == pytest.approx(1.0, abs=0.05)
    assert real.loc[3, "compression"] > real.loc[0, "compression"] + 0.1
    assert (res["uniform_bits"] == 400 * np.log2(50)).all()


def test_binary_labels_are_coded_in_bits_per_label(targets, tmp_path):
    store, _ = targets
    store2, prompt_labels, gen_labels = planted_store(tmp_path / "b", n_prompts=400, k=1)
    t = build_targets(store2, prompt_labels, gen_labels, scenarios=["input"], binary_threshold=0.5)[
        "input"
    ]
    res = online_code(store2, t, settings=ProbeSettings(layers=(0, 3))).set_index(["task", "layer"])
    assert (res["uniform_bits"] == 400).all()
    assert res.loc[("real", 3), "compression"] > 1.2
    assert res.loc[("control", 3), "compression_vs_null"] == pytest.approx(1.0, abs=0.08)


def test_block_cuts_fall_between_prompts():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 6, size=150)
    groups = np.repeat(np.arange(150), sizes)
    n = len(groups)
    rows_only = block_ends(n)
    ends = block_ends(n, groups=groups)
    assert ends[-1] == n and ends == sorted(set(ends))
    for c in ends[:-1]:
        assert groups[c - 1] != groups[c]  # no prompt on both sides of a cut
        assert len(np.unique(groups[:c])) >= 2
    # row cuts that split a prompt exist here and are moved forward to its end
    assert any(groups[c - 1] == groups[c] for c in rows_only[:-1])
    # each cut is the first boundary at or after a row cut (brute force over all boundaries)
    bounds = [b for b in range(1, n) if groups[b - 1] != groups[b] and len(set(groups[:b])) >= 2]
    expected = sorted({min(b for b in bounds if b >= r) for r in rows_only[:-1] if r <= bounds[-1]})
    assert ends[:-1] == expected
    # one row per prompt: the row cuts unchanged
    assert block_ends(500, groups=np.arange(500)) == block_ends(500)
    with pytest.raises(ValueError, match="adjacent"):
        block_ends(6, groups=np.array([0, 1, 0, 2, 2, 3]))
    with pytest.raises(ValueError, match="too few"):
        block_ends(8, groups=np.zeros(8))


def test_online_code_never_scores_a_prompt_it_trained_on(tmp_path, monkeypatch):
    """Every probe of the online code is trained on whole prompts and scored on other prompts."""
    from llm_behavior.probes import mdl

    store, prompt_labels, gen_labels = planted_store(tmp_path / "k", n_prompts=120, k=3)
    t = build_targets(store, prompt_labels, gen_labels, scenarios=["forward"])["forward"]
    seen = []
    real_fit = mdl.ridge_fit

    def spy(X, Y, alphas, standardize, groups=None):
        seen.append(np.asarray(groups))
        return real_fit(X, Y, alphas, standardize, groups=groups)

    monkeypatch.setattr(mdl, "ridge_fit", spy)
    res = online_code(store, t, settings=ProbeSettings(layers=(2,)))
    assert res["n"].eq(360).all() and res["n_prompts"].eq(120).all()
    assert len(seen) == res["n_blocks"].iloc[0] - 1
    for train, nxt in zip(seen, seen[1:]):
        a = len(train)
        assert a % 3 == 0  # k = 3 rows per prompt: whole prompts only
        scored = nxt[a:]  # the rows the probe trained on ``train`` encoded
        assert len(scored) and not set(train) & set(scored)
