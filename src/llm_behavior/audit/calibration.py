"""Distance estimates, the A/A noise floor, eps calibration and power sweeps over eps.

``estimate_distance`` is a cross-fitted held-out estimate of D(P, Q): a witness is chosen and
fitted on one half of the PROMPTS (all samples of a prompt in one half) (mean, density-ratio or
best-threshold witness, all of oscillation <= 1), its mean difference is measured on the other half,
and the two halves swap roles. For each fitted witness phi the held-out difference is unbiased for E
phi(X) - E phi(Y) <= D, so the estimate is (in expectation) a lower bound on D; under P = Q it is
centred at 0. The A/A noise floor is this estimate between the reference and its replicate (same
spec, another seed): the distance one would "see" between two identical models at this sample size.
Standard errors are clustered by prompt (samples of one prompt may be dependent).

``calibrate_eps`` and ``calibrated_power_sweep`` keep calibration and audit apart: eps and the
eps grid come from calibration pairs (held-out prompts), the sweep runs on the audited pairs only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from llm_behavior.audit.folds import make_folds, run_folds
from llm_behavior.audit.sequential import summarise
from llm_behavior.audit.units import cluster_mean_se, group_layout
from llm_behavior.audit.witnesses import RankBinWitness, RatioWitness, ThresholdWitness

_CANDIDATES: dict[str, RankBinWitness | None] = {
    "mean": None,
    "ratio": RatioWitness(n_bins=20, bandwidth=0.1, prior=1.0, space="raw"),
    "threshold": ThresholdWitness(n_bins=20, prior=1.0, space="raw"),
}


@dataclass(frozen=True)
class DistanceEstimate:
    d_hat: float  # held-out witness distance (cross-fitted average)
    standard_error: float
    upper: float  # one-sided upper confidence bound at ``level``
    level: float
    witness: str  # witness chosen most often on the fitting halves
    # mean(y) - mean(x) on all pairs: second side (candidate) minus first (reference)
    mean_difference: float
    n_pairs: int
    n_prompts: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _witness_values(name: str, fit_x: np.ndarray, fit_y: np.ndarray) -> tuple[callable, float]:
    """(phi, in-sample mean difference) for a candidate witness fitted on one half."""
    witness = _CANDIDATES[name]
    if witness is None:
        return (lambda v: v), float(np.mean(fit_x) - np.mean(fit_y))
    state = witness.fit(fit_x[None, :], fit_y[None, :])

    def phi(v: np.ndarray) -> np.ndarray:
        return witness.evaluate(state, np.asarray(v, dtype=float)[None, :])[0]

    return phi, float(np.mean(phi(fit_x)) - np.mean(phi(fit_y)))


def estimate_distance(
    x: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    level: float = 0.95,
    groups: np.ndarray | None = None,
) -> DistanceEstimate:
    """Cross-fitted held-out estimate of D(P, Q) from paired scores in [0, 1] (see module doc).

    ``groups``: the prompt of each pair; the halves split prompts and the standard error is
    clustered by prompt (None: every pair its own prompt).
    """
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"need two equal-length score arrays, got {x.size} and {y.size}")
    layout = group_layout(groups, x.size)
    if layout.n_prompts < 4:
        raise ValueError(f"need >= 4 prompts to estimate a distance, got {layout.n_prompts}")
    shuffled = layout.permuted(seed)
    half = layout.n_prompts // 2
    parts = [np.arange(half), np.arange(half, layout.n_prompts)]
    halves = [(shuffled.rows_of(p), shuffled.sizes[p]) for p in parts]
    estimates, variances, chosen = [], [], []
    for (fit, _), (held, held_sizes) in ((halves[0], halves[1]), (halves[1], halves[0])):
        best = max(_CANDIDATES, key=lambda name: abs(_witness_values(name, x[fit], y[fit])[1]))
        phi, fitted_gap = _witness_values(best, x[fit], y[fit])
        sign = 1.0 if fitted_gap >= 0 else -1.0
        z = sign * (phi(x[held]) - phi(y[held]))
        d, se = cluster_mean_se(z, held_sizes)
        estimates.append(d)
        variances.append(se**2)
        chosen.append(best)
    d_hat = float(np.mean(estimates))
    se = float(np.sqrt(np.sum(variances)) / 2.0)  # mean of two independent halves
    upper = d_hat + float(stats.norm.ppf(level)) * se
    return DistanceEstimate(
        d_hat=d_hat,
        standard_error=se,
        upper=max(0.0, upper),
        level=level,
        witness=max(set(chosen), key=chosen.count),
        mean_difference=float(y.mean() - x.mean()),
        n_pairs=int(x.size),
        n_prompts=layout.n_prompts,
    )


def noise_floor(
    reference: np.ndarray,
    replicate: np.ndarray,
    seed: int = 0,
    level: float = 0.95,
    groups: np.ndarray | None = None,
) -> DistanceEstimate:
    """The A/A noise floor: distance estimate between a model and itself under another seed."""
    return estimate_distance(reference, replicate, seed=seed, level=level, groups=groups)


Pairs = tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray | None]


def _estimate(pairs: Pairs, seed: int, level: float) -> DistanceEstimate:
    x, y, *rest = pairs
    return estimate_distance(x, y, seed, level, groups=rest[0] if rest else None)


def calibrate_eps(
    acceptable: Mapping[str, Pairs],
    unacceptable: Mapping[str, Pairs] | None = None,
    n_grid: int = 6,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, object]:
    """Distances to acceptable variants (other seed/temperature) and unacceptable ones.

    Each entry is (x, y) or (x, y, groups). Suggested eps = the largest upper confidence bound over
    acceptable variants; the eps grid for a power sweep runs from 0 to the largest unacceptable
    distance estimate (or 2 x suggested eps). Pass pairs held out from the audit itself (other
    prompts), so that eps does not depend on audit data.
    """
    acc = {name: _estimate(p, seed, level) for name, p in acceptable.items()}
    unacc = {name: _estimate(p, seed, level) for name, p in (unacceptable or {}).items()}
    suggested = max((e.upper for e in acc.values()), default=0.0)
    top = max((e.d_hat for e in unacc.values()), default=2.0 * suggested)
    top = max(top, suggested, 1e-3)
    return {
        "acceptable": {k: v.as_dict() for k, v in acc.items()},
        "unacceptable": {k: v.as_dict() for k, v in unacc.items()},
        "suggested_eps": float(suggested),
        "eps_grid": [float(e) for e in np.linspace(0.0, top, n_grid)],
    }


def power_sweep(
    x: np.ndarray,
    y: np.ndarray,
    eps_grid: Sequence[float],
    test: str,
    fold_size: int,
    *,
    alpha: float = 0.05,
    seed: int = 0,
    max_folds: int | None = None,
    groups: np.ndarray | None = None,
) -> list[dict[str, object]]:
    """Rejection rate and median prompts/pairs to rejection over disjoint folds for each eps.

    The grid must not come from these pairs (use ``calibrated_power_sweep``)."""
    folds = make_folds(x, y, fold_size, seed=seed, max_folds=max_folds, groups=groups)
    return [
        {"eps": float(eps), **summarise(run_folds(folds, test, float(eps), alpha))}
        for eps in eps_grid
    ]


def calibrated_power_sweep(
    audited: Pairs,
    calibration_acceptable: Mapping[str, Pairs],
    calibration_unacceptable: Mapping[str, Pairs],
    test: str,
    fold_size: int,
    *,
    n_grid: int = 5,
    eps_grid: Sequence[float] | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    max_folds: int | None = None,
) -> dict[str, object]:
    """eps calibration on the calibration pairs, then the power sweep over its grid (or the
    given ``eps_grid``) on the audited pairs only: ``{"eps_calibration", "power_sweep"}``."""
    calib = calibrate_eps(
        calibration_acceptable, calibration_unacceptable, n_grid=n_grid, seed=seed
    )
    grid = list(eps_grid) if eps_grid else calib["eps_grid"]
    x, y, *rest = audited
    sweep = power_sweep(
        x,
        y,
        grid,
        test,
        fold_size,
        alpha=alpha,
        seed=seed,
        max_folds=max_folds,
        groups=rest[0] if rest else None,
    )
    return {"eps_calibration": calib, "power_sweep": sweep}
