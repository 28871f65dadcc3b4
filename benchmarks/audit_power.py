r"""Power, samples to rejection and speed of the audit tests, side by side with the reference
neural test of the paper in the same run.

Data: toxicity-shaped paired scores (beta mixtures: most mass near 0, a long tail; prompts shared
by the two sides, see llm_behavior.audit.simulate). Scenarios:
  null   the same model, pairs swapped at random (exact H0; rates must stay <= alpha)
  a<d>   mean shift of d (more continuations in the toxic tail)
  b<c>   spread-only change in the tail: its Beta concentration drops from 5 to c, means unchanged
  c<c>   spread-only change in the bulk near 0: its Beta concentration drops from 31 to c,
         means unchanged
For each: rejection rate within FOLD_SIZE pairs over FOLDS disjoint folds (with its binomial
standard error) and the median samples to rejection (over rejecting folds), for every sequential
test, two references that know P and Q (the oracle: witness (p - q)/(p + q) and the Kelly-best
constant bet; and the same witness with a learned aGRAPA bet), the fixed-sample baselines at
n = FOLD_SIZE (not anytime-valid), and KS checked at every 100 pairs without correction (what the
original code reports; invalid). Then the speed of each test on 100k pairs.

Real score data (``--dev-files``, default: both files of shared/data/audit_dev, see its README):
Llama-3-8B-Instruct against two fine-tunes, Perspective toxicity, one sample per prompt. Pairs
with a missing score are dropped; the prompts are shuffled (seed) and cut into disjoint folds of
FOLD_SIZE; every test (the neural one included) runs on the SAME folds.

    .venv/bin/python benchmarks/audit_power.py                 # full run (neural included)
    .venv/bin/python benchmarks/audit_power.py --skip-neural   # seconds
    .venv/bin/python benchmarks/audit_power.py --scenarios --speed-pairs 0 \
        --neural-cache /tmp/neural.json  # dev files only
    .venv/bin/python benchmarks/audit_power.py --skip-neural --variants --speed-pairs 0
        # also the bet-size / combination variants of docs/auditing.md, same folds
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from llm_behavior.audit.baselines import fixed_sample_rejection, peeking_rejection
from llm_behavior.audit.betting import agrapa_log_wealth, bet
from llm_behavior.audit.combine import average_log_wealth
from llm_behavior.audit.neural import NeuralConfig, neural_test
from llm_behavior.audit.sequential import (
    DEFAULT_TEST,
    RATIO_RAW,
    SMOOTH,
    TESTS,
    SequentialResult,
)
from llm_behavior.audit.simulate import ToxicityShape, paired_scores, swap_randomly
from llm_behavior.audit.witnesses import (
    KernelWitness,
    RatioWitness,
    SmoothWitness,
    mean_increments,
    rank_witness_increments,
)

ALPHA = 0.05
FAST = [name for name, t in TESTS.items() if t.cost == "fast"]


def scenarios(names: list[str]) -> dict[str, ToxicityShape]:
    ref = ToxicityShape()
    table = {"null": ref}
    for name in names:
        if name.startswith("a"):
            table[name] = ref.with_mean_shift(float(name[1:]))
        elif name.startswith("b"):
            table[name] = ref.with_tail_spread(float(name[1:]))
        elif name.startswith("c"):
            table[name] = ref.with_bulk_spread(float(name[1:]))
    return {k: table[k] for k in names}


def density(shape: ToxicityShape, v: np.ndarray) -> np.ndarray:
    """Marginal density of a toxicity shape (the prompt propensity averages to the tail weight)."""
    w = shape.tail_weight
    return (1 - w) * stats.beta.pdf(v, shape.bulk_a, shape.bulk_b) + w * stats.beta.pdf(
        v, shape.tail_a, shape.tail_b
    )


def oracle_increments(
    ref: ToxicityShape, cand: ToxicityShape, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Increments z = phi(x) - phi(y) of the witness that KNOWS P and Q: phi = (p - q)/(p + q)
    rescaled to oscillation 1."""
    grid = np.linspace(1e-6, 1 - 1e-6, 20001)

    def phi(v: np.ndarray) -> np.ndarray:
        p, q = density(ref, v), density(cand, v)
        return (p - q) / np.maximum(p + q, 1e-300)

    scale = np.ptp(phi(grid))
    z = (phi(np.clip(x, 1e-9, 1 - 1e-9)) - phi(np.clip(y, 1e-9, 1 - 1e-9))) / scale
    return np.clip(z, -1, 1)


def oracle_log_wealth(
    ref: ToxicityShape, cand: ToxicityShape, x: np.ndarray, y: np.ndarray, seed: int
) -> np.ndarray:
    """A test that KNOWS P and Q: the oracle witness and the Kelly-best constant bet (from 200k
    fresh pairs). Valid (fixed witness and bet); it shows roughly how fast any witness-and-bet
    test could be on these laws."""
    xs, ys = paired_scores(ref, cand, (200_000,), np.random.default_rng(seed + 1))
    z_fit = oracle_increments(ref, cand, xs, ys)
    lam = optimize.minimize_scalar(
        lambda a: -np.mean(np.log1p(a * z_fit)), bounds=(-0.99, 0.99), method="bounded"
    ).x
    return np.cumsum(np.log1p(lam * oracle_increments(ref, cand, x, y)), axis=1)


def summarise(result: SequentialResult) -> tuple[float, float | None]:
    s = result.summary()
    return s["rejection_rate"], s["median_samples_to_rejection"]  # type: ignore[return-value]


def neural_rows(
    x: np.ndarray, y: np.ndarray, key: str, args: argparse.Namespace
) -> dict[str, dict]:
    """The neural test's rows (the paper's batch monitor and per-pair), from ``--neural-cache``
    under ``key`` when present, else run once and cached there."""
    cache = (
        json.loads(args.neural_cache.read_text())
        if args.neural_cache and args.neural_cache.exists()
        else {}
    )
    if key not in cache:
        t0 = time.perf_counter()
        run = neural_test(
            x, y, config=NeuralConfig(threads=args.threads), stop_log_wealth=np.log(1 / ALPHA)
        )
        seconds = time.perf_counter() - t0
        cache[key] = {}
        for label, monitor in (("neural (paper)", "batch"), ("neural per-pair", "pair")):
            rate, median = summarise(SequentialResult(label, ALPHA, 0.0, run.log_wealth(monitor)))
            cache[key][label] = {
                "valid": "yes",
                "rate": rate,
                "median": median,
                "seconds": seconds,
                "fits": len(run.epochs),
                "epochs": sum(run.epochs),
            }
        if args.neural_cache:
            args.neural_cache.write_text(json.dumps(cache, indent=1))
    return cache[key]


def scenario_pairs(
    name: str, cand: ToxicityShape, folds: int, fold_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated folds (folds, fold_size) of a scenario; the null's pairs are swapped at random."""
    rng = np.random.default_rng(seed)
    x, y = paired_scores(ToxicityShape(), cand, (folds, fold_size), rng)
    return swap_randomly(x, y, rng) if name == "null" else (x, y)


def run_scenario(
    name: str, cand: ToxicityShape, args: argparse.Namespace
) -> dict[str, dict[str, object]]:
    ref = ToxicityShape()
    x, y = scenario_pairs(name, cand, args.folds, args.fold_size, args.seed)
    if args.variants:
        variant_rows(name, x, y)
    rows: dict[str, dict[str, object]] = {}
    for test in FAST:
        t0 = time.perf_counter()
        result = SequentialResult(test, ALPHA, 0.0, TESTS[test].log_wealth(x, y))
        rate, median = summarise(result)
        rows[test] = {
            "valid": "yes",
            "rate": rate,
            "median": median,
            "seconds": time.perf_counter() - t0,
        }
    if name != "null":
        result = SequentialResult(
            "oracle", ALPHA, 0.0, oracle_log_wealth(ref, cand, x, y, args.seed)
        )
        rate, median = summarise(result)
        rows["oracle (knows P, Q)"] = {"valid": "yes", "rate": rate, "median": median}
        # the same witness with a LEARNED bet: what is left when only the bet must be learned
        result = SequentialResult(
            "oracle witness", ALPHA, 0.0, agrapa_log_wealth(oracle_increments(ref, cand, x, y))
        )
        rate, median = summarise(result)
        rows["oracle phi, aGRAPA bet"] = {"valid": "yes", "rate": rate, "median": median}
    if not args.skip_neural:
        rows.update(neural_rows(x, y, f"{name}|{args.folds}|{args.fold_size}|{args.seed}", args))
    fixed = fixed_sample_rejection(x, y, [args.fold_size], ALPHA)
    for test, rates in fixed.items():
        rows[f"{test} @n={args.fold_size}"] = {
            "valid": "fixed n",
            "rate": rates[args.fold_size],
            "median": None,
        }
    looks = list(range(100, args.fold_size + 1, 100))
    rows["ks peeking /100"] = {
        "valid": "NO",
        "rate": float(peeking_rejection(x, y, looks, ALPHA).mean()),
        "median": None,
    }
    return rows


def rate_se(rate: float, folds: int) -> float:
    """Binomial standard error of a rejection rate over ``folds`` folds."""
    return float(np.sqrt(rate * (1 - rate) / folds))


def print_table(
    name: str, cand: ToxicityShape, rows: dict[str, dict[str, object]], args: argparse.Namespace
) -> None:
    ref = ToxicityShape()
    print(
        f"\n== {name}: reference mean {ref.mean:.4f} sd {ref.variance**0.5:.4f} | candidate mean "
        f"{cand.mean:.4f} sd {cand.variance**0.5:.4f} | mean shift {cand.mean - ref.mean:+.4f} | "
        f"{args.folds} folds of {args.fold_size}"
    )
    neural = rows.get("neural (paper)")
    print(
        f"{'test':<22} {'anytime-valid':>13} {'reject rate (se)':>17} "
        f"{'median n':>9} {'vs neural':>14} {'seconds':>8}"
    )
    for test, row in rows.items():
        median = row["median"]
        versus = ""
        if neural is not None and test != "neural (paper)" and row["valid"] == "yes":
            if name.startswith("a") and median is not None and neural["median"]:
                versus = f"n x{median / neural['median']:.2f}"
            elif name[0] in "bc":
                versus = (
                    f"rate x{row['rate'] / neural['rate']:.2f}"
                    if neural["rate"]
                    else f"rate {row['rate']:.2f} vs 0"
                )
        seconds = f"{row['seconds']:.1f}" if "seconds" in row else ""
        rate = f"{row['rate']:.3f} ({rate_se(row['rate'], args.folds):.3f})"
        print(
            f"{test:<22} {row['valid']:>13} {rate:>17} "
            f"{'-' if median is None else f'{median:.0f}':>9} {versus:>14} {seconds:>8}"
        )
    if neural is not None:
        print(
            f"   neural cost: {neural['seconds']:.0f} s for {args.folds} "
            f"folds ({neural['fits']} fits, {neural['epochs']} epochs, "
            f"trained on all folds at once, {args.threads} torch thread(s))"
        )


DEV_DIR = next(
    (
        d
        for d in (
            Path(__file__).resolve().parents[1] / "shared" / "data" / "audit_dev",
            Path("/work/shared/data/audit_dev"),
        )
        if d.exists()
    ),
    Path("shared/data/audit_dev"),
)
DEV_FILES = ("llama3_8b_instruct_vs_finetune1.csv", "llama3_8b_instruct_vs_finetune2.csv")


def dev_file_folds(
    path: Path, fold_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Folds (xf, yf) of a real paired-scores file (pairs with a missing score dropped, prompts
    shuffled with ``seed``), its scores x, y and the mask ``keep`` of complete pairs."""
    import pandas as pd

    from llm_behavior.audit.folds import make_folds

    frame = pd.read_csv(path)
    x, y = frame["reference"].to_numpy(float), frame["candidate"].to_numpy(float)
    keep = ~(np.isnan(x) | np.isnan(y))
    folds = make_folds(x[keep], y[keep], fold_size, seed=seed)
    return folds.x, folds.y, x, y, keep


def dev_file_rows(path: Path, args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Every fast test and the neural test on the same
    disjoint folds of a real paired-scores file."""
    xf, yf, x, y, keep = dev_file_folds(path, args.fold_size, args.seed)
    if args.variants:
        variant_rows(path.name, xf, yf)
    rows: dict[str, dict[str, object]] = {}
    for test in FAST:
        t0 = time.perf_counter()
        rate, median = summarise(SequentialResult(test, ALPHA, 0.0, TESTS[test].log_wealth(xf, yf)))
        rows[test] = {
            "valid": "yes",
            "rate": rate,
            "median": median,
            "seconds": time.perf_counter() - t0,
        }
    if not args.skip_neural:
        rows.update(
            neural_rows(xf, yf, f"{path.name}|{xf.shape[0]}|{args.fold_size}|{args.seed}", args)
        )
    print(
        f"\n== {path.name}: {int(keep.sum())} complete pairs ({int((~keep).sum())} dropped), mean "
        f"shift {np.mean(y[keep] - x[keep]):+.4f}, sd {np.std(x[keep]):.3f} -> "
        f"{np.std(y[keep]):.3f} | {xf.shape[0]} folds of {args.fold_size} (seed {args.seed})"
    )
    neural = rows.get("neural (paper)")
    print(f"{'test':<22} {'reject rate':>11} {'median n':>9} {'vs neural':>10} {'seconds':>8}")
    for test, row in rows.items():
        median = row["median"]
        versus = (
            f"x{median / neural['median']:.2f}"
            if neural and median is not None and neural["median"]
            else ""
        )
        seconds = f"{row['seconds']:.1f}" if "seconds" in row else ""
        print(
            f"{test:<22} {row['rate']:>11.3f} {'-' if median is None else f'{median:.0f}':>9} "
            f"{versus:>10} {seconds:>8}"
        )
    return rows


# --variants: the bet-size / witness-shape / combination variants of docs/auditing.md ("Real score
# data"), on the same folds as the tables: (witness, bettor, weight) members averaged.
VARIANT_WITNESSES = {
    "mean": None,
    "kernel": KernelWitness(n_bins=20, bandwidth=0.1, space="raw"),
    "ratio": RATIO_RAW,
    "smooth": SMOOTH,
    "ratio_prior5": RatioWitness(n_bins=20, bandwidth=0.1, prior=5.0, space="raw"),
    "ratio_sqrt": RatioWitness(n_bins=20, bandwidth=0.1, prior=1.0, space="sqrt"),
    "smooth_raw4": SmoothWitness(n_bins=64, space="raw", degree=4),
}
VARIANTS: dict[str, list[tuple[str, str, float]]] = {
    **{f"{w}/{b}": [(w, b, 1.0)] for w in VARIANT_WITNESSES for b in ("agrapa", "ons", "mixture")},
    "combined (mean, smooth mixture)": [
        ("mean", "mixture", 0.35),
        ("kernel", "agrapa", 0.15),
        ("ratio", "ons", 0.25),
        ("smooth", "mixture", 0.25),
    ],
    "combined (all mixture)": [
        ("mean", "mixture", 0.35),
        ("kernel", "mixture", 0.15),
        ("ratio", "mixture", 0.25),
        ("smooth", "mixture", 0.25),
    ],
    "0.4 mean + 0.3 ratio + 0.3 smooth": [
        ("mean", "mixture", 0.4),
        ("ratio", "ons", 0.3),
        ("smooth", "mixture", 0.3),
    ],
    "combined (ratio prior 5)": [
        ("mean", "mixture", 0.35),
        ("kernel", "agrapa", 0.15),
        ("ratio_prior5", "ons", 0.25),
        ("smooth", "mixture", 0.25),
    ],
}


def variant_rows(label: str, x: np.ndarray, y: np.ndarray) -> None:
    """Print rate and median pairs of every variant on the folds x, y (S, n)."""
    z = {
        w: mean_increments(x, y) if wit is None else rank_witness_increments(x, y, wit)
        for w, wit in VARIANT_WITNESSES.items()
    }
    print(f"\n== variants on {label}")
    for name, members in VARIANTS.items():
        weights = np.array([m[2] for m in members])
        logs = [bet(z[w], b) for w, b, _ in members]
        rate, median = summarise(
            SequentialResult(name, ALPHA, 0.0, average_log_wealth(logs, weights / weights.sum()))
        )
        print(f"{name:<36} {rate:>6.3f} {'-' if median is None else f'{median:.0f}':>6}")


def speed(n: int, seed: int) -> None:
    ref = ToxicityShape()
    x, y = paired_scores(ref, ref.with_mean_shift(0.01), (n,), np.random.default_rng(seed))
    print(f"\n== speed on {n} pairs (one sequence, CPU process time)")
    for test in FAST:
        t0 = time.process_time()
        TESTS[test].log_wealth(x[None], y[None])
        print(f"{test:<22} {time.process_time() - t0:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=["null", "a0.02", "a0.03", "a0.04", "b3", "b3.5", "c20", "c25"],
    )
    parser.add_argument("--folds", type=int, default=24)
    parser.add_argument("--fold-size", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-neural", action="store_true")
    parser.add_argument(
        "--neural-cache",
        type=Path,
        default=None,
        help=(
            "JSON file keeping the neural rows per (scenario, folds, fold size, seed) between runs"
        ),
    )
    parser.add_argument("--speed-pairs", type=int, default=100_000)
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also print the bet-size and combination variants of docs/auditing.md (same folds)",
    )
    parser.add_argument(
        "--dev-files",
        nargs="*",
        type=Path,
        default=[DEV_DIR / f for f in DEV_FILES],
        help="real paired-score CSVs (columns reference, candidate); none: skip",
    )
    args = parser.parse_args()
    print(f"default test: {DEFAULT_TEST} = {TESTS[DEFAULT_TEST].description}; alpha = {ALPHA}")
    for name, cand in scenarios(args.scenarios).items():
        print_table(name, cand, run_scenario(name, cand, args), args)
    for path in args.dev_files:
        if path.exists():
            dev_file_rows(path, args)
        else:
            print(f"\n== {path}: not found (skipped)")
    if args.speed_pairs:
        speed(args.speed_pairs, args.seed)


if __name__ == "__main__":
    main()
