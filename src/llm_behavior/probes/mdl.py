"""Minimum description length of labels given encodings: the online (prequential) code.

Voita & Titov (2020): order the data (prompts shuffled with a seed, a prompt's rows kept
together), cut it at fractions 1/1024 .. 1/2 of N - each cut moved forward to the next prompt
boundary, so no prompt has rows on both sides of a cut - send the first block with the uniform
code, then each following block with a probe trained on everything before it (its penalty chosen
leaving whole prompts out, as in the cross-validated probes). Everything is in bits.

Units (the original mixes a SmoothL1 *sum* for the online part with a squared-error sum for the
"uniform" part, which are not code lengths and cannot be compared):

* classification (0/1 labels): a code is a probability; cost ``-log2 p(y)``; uniform = 1 bit/label.
* regression (labels in [0, 1]): labels are quantised to ``K = 1/precision`` bins and every code
  gives each bin a probability. Uniform: ``log2 K`` bits/label. Probe: a Gaussian with the probe's
  prediction as mean and its leave-one-out residual s.d. on the training block as s.d., truncated
  to [0, 1] and integrated over the bin.

Every model code is mixed with the uniform code at weight ``eps`` (1e-3), which keeps it a proper
code and bounds the cost of a confident miss; the mixing costs at most ``-log2(1-eps)`` bits/label.

Reported: ``online_bits``, ``uniform_bits``, ``compression = uniform/online`` (> 1: the encodings
make the labels cheaper to send), and ``null_bits``/``compression_vs_null``: the same online code
with an input-free probe (training-block mean and s.d., or class rate), which separates "the labels
are easy" from "the encodings carry them" (permuted labels give about 1 there).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtr

from llm_behavior.probes.linear import DEFAULT_ALPHAS, DEFAULT_LAMBDAS, logistic_fit, ridge_fit
from llm_behavior.probes.probing import ProbeSettings, Target, layer_blocks, permuted
from llm_behavior.probes.store import ActivationStore, layer_name

FRACTIONS: tuple[float, ...] = (
    1 / 1024,
    1 / 512,
    1 / 256,
    1 / 128,
    1 / 64,
    1 / 32,
    1 / 16,
    1 / 8,
    1 / 4,
    1 / 2,
)


def block_ends(
    n: int,
    fractions: Sequence[float] = FRACTIONS,
    min_first: int = 4,
    groups: np.ndarray | None = None,
) -> list[int]:
    """Increasing cut points: the training sizes of the online code, then ``n``.

    With ``groups`` (each row's prompt, in the coding order, a prompt's rows adjacent) every cut
    is moved forward to the next prompt boundary, so no prompt has rows on both sides of a cut
    (a probe is never scored on a prompt it was trained on), and the first block holds at least
    2 prompts.
    """
    cuts = sorted({int(f * n) for f in fractions if int(f * n) >= min_first and int(f * n) < n})
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must give one group per row ({n}), got shape {groups.shape}")
        change = np.flatnonzero(groups[1:] != groups[:-1]) + 1  # rows that start a new prompt
        if len(np.unique(groups)) != len(change) + 1:
            raise ValueError("the rows of a prompt must be adjacent in the coding order")
        if len(change) < 2:
            raise ValueError(f"{len(change) + 1} prompt(s) are too few for an online code")
        starts = change[1:]  # a block ending here holds >= 2 prompts
        pos = np.searchsorted(starts, np.asarray(cuts, dtype=int), side="left")
        cuts = sorted({int(starts[p]) for p in pos if p < len(starts)})
    if not cuts:
        raise ValueError(
            f"{n} examples are too few for an online code (first block >= {min_first})"
        )
    return cuts + [n]


def quantize(y: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of labels in [0, 1]."""
    return np.clip(np.floor(np.asarray(y) * n_bins), 0, n_bins - 1).astype(int)


def gaussian_bin_bits(
    bins: np.ndarray, mu: np.ndarray, sigma: np.ndarray, n_bins: int, eps: float = 1e-3
) -> np.ndarray:
    """Bits to send bin indices under N(mu, sigma^2) truncated to [0, 1], mixed with uniform.

    Shapes broadcast: ``bins`` (m,), ``mu`` (..., m), ``sigma`` (..., 1) or (..., m).
    """
    mu = np.clip(mu, 0.0, 1.0)
    sigma = np.maximum(sigma, 1e-9)
    lo = bins / n_bins
    hi = (bins + 1) / n_bins
    mass = ndtr((hi - mu) / sigma) - ndtr((lo - mu) / sigma)
    total = ndtr((1.0 - mu) / sigma) - ndtr((0.0 - mu) / sigma)
    p = mass / np.maximum(total, 1e-300)
    p = (1 - eps) * np.clip(p, 0.0, 1.0) + eps / n_bins
    return -np.log2(p)


def bernoulli_bits(y: np.ndarray, p1: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    p = np.where(np.asarray(y) > 0.5, p1, 1 - p1)
    p = (1 - eps) * np.clip(p, 0.0, 1.0) + eps / 2
    return -np.log2(p)


def online_code(
    store: ActivationStore,
    target: Target,
    *,
    seed: int = 0,
    fractions: Sequence[float] = FRACTIONS,
    precision: float = 0.01,
    eps: float = 1e-3,
    settings: ProbeSettings | None = None,
    control: bool = True,
) -> pd.DataFrame:
    """Online code length per layer (and for the permuted control) of one scenario's labels."""
    settings = settings or ProbeSettings()
    alphas = settings.alphas or DEFAULT_ALPHAS
    lambdas = settings.lambdas or DEFAULT_LAMBDAS
    n_bins = int(round(1.0 / precision))
    if n_bins < 2:
        raise ValueError(f"mdl precision must be < 0.5, got {precision}")
    rng = np.random.default_rng([seed, 104729])
    uniq, inverse = np.unique(target.groups, return_inverse=True)
    group_order = rng.permutation(len(uniq))
    rank = np.empty(len(uniq), dtype=int)
    rank[group_order] = np.arange(len(uniq))
    order = np.lexsort(
        (np.arange(len(inverse)), rank[inverse])
    )  # prompts in random order, rows together
    rows = target.rows[order]
    y_real = target.y[order]
    groups = target.groups[order]
    ys = [y_real] + ([permuted(y_real, groups, target.level, seed)] if control else [])
    Y = np.stack(ys, 1)
    n = len(rows)
    ends = block_ends(n, fractions, groups=groups)
    classification = target.task == "classification"
    per_label_uniform = 1.0 if classification else float(np.log2(n_bins))
    uniform_bits = n * per_label_uniform
    bins = None if classification else quantize(Y, n_bins)  # (n, T)
    layers = list(settings.layers) if settings.layers is not None else list(range(store.n_layers))
    first = ends[0]
    # the input-free ("null") online code: same blocks, no encodings
    null_bits = np.full(Y.shape[1], first * per_label_uniform)
    for a, b in zip(ends[:-1], ends[1:]):
        tr = Y[:a]
        if classification:
            p1 = (tr.sum(0) + 1) / (a + 2)
            null_bits += np.array(
                [bernoulli_bits(Y[a:b, t], p1[t], eps).sum() for t in range(Y.shape[1])]
            )
        else:
            mu = tr.mean(0)
            sd = tr.std(0, ddof=1)
            null_bits += np.array(
                [
                    gaussian_bin_bits(bins[a:b, t], mu[t], sd[t], n_bins, eps).sum()
                    for t in range(Y.shape[1])
                ]
            )
    records = []
    for block in layer_blocks(layers, n, store.d_model, settings.memory_mb):
        X = torch.from_numpy(store.load_layers(target.kind, block, rows, dtype=np.float64))
        online = np.full((len(block), Y.shape[1]), first * per_label_uniform)
        for a, b in zip(ends[:-1], ends[1:]):
            Yt = torch.from_numpy(Y[:a])
            if classification:
                fit = logistic_fit(
                    X[:, :a], Yt, lambdas, settings.standardize, seed=seed, groups=groups[:a]
                )
                p = fit.predict_proba(X[:, a:b]).numpy()  # (G, m, T)
                for t in range(Y.shape[1]):
                    online[:, t] += bernoulli_bits(Y[a:b, t][None, :], p[:, :, t], eps).sum(-1)
            else:
                fit = ridge_fit(X[:, :a], Yt, alphas, settings.standardize, groups=groups[:a])
                mu = fit.predict(X[:, a:b]).numpy()  # (G, m, T)
                sd = np.sqrt(fit.loo_mse.numpy())  # (G, T)
                for t in range(Y.shape[1]):
                    online[:, t] += gaussian_bin_bits(
                        bins[a:b, t], mu[:, :, t], sd[:, t, None], n_bins, eps
                    ).sum(-1)
        for gi, li in enumerate(block):
            for t, name in enumerate(["real", "control"][: Y.shape[1]]):
                records.append(
                    {
                        "scenario": target.scenario,
                        "task": name,
                        "layer": li,
                        "layer_name": layer_name(li),
                        "seed": seed,
                        "n": n,
                        "n_prompts": int(len(uniq)),
                        "first_block": first,
                        "n_blocks": len(ends),
                        "online_bits": float(online[gi, t]),
                        "uniform_bits": uniform_bits,
                        "null_bits": float(null_bits[t]),
                        "compression": uniform_bits / float(online[gi, t]),
                        "compression_vs_null": float(null_bits[t]) / float(online[gi, t]),
                        "bits_per_label": float(online[gi, t]) / n,
                        "precision": np.nan if classification else precision,
                    }
                )
    return pd.DataFrame.from_records(records)
