"""The ``llm-behavior`` console script.

Subcommands (each a small function registered in ``SUBCOMMANDS``):
- ``audit FILE --a COL --b COL``: anytime-valid audit of paired scores computed elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def __getattr__(name: str) -> object:
    """Kedro imports ``<package>.cli`` and requires a click group named ``cli`` there: its commands
    are added to (and override) ``kedro``'s. It holds the project's ``kedro run`` (run files keep
    their params; llm_behavior/run_command.py), imported only when Kedro asks: importing Kedro's
    CLI configures its logging, which must stay out of ``llm-behavior``'s output (``main``)."""
    if name == "cli":
        from llm_behavior.run_command import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------- audit
def read_score_columns(path: Path, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Two score columns from CSV, parquet or JSON (records, {a: [...], b: [...]}, or JSON lines).

    Missing values (empty cells, null) become NaN; non-numeric values are an error.
    """
    if not path.exists():
        raise CliError(f"file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            import pandas as pd

            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
            columns = {name: frame[name] if name in frame else None for name in (a, b)}
            available = list(frame.columns)
        elif suffix in (".parquet", ".pq"):
            import pandas as pd

            frame = pd.read_parquet(path)
            columns = {name: frame[name] if name in frame else None for name in (a, b)}
            available = list(frame.columns)
        elif suffix in (".json", ".jsonl", ".ndjson"):
            text = path.read_text()
            if suffix != ".json":
                data: object = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                data = json.loads(text)
            if isinstance(data, dict):  # two lists
                available = list(data)
                columns = {name: data.get(name) for name in (a, b)}
            elif isinstance(data, list) and all(isinstance(r, dict) for r in data):  # records
                available = sorted({k for r in data for k in r})
                columns = {name: [r.get(name) for r in data] if name in available else None for name in (a, b)}
            else:
                raise CliError(f"{path}: JSON must be a list of records or an object of two lists")
        else:
            raise CliError(f"{path}: unsupported file type {suffix!r} (use .csv, .parquet or .json)")
    except (ValueError, OSError) as err:
        if isinstance(err, CliError):
            raise
        raise CliError(f"{path}: cannot read: {err}") from err
    missing = [name for name, col in columns.items() if col is None]
    if missing:
        raise CliError(f"{path}: column(s) {missing} not found; available: {available}")
    out = []
    for name in (a, b):
        values = columns[name]
        try:
            arr = np.array([np.nan if v is None else v for v in list(values)], dtype=float)
        except (TypeError, ValueError) as err:
            raise CliError(f"{path}: column {name!r} holds non-numeric values ({err})") from err
        out.append(arr)
    return out[0], out[1]


def _audit_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="CSV, parquet or JSON (records or two lists) with the scores")
    parser.add_argument("--a", required=True, help="column of the first model's scores (reference)")
    parser.add_argument("--b", required=True, help="column of the second model's scores (candidate)")
    parser.add_argument("--test", default=None, help="test name or 'all' (default: the library default)")
    parser.add_argument("--eps", type=float, default=0.0, help="tolerance: H0 is D(P, Q) <= eps (default 0)")
    parser.add_argument("--alpha", type=float, default=0.05, help="level in (0, 1) (default 0.05)")
    parser.add_argument("--fold-size", type=int, default=None, help="split into disjoint shuffled folds of N pairs")
    parser.add_argument("--max-folds", type=int, default=None, help="use at most this many folds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold shuffle (default 0)")
    parser.add_argument("--shuffle", action="store_true", help="single run: shuffle the pairs (seeded) first")
    parser.add_argument("--clip", action="store_true", help="clip scores outside [0, 1] instead of failing")
    parser.add_argument("--min-pairs", type=int, default=10, help="fewest complete pairs accepted (default 10)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _tests_to_run(name: str | None) -> list[str]:
    from llm_behavior.audit import DEFAULT_TEST, available_tests

    if name is None:
        return [DEFAULT_TEST]
    if name == "all":
        return [t for t in available_tests() if t != "neural_per_pair"]
    if name not in available_tests():
        raise CliError(f"unknown test {name!r}; available: {available_tests()} or 'all'")
    return [name]


def _run_audit(args: argparse.Namespace) -> int:
    from llm_behavior.audit import AuditInputError, check_alpha_eps, clean_pairs, fold_run, run_test
    from llm_behavior.audit.sequential import wealth_from_log

    try:
        check_alpha_eps(args.alpha, args.eps)
        tests = _tests_to_run(args.test)
        x, y = read_score_columns(args.file, args.a, args.b)
        pairs = clean_pairs(x, y, clip=args.clip, min_pairs=args.min_pairs, names=(args.a, args.b))
        if args.fold_size is not None:
            if args.fold_size < args.min_pairs:
                raise CliError(f"--fold-size must be >= --min-pairs ({args.min_pairs}), got {args.fold_size}")
            if args.fold_size > pairs.n_pairs:
                raise CliError(f"--fold-size {args.fold_size} exceeds the {pairs.n_pairs} complete pairs")
        if any(t.startswith("neural") for t in tests):
            size = args.fold_size or pairs.n_pairs
            if size < 200:
                raise CliError(f"the neural test needs at least 200 pairs per run (2 batches of 100), got {size}")
    except (CliError, AuditInputError) as err:
        print(f"llm-behavior audit: error: {err}", file=sys.stderr)
        return 2

    report: dict[str, object] = {"tests": {}, "n_pairs": pairs.n_pairs, "n_dropped": pairs.n_dropped}
    if args.fold_size is not None:
        runs = fold_run(pairs.x, pairs.y, tests, args.fold_size, eps=args.eps, alpha=args.alpha,
                        seed=args.seed, max_folds=args.max_folds)
        report["tests"] = runs["tests"]
        report.update({"fold_size": args.fold_size, "n_unused_pairs": runs["n_unused_pairs"], "seed": args.seed})
    else:
        x_run, y_run = pairs.x, pairs.y
        if args.shuffle:
            order = np.random.default_rng(args.seed).permutation(pairs.n_pairs)
            x_run, y_run = x_run[order], y_run[order]
        for name in tests:
            result = run_test(x_run, y_run, name, eps=args.eps, alpha=args.alpha)
            entry = result.summary()
            entry.update({
                "rejected": bool(result.rejected[0]),
                "samples_to_rejection": None if np.isnan(result.samples_to_rejection[0]) else int(result.samples_to_rejection[0]),
                "final_wealth": wealth_from_log(result.log_wealth[0, -1]),
                "max_wealth": wealth_from_log(result.log_wealth[0].max()),
            })
            report["tests"][name] = entry  # type: ignore[index]
    report.update({"eps": args.eps, "alpha": args.alpha, "n_clipped": pairs.n_clipped})
    if args.format == "json":
        print(json.dumps(report, allow_nan=False))
    else:
        _print_table(report, args)
    return 0


def _print_table(report: dict[str, object], args: argparse.Namespace) -> None:
    mode = f"folds of {args.fold_size}" if args.fold_size else "one sequential run"
    print(f"{report['n_pairs']} pairs ({report['n_dropped']} dropped with NaN, {report['n_clipped']} scores clipped); "
          f"alpha={args.alpha} eps={args.eps}; {mode}")
    print(f"{'test':<16} {'folds':>5} {'rejection rate':>15} {'median samples to rejection':>28} {'mean final log wealth':>22}")
    for name, row in report["tests"].items():  # type: ignore[union-attr]
        median = row["median_samples_to_rejection"]
        print(f"{name:<16} {row['folds']:>5} {row['rejection_rate']:>15.3f} "
              f"{'-' if median is None else f'{median:.0f}':>28} {row['mean_final_log_wealth']:>22.2f}")
    print(f"reject H0 (D <= eps) when the wealth reaches 1/alpha = {1 / args.alpha:g}; valid at any stopping time")


SUBCOMMANDS["audit"] = (_audit_parser, _run_audit)


# ----------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-behavior", description="Measure, compare and audit LLM behaviour.")
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {"audit": "anytime-valid test of a behavioural shift between two score columns"}
    for name, (configure, run) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=helps.get(name), description=helps.get(name))
        configure(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
