"""The reference neural-witness test (arXiv 2410.19406), batched over independent sequences.

Per sequence: pairs are split into batches of ``batch_size``. The witness is phi = 0.5 tanh(g),
g an MLP 1 -> 32 -> 32 -> 1 with LayerNorm + ReLU, trained with Adam (lr 1e-3, minibatches of
``batch_size``) on the loss -mean log(1 + phi(x) - phi(y)) over PAST batches only, with early
stopping (patience 10, at most 100 epochs) on a validation batch; the best weights on the
validation batch are restored. The bet on batch k (k >= 1) multiplies the wealth by
exp(-eps n_k) prod_i (1 + phi(x_i) - phi(y_i)); batch 0 is used for training only.

Differences from the original code, both fixing defects:
- the original bets on batch 0 with an UNTRAINED network (a random full-size bet that can only
  cost power); here batch 0 only trains the witness (wealth stays 1);
- the original early stopper never resets its best validation loss between batches (so later
  batches stop after ``patience`` epochs whatever happens); here each fit starts afresh.
Training follows the original otherwise: batch 0 is split 80/20 into train/validation for the
first fit; afterwards the previous validation batch joins the training set and the batch just
bet on becomes the validation set; the network is warm-started from its previous fit.

Validity: the witness for batch k is a fixed function given batches < k; under H0 each pair has
E[1 + phi(X) - phi(Y)] <= 1 + eps <= exp(eps), so exp(-eps) (1 + Z) is a supermartingale
increment at every pair, and the wealth can be monitored per batch (``monitor="batch"``, as in
the paper) or per pair.

The S sequences (e.g. folds) are trained at once with batched weights: gradients of the summed
loss are separable and Adam is elementwise, so each sequence's optimisation is its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

HIDDEN = 32


@dataclass(frozen=True)
class NeuralConfig:
    batch_size: int = 100
    max_epochs: int = 100
    patience: int = 10
    lr: float = 1e-3
    first_split: float = 0.2  # validation share of batch 0 for the first fit
    seed: int = 0
    threads: int = 1


class BatchedWitnessMLP(torch.nn.Module):
    """S independent MLPs 1 -> 32 -> 32 -> 1 (LayerNorm + ReLU), phi = 0.5 tanh(g)."""

    def __init__(self, n_seq: int, generator: torch.Generator) -> None:
        super().__init__()

        def uniform(shape: tuple[int, ...], fan_in: int) -> torch.nn.Parameter:
            bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default initialisation
            return torch.nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound)

        self.w1 = uniform((n_seq, 1, HIDDEN), 1)
        self.b1 = uniform((n_seq, 1, HIDDEN), 1)
        self.g1 = torch.nn.Parameter(torch.ones(n_seq, 1, HIDDEN))
        self.c1 = torch.nn.Parameter(torch.zeros(n_seq, 1, HIDDEN))
        self.w2 = uniform((n_seq, HIDDEN, HIDDEN), HIDDEN)
        self.b2 = uniform((n_seq, 1, HIDDEN), HIDDEN)
        self.g2 = torch.nn.Parameter(torch.ones(n_seq, 1, HIDDEN))
        self.c2 = torch.nn.Parameter(torch.zeros(n_seq, 1, HIDDEN))
        self.w3 = uniform((n_seq, HIDDEN, 1), HIDDEN)
        self.b3 = uniform((n_seq, 1, 1), HIDDEN)

    @staticmethod
    def _layer_norm(h: torch.Tensor, gain: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.layer_norm(h, (HIDDEN,), eps=1e-5) * gain + shift

    def phi(self, v: torch.Tensor) -> torch.Tensor:
        """Witness values for v of shape (S, m) -> (S, m), in (-1/2, 1/2)."""
        h = v.unsqueeze(-1) * self.w1 + self.b1
        h = torch.relu(self._layer_norm(h, self.g1, self.c1))
        h = torch.relu(self._layer_norm(torch.bmm(h, self.w2) + self.b2, self.g2, self.c2))
        g = (torch.bmm(h, self.w3) + self.b3).squeeze(-1)
        return 0.5 * torch.tanh(g)


def _pair_loss(net: BatchedWitnessMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sequence loss -mean log(1 + phi(x) - phi(y)), shape (S,)."""
    both = net.phi(torch.cat([x, y], dim=1))
    m = x.shape[1]
    return -torch.log1p(both[:, :m] - both[:, m:]).mean(dim=1)


def _fit(
    net: BatchedWitnessMLP,
    optimiser: torch.optim.Optimizer,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    config: NeuralConfig,
    generator: torch.Generator,
) -> int:
    """Train on ``train`` = (x, y) with per-sequence early stopping on ``val``; restores each
    sequence's best weights. Returns the number of epochs run."""
    train_x, train_y = train
    val_x, val_y = val
    n_seq, n_train = train_x.shape
    best = torch.full((n_seq,), float("inf"))
    waited = torch.zeros(n_seq, dtype=torch.long)
    active = torch.ones(n_seq, dtype=torch.bool)
    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    epochs = 0
    for _ in range(config.max_epochs):
        epochs += 1
        order = torch.randperm(n_train, generator=generator)
        for start in range(0, n_train, config.batch_size):
            idx = order[start : start + config.batch_size]
            optimiser.zero_grad()
            _pair_loss(net, train_x[:, idx], train_y[:, idx]).sum().backward()
            optimiser.step()
        with torch.no_grad():
            val = _pair_loss(net, val_x, val_y)
            improved = active & (val < best)
            best = torch.where(improved, val, best)
            waited = torch.where(improved, torch.zeros_like(waited), waited + active.long())
            if improved.any():
                for key, value in net.state_dict().items():
                    best_state[key][improved] = value[improved]
            active &= waited < config.patience
        if not active.any():
            break
    net.load_state_dict(best_state)
    return epochs


@dataclass(frozen=True)
class NeuralRun:
    """Per-pair log wealth (S, n) and the betting schedule of the neural test."""

    log_wealth_per_pair: np.ndarray  # valid to monitor at every pair
    batch_ends: np.ndarray  # pair counts at which the paper checks the wealth
    epochs: list[int]

    def log_wealth(self, monitor: str = "batch") -> np.ndarray:
        """Log wealth as seen by a monitor checking every
        pair or only at batch ends (held between)."""
        if monitor == "pair":
            return self.log_wealth_per_pair
        if monitor != "batch":
            raise ValueError(f"monitor must be 'batch' or 'pair', got {monitor!r}")
        n = self.log_wealth_per_pair.shape[1]
        last_end = np.searchsorted(self.batch_ends, np.arange(1, n + 1), side="right") - 1
        held = self.log_wealth_per_pair[:, self.batch_ends[np.maximum(last_end, 0)] - 1]
        return np.where(last_end[None, :] >= 0, held, 0.0)


def neural_test(
    x: np.ndarray,
    y: np.ndarray,
    eps: float = 0.0,
    config: NeuralConfig | None = None,
    stop_log_wealth: float | None = None,
) -> NeuralRun:
    """Run the reference neural test on S sequences at once (x, y of shape (S, n) or (n,)).

    Pairs after the last full batch are not used. If ``stop_log_wealth`` is given, training stops
    once every sequence has reached it at a batch end (later wealth is then held constant).
    """
    config = config or NeuralConfig()
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    y = np.atleast_2d(np.asarray(y, dtype=np.float32))
    n_seq, n = x.shape
    bs = config.batch_size
    n_batches = n // bs
    if n_batches < 2:
        raise ValueError(f"the neural test needs at least 2 batches of {bs} pairs, got {n} pairs")
    old_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        generator = torch.Generator().manual_seed(config.seed)
        net = BatchedWitnessMLP(n_seq, generator)
        optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        increments = np.zeros((n_seq, n))
        first = torch.randperm(bs, generator=generator)
        n_val = max(1, int(round(config.first_split * bs)))
        train_idx, val_idx = first[n_val:], first[:n_val]
        train_x, train_y = tx[:, train_idx], ty[:, train_idx]
        val_x, val_y = tx[:, val_idx], ty[:, val_idx]
        epochs: list[int] = []
        log_wealth_end = np.zeros(n_seq)
        crossed = np.zeros(n_seq, dtype=bool)
        for k in range(1, n_batches):
            epochs.append(
                _fit(
                    net,
                    optimiser,
                    (train_x, train_y),
                    (val_x, val_y),
                    config=config,
                    generator=generator,
                )
            )
            lo, hi = k * bs, (k + 1) * bs
            with torch.no_grad():
                z = (net.phi(tx[:, lo:hi]) - net.phi(ty[:, lo:hi])).double().numpy()
            increments[:, lo:hi] = z
            log_wealth_end += np.log1p(z).sum(axis=1) - eps * bs
            train_x, train_y = torch.cat([train_x, val_x], 1), torch.cat([train_y, val_y], 1)
            val_x, val_y = tx[:, lo:hi], ty[:, lo:hi]
            if stop_log_wealth is not None:
                crossed |= log_wealth_end >= stop_log_wealth
                if crossed.all():
                    break
    finally:
        torch.set_num_threads(old_threads)
    used = n_batches * bs
    log_factors = np.log1p(increments[:, :used]) - eps * (np.arange(used) >= bs)
    per_pair = np.cumsum(log_factors, axis=1)
    if used < n:
        per_pair = np.concatenate([per_pair, np.repeat(per_pair[:, -1:], n - used, axis=1)], axis=1)
    if stop_log_wealth is not None:  # hold the wealth after a sequence's last trained batch
        last = bs * (len(epochs) + 1)
        per_pair[:, last:] = per_pair[:, last - 1 : last]
    batch_ends = np.arange(2 * bs, used + 1, bs)
    return NeuralRun(per_pair, batch_ends, epochs)
