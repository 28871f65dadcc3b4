"""The reference neural test: architecture, batched = independent training, betting schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llm_behavior.audit.neural import BatchedWitnessMLP, NeuralConfig, _fit, neural_test

QUICK = NeuralConfig(max_epochs=6, patience=3)


def test_batched_mlp_equals_torch_modules() -> None:
    """Each sequence's witness is the MLP 1-32-32-1 with LayerNorm + ReLU, phi = 0.5 tanh(g)."""
    net = BatchedWitnessMLP(3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.g1.normal_()
        net.c2.normal_()
    v = torch.rand(3, 7)
    for s in range(3):
        ref = torch.nn.Sequential(
            torch.nn.Linear(1, 32),
            torch.nn.LayerNorm(32),
            torch.nn.ReLU(),
            torch.nn.Linear(32, 32),
            torch.nn.LayerNorm(32),
            torch.nn.ReLU(),
            torch.nn.Linear(32, 1),
        )
        with torch.no_grad():
            ref[0].weight.copy_(net.w1[s].T)
            ref[0].bias.copy_(net.b1[s, 0])
            ref[1].weight.copy_(net.g1[s, 0])
            ref[1].bias.copy_(net.c1[s, 0])
            ref[3].weight.copy_(net.w2[s].T)
            ref[3].bias.copy_(net.b2[s, 0])
            ref[4].weight.copy_(net.g2[s, 0])
            ref[4].bias.copy_(net.c2[s, 0])
            ref[6].weight.copy_(net.w3[s].T)
            ref[6].bias.copy_(net.b3[s, 0])
            expected = 0.5 * torch.tanh(ref(v[s].unsqueeze(-1)).squeeze(-1))
            torch.testing.assert_close(net.phi(v)[s], expected, rtol=1e-5, atol=1e-6)


def test_batched_training_is_independent_per_sequence() -> None:
    """Training sequences together gives each the parameters it gets when trained alone."""
    rng = np.random.default_rng(0)
    data = torch.from_numpy(rng.random((2, 4, 150)).astype(np.float32))
    both = BatchedWitnessMLP(2, torch.Generator().manual_seed(1))
    alone = BatchedWitnessMLP(1, torch.Generator().manual_seed(2))
    alone.load_state_dict({k: v[:1].clone() for k, v in both.state_dict().items()})
    for net in (both, alone):
        s = net.w1.shape[0]
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        _fit(
            net,
            opt,
            (data[:s, 0], data[:s, 1]),
            (data[:s, 2, :50], data[:s, 3, :50]),
            config=QUICK,
            generator=torch.Generator().manual_seed(3),
        )
    for key, value in alone.state_dict().items():
        torch.testing.assert_close(both.state_dict()[key][:1], value, rtol=1e-5, atol=1e-6)


def test_schedule_first_batch_not_bet_and_predictable() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.random((2, 400)), rng.random((2, 400))
    run = neural_test(x, y, eps=0.0, config=QUICK)
    np.testing.assert_array_equal(run.log_wealth_per_pair[:, :100], 0.0)  # batch 0 only trains
    assert not np.all(run.log_wealth_per_pair[:, 100:200] == 0.0)
    np.testing.assert_array_equal(run.batch_ends, [200, 300, 400])
    x2, y2 = x.copy(), y.copy()
    x2[:, 300:], y2[:, 300:] = rng.random((2, 100)), rng.random((2, 100))
    run2 = neural_test(x2, y2, eps=0.0, config=QUICK)
    np.testing.assert_allclose(run2.log_wealth_per_pair[:, :300], run.log_wealth_per_pair[:, :300])


def test_eps_factor_and_batch_monitor() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.random(300), rng.random(300)
    base = neural_test(x, y, eps=0.0, config=QUICK)
    tol = neural_test(x, y, eps=0.01, config=QUICK)
    betting_pairs = np.clip(np.arange(1, 301) - 100, 0, None)
    np.testing.assert_allclose(
        tol.log_wealth_per_pair, base.log_wealth_per_pair - 0.01 * betting_pairs, atol=1e-9
    )
    held = base.log_wealth("batch")[0]
    assert np.all(held[:199] == 0) and held[199] == base.log_wealth_per_pair[0, 199]
    assert np.all(held[200:299] == held[199]) and held[299] == base.log_wealth_per_pair[0, 299]
    with pytest.raises(ValueError, match="monitor"):
        base.log_wealth("sometimes")


def test_too_few_pairs() -> None:
    with pytest.raises(ValueError, match="at least 2 batches"):
        neural_test(np.zeros(150), np.zeros(150))
