"""The original aligned-probing probe, for comparison: Dropout(0.2) + Linear trained by SGD.

SmoothL1 loss, Adam (lr 1e-3), batch 16, at most 20 epochs, the epoch with the lowest loss on an
80/20 dev split of the training fold kept (the original's checkpoint-on-dev-loss), one layer at a
time. Used by ``benchmarks/probing.py`` to compare answers and cost with the closed-form
ridge probe.
"""

from __future__ import annotations

import numpy as np
import torch


def sgd_probe_predict(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    *,
    seed: int = 0,
    epochs: int = 20,
    batch_size: int = 16,
    lr: float = 1e-3,
    dropout: float = 0.2,
    dev_share: float = 0.2,
) -> np.ndarray:
    """Test predictions of one Dropout+Linear probe on one layer (X: (n, d) float)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    Xtr = torch.as_tensor(np.asarray(X_train, dtype=np.float32))
    ytr = torch.as_tensor(np.asarray(y_train, dtype=np.float32))
    n = len(Xtr)
    perm = torch.randperm(n, generator=g)
    n_dev = max(1, int(dev_share * n))
    dev, tr = perm[:n_dev], perm[n_dev:]
    model = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(Xtr.shape[1], 1))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.SmoothL1Loss()
    best, best_state = float("inf"), None
    for _ in range(epochs):
        model.train()
        order = tr[torch.randperm(len(tr), generator=g)]
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[idx])[:, 0], ytr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            dev_loss = float(loss_fn(model(Xtr[dev])[:, 0], ytr[dev]))
        if dev_loss < best:
            best, best_state = dev_loss, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(X_test, dtype=np.float32)))[:, 0].numpy()
