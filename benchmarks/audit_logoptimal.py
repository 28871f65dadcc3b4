r"""Exploration for issue 14: witnesses fitted online to maximise the past pairs' log wealth.

Not yet a registered test (see docs/auditing.md, "Log-optimal witness"). At each refit time of
``witnesses.refit_schedule`` the witness g = theta . F(v) is fitted on the past pairs only by
damped Newton on  sum_j log(1 + g(x_j) - g(y_j)) - ridge |theta|^2  (the bet is part of g), then
clipped to its range on a grid of [0, 1] plus the pooled past scores and scaled to oscillation
<= CAP: the payoff 1 + g(x_t) - g(y_t) is then >= 1 - CAP > 0 and has conditional mean 1 under
P = Q (eps = 0 only; one sample per prompt). Features F:
  rankL<d>  shifted Legendre polynomials 1..d of the pooled-past mid-rank
  sqrtB<m>  m Gaussian bumps (width = spacing) on the square root of the score
  rawB<m>   m Gaussian bumps on the raw score
Prints rejection rate / median pairs on the SAME folds as benchmarks/audit_power.py (24 folds of
4000, seed 0; simulated scenarios and both dev files), for each member and their equal average.

    .venv/bin/python benchmarks/audit_logoptimal.py     # ~4 min on 2 cores
"""

from __future__ import annotations

import numpy as np
from audit_power import DEV_DIR, DEV_FILES, dev_file_folds, scenario_pairs, scenarios

from llm_behavior.audit.combine import average_log_wealth
from llm_behavior.audit.sequential import TESTS, SequentialResult
from llm_behavior.audit.witnesses import legendre_features, mid_ranks, refit_schedule

CAP = 0.95
GRID = np.linspace(0.0, 1.0, 257)
MEMBERS = {"logopt raw bumps": ("rawB10",), "logopt rank+sqrt": ("rankL4", "sqrtB8")}
RIDGE = 20.0


def features(spec: tuple[str, ...], pooled: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Feature matrix (len(v), K) of the parts in ``spec`` (see module doc)."""
    out = []
    for part in spec:
        if part.startswith("rankL"):
            out.append(legendre_features(mid_ranks(pooled[None], v[None])[0], int(part[5:])))
        else:
            raw = part.startswith("rawB")
            m = int(part[4:] if raw else part[5:])
            s = np.clip(v, 0.0, 1.0) if raw else np.sqrt(np.clip(v, 0.0, 1.0))
            centres = np.linspace(0.0, 1.0, m)
            out.append(np.exp(-0.5 * ((s[:, None] - centres) * (m - 1)) ** 2))
    return np.concatenate(out, axis=1)


def fit_theta(d: np.ndarray, ridge: float, theta: np.ndarray, iters: int = 20) -> np.ndarray:
    """Maximise sum log(1 + d theta) - ridge |theta|^2 by damped Newton from ``theta``."""

    def objective(t: np.ndarray) -> float:
        p = 1.0 + d @ t
        return -np.inf if p.min() <= 1e-3 else float(np.log(p).sum() - ridge * t @ t)

    current = objective(theta)
    if not np.isfinite(current):
        theta = np.zeros_like(theta)
        current = objective(theta)
    for _ in range(iters):
        p = 1.0 + d @ theta
        grad = d.T @ (1.0 / p) - 2.0 * ridge * theta
        hess = (d / p[:, None] ** 2).T @ d + 2.0 * ridge * np.eye(len(theta))
        step = np.linalg.solve(hess, grad)
        a, new, value = 1.0, theta, current
        while a > 1e-4:
            new = theta + a * step
            value = objective(new)
            if value >= current:
                break
            a *= 0.5
        else:
            break
        gain, theta, current = value - current, new, value
        if gain < 1e-8:
            break
    return theta


def logopt_log_wealth(x: np.ndarray, y: np.ndarray, spec: tuple[str, ...]) -> np.ndarray:
    """Log-wealth (S, n) of the log-optimal witness with features ``spec`` (one fold per row)."""
    n_seq, n = x.shape
    times = refit_schedule(n)
    log_payoff = np.zeros((n_seq, n))
    for s in range(n_seq):
        theta = None
        for k, tau in enumerate(times):
            end = times[k + 1] if k + 1 < len(times) else n
            pooled = np.sort(np.concatenate([x[s, :tau], y[s, :tau]]))
            d = features(spec, pooled, x[s, :tau]) - features(spec, pooled, y[s, :tau])
            theta = fit_theta(d, RIDGE, np.zeros(d.shape[1]) if theta is None else theta)
            g = features(spec, pooled, np.concatenate([GRID, pooled])) @ theta
            lo, hi = g.min(), g.max()
            if hi - lo <= 1e-12:
                continue
            scale = min(1.0, CAP / (hi - lo))
            gx = np.clip(features(spec, pooled, x[s, tau:end]) @ theta, lo, hi) * scale
            gy = np.clip(features(spec, pooled, y[s, tau:end]) @ theta, lo, hi) * scale
            log_payoff[s, tau:end] = np.log1p(gx - gy)
    return np.cumsum(log_payoff, axis=1)


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The folds of benchmarks/audit_power.py: simulated scenarios and both dev files."""
    names = ["null", "a0.02", "a0.03", "a0.04", "b3", "b3.5", "c20", "c25"]
    out = {name: scenario_pairs(name, cand, 24, 4000, 0) for name, cand in scenarios(names).items()}
    for file in DEV_FILES:
        if (DEV_DIR / file).exists():
            xf, yf, *_ = dev_file_folds(DEV_DIR / file, 4000, 0)
            out[file.split("_vs_")[1].removesuffix(".csv")] = (xf, yf)
    return out


def cell(log_wealth: np.ndarray) -> str:
    s = SequentialResult("t", 0.05, 0.0, log_wealth).summary()
    median = s["median_pairs_to_rejection"]
    return f"{s['rejection_rate']:.2f}/{'-' if median is None else f'{median:.0f}'}"


def main() -> None:
    data = datasets()
    print("rate / median pairs to rejection, 24 folds of 4000, seed 0, alpha 0.05")
    print(f"{'test':<28}" + "".join(f"{name:>12}" for name in data))
    rows: dict[str, list[str]] = {name: [] for name in [*MEMBERS, "average of both", "combined"]}
    for x, y in data.values():
        logs = [logopt_log_wealth(x, y, spec) for spec in MEMBERS.values()]
        for name, lw in zip(MEMBERS, logs, strict=True):
            rows[name].append(cell(lw))
        rows["average of both"].append(cell(average_log_wealth(logs)))
        rows["combined"].append(cell(TESTS["combined"].log_wealth(x, y)))
    for name, cells in rows.items():
        print(f"{name:<28}" + "".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()
