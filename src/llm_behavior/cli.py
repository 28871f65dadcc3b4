"""The ``llm-behavior`` console script.

Subcommands (each a small function registered in ``SUBCOMMANDS``):
- ``audit FILE --a COL --b COL``: anytime-valid audit of paired scores computed elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def __getattr__(name: str) -> object:
    """Kedro imports ``<package>.cli`` and requires a click group named ``cli`` there: its commands
    are added to (and override) ``kedro``'s. It holds the project's ``kedro run`` (run files keep
    their params; llm_behavior/run_command.py), imported only when Kedro asks: importing Kedro's
    CLI configures its logging, which must stay out of ``llm-behavior``'s output (``main``)."""
    if name == "cli":
        from llm_behavior.run_command import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SUBCOMMANDS: dict[
    str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------- audit
LONG_COLUMNS = ("prompt_id", "sample", "side", "metric", "value")


@dataclass
class ScoreColumns:
    """What the audit reads from a file: the two sides' scores, the unit of each row, names."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray | None
    a: str
    b: str
    source: str  # "columns" or "long scores (scorer/metric)"


def _number_list(values: object, where: str) -> list[float]:
    """A JSON list of numbers or nulls (booleans, strings and nested lists are refused)."""
    if not isinstance(values, list):
        raise CliError(f"{where} must be a list of numbers, got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if v is None:
            out.append(np.nan)
        elif isinstance(v, bool) or not isinstance(v, int | float):
            raise CliError(f"{where}[{i}] must be a number or null, got {json.dumps(v)[:40]}")
        else:
            out.append(float(v))
    return out


def _read_json(
    path: Path, names: Sequence[str]
) -> tuple[dict[str, list[float] | None], list[str], dict[str, list]]:
    text = path.read_text()
    if path.suffix.lower() != ".json":
        data: object = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        data = json.loads(text)
    if isinstance(data, dict):  # an object of lists
        available = list(data)
        columns = {n: _number_list(data[n], f"{path}: {n!r}") if n in data else None for n in names}
        raw = {n: data[n] for n in available}
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):  # records
        available = sorted({k for r in data for k in r})
        columns = {
            n: _number_list([r.get(n) for r in data], f"{path}: column {n!r}")
            if n in available
            else None
            for n in names
        }
        raw = {k: [r.get(k) for r in data] for k in available}
    else:
        raise CliError(f"{path}: JSON must be a non-empty list of records or an object of lists")
    return columns, available, raw


def _frame(path: Path) -> object:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


def _numeric_column(frame: object, name: str, path: Path) -> np.ndarray:
    col = frame[name]  # type: ignore[index]
    if col.dtype == bool:
        raise CliError(f"{path}: column {name!r} holds booleans, not scores")
    try:
        return col.to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise CliError(f"{path}: column {name!r} holds non-numeric values ({err})") from err


def _one_behaviour(table: pd.DataFrame, path: Path, args: argparse.Namespace) -> tuple[str, str]:
    """The one (scorer, metric) of ``table`` (its distinct pairs) that --scorer/--metric name."""
    scorers, metrics = sorted(table["scorer"].unique()), sorted(table["metric"].unique())
    if args.scorer is not None and args.scorer not in scorers:
        hint = (
            f" ({args.scorer!r} is a metric: --metric {args.scorer})"
            if args.scorer in metrics
            else ""
        )
        raise CliError(f"{path}: no scorer {args.scorer!r}{hint}; scorers: {scorers}")
    if args.metric is not None and args.metric not in metrics:
        raise CliError(f"{path}: no metric {args.metric!r}; metrics: {metrics}")
    pairs = table
    if args.metric is not None:
        pairs = pairs[pairs["metric"] == args.metric]
    if args.scorer is not None:
        pairs = pairs[pairs["scorer"] == args.scorer]
    if len(pairs) != 1:
        given = " ".join(
            f"--{flag} {value}"
            for flag, value in (("scorer", args.scorer), ("metric", args.metric))
            if value is not None
        )
        what = (
            f"no (scorer, metric) matches {given}"
            if pairs.empty
            else f"several (scorer, metric) match {given or 'the table'}"
        )
        # several: the matches to choose from; none: everything the table has
        choices = table if pairs.empty else pairs
        raise CliError(
            f"{path}: {what}; name one with --scorer and --metric: "
            f"{sorted(map(tuple, choices.to_numpy().tolist()))}"
        )
    return str(pairs.iloc[0]["scorer"]), str(pairs.iloc[0]["metric"])


def _long_scores(frame: object, path: Path, args: argparse.Namespace) -> ScoreColumns:
    """The pipeline's long scores table: one behaviour
    (--scorer/--metric), sides by name, prompts as groups."""
    from llm_behavior.audit.tables import Behaviour, pair_behaviour_scores
    from llm_behavior.audit.transforms import ScoreTransform

    a, b = args.a or "reference", args.b or "candidate"
    if args.group not in (None, "prompt_id"):
        raise CliError(
            "a long scores table is grouped by prompt_id (the audit's unit); drop --group"
        )
    scorer, metric = _one_behaviour(frame[["scorer", "metric"]].drop_duplicates(), path, args)  # type: ignore[index]
    sides = sorted(frame["side"].unique())  # type: ignore[index]
    for side in (a, b):
        if side not in sides:
            raise CliError(f"{path}: no rows with side {side!r}; sides present: {sides}")
    subset = frame[frame["side"].isin([a, b])].replace({"side": {a: "reference", b: "candidate"}})  # type: ignore[index]
    if "reason" not in subset:
        subset = subset.assign(reason=None)
    behaviour = Behaviour(str(metric), str(metric), str(scorer), ScoreTransform(clip=args.clip))
    wide, _ = pair_behaviour_scores(subset, [behaviour])
    return ScoreColumns(
        wide[f"{metric}:reference"].to_numpy(float),
        wide[f"{metric}:candidate"].to_numpy(float),
        wide["prompt_id"].astype(str).to_numpy(),
        a,
        b,
        f"long scores ({scorer}/{metric})",
    )


def read_score_columns(  # noqa: PLR0912  (one branch per file format and per input error, each with its message)
    path: Path, a: str | None, b: str | None, args: argparse.Namespace | None = None
) -> ScoreColumns:
    """Two score columns (and the group column) from CSV, parquet or JSON (records, an object of
    lists, or JSON lines), or one behaviour of the pipeline's long ``scores.parquet``.

    Missing values (empty cells, null) become NaN; anything else that is not a number is an error.
    """
    from llm_behavior.audit.validation import AuditInputError

    args = args or argparse.Namespace(group=None, scorer=None, metric=None, clip=False)
    if not path.exists():
        raise CliError(f"file not found: {path}")
    # a versioned catalog entry (data/04_feature/<pair>/scores.parquet/<version>/...)
    if path.is_dir():
        from llm_behavior.versions import latest_path

        try:
            path = latest_path(path)
        except FileNotFoundError as exc:
            raise CliError(str(exc)) from None
        print(f"reading the latest saved version: {path}", file=sys.stderr)
    suffix = path.suffix.lower()
    group = args.group
    try:
        if suffix in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
            frame = _frame(path)
            if all(c in frame.columns for c in LONG_COLUMNS) and not (
                a in frame.columns and b in frame.columns
            ):
                return _long_scores(frame, path, args)
            if a is None or b is None:
                raise CliError(
                    f"{path}: name the two score columns with "
                    f"--a and --b; columns: {list(frame.columns)}"
                )
            available = list(frame.columns)
            wanted = [n for n in (a, b, group) if n is not None]
            missing = [n for n in wanted if n not in available]
            if missing:
                raise CliError(f"{path}: column(s) {missing} not found; available: {available}")
            x, y = _numeric_column(frame, a, path), _numeric_column(frame, b, path)
            groups = None if group is None else frame[group].to_numpy(dtype=object)  # type: ignore[index]
        elif suffix in (".json", ".jsonl", ".ndjson"):
            if a is None or b is None:
                raise CliError(f"{path}: name the two score columns with --a and --b")
            columns, available, raw = _read_json(path, (a, b))
            missing = [n for n in (a, b) if columns[n] is None] + (
                [group] if group and group not in raw else []
            )
            if missing:
                raise CliError(f"{path}: column(s) {missing} not found; available: {available}")
            x, y = np.array(columns[a], dtype=float), np.array(columns[b], dtype=float)
            groups = None
            if group is not None:
                labels = raw[group]
                if not isinstance(labels, list) or any(isinstance(v, list | dict) for v in labels):
                    raise CliError(f"{path}: group {group!r} must be a list of labels")
                groups = np.array(labels, dtype=object)
        else:
            raise CliError(
                f"{path}: unsupported file type {suffix!r} (use .csv, .parquet or .json)"
            )
    except CliError:
        raise
    except AuditInputError as err:
        raise CliError(f"{path}: {err}") from err
    except (ValueError, OSError, KeyError) as err:
        raise CliError(f"{path}: cannot read: {err}") from err
    if groups is not None and len(groups) != len(x):
        raise CliError(f"{path}: group {group!r} has {len(groups)} labels for {len(x)} rows")
    if groups is not None and any(
        v is None or (isinstance(v, float) and np.isnan(v)) for v in groups
    ):
        raise CliError(f"{path}: group {group!r} has missing labels; every row needs its unit")
    return ScoreColumns(x, y, groups, a, b, "columns")


def _positive(name: str, minimum: int = 1) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from err
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be >= {minimum}, got {value}")
        return value

    return parse


def _unit_float(name: str, low_open: bool, high: float, high_open: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from err
        ok = (value > 0 if low_open else value >= 0) and (
            value < high if high_open else value <= high
        )
        if not ok or not np.isfinite(value):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"{name} must be in {lo}0, {high:g}{hi}, got {text}")
        return value

    return parse


def _audit_parser(parser: argparse.ArgumentParser) -> None:
    from llm_behavior.audit import DEFAULT_TEST

    parser.add_argument(
        "file",
        type=Path,
        help="CSV, parquet or JSON (records or an object of lists) with the scores, "
        "or the pipeline's long data/04_feature/<pair>/scores.parquet",
    )
    parser.add_argument(
        "--a",
        default=None,
        help="column of the reference's scores; for a long scores table the "
        "reference SIDE (default: reference)",
    )
    parser.add_argument(
        "--b",
        default=None,
        help="column of the candidate's scores; for a long scores table the "
        "candidate SIDE (default: candidate)",
    )
    parser.add_argument(
        "--group",
        default=None,
        metavar="COLUMN",
        help="rows with one value of COLUMN are one unit (a prompt's samples): one bet per unit "
        "(default: every row its own unit; long scores tables: prompt_id)",
    )
    parser.add_argument(
        "--scorer",
        default=None,
        help="long scores table: the scorer (when several report the metric)",
    )
    parser.add_argument(
        "--metric", default=None, help="long scores table: the metric (when the table has several)"
    )
    parser.add_argument(
        "--test", default=None, help=f"test name or 'all' (default: {DEFAULT_TEST})"
    )
    parser.add_argument(
        "--eps",
        type=_unit_float("--eps", False, 1.0, True),
        default=0.0,
        help="tolerance: H0 is D(P, Q) <= eps, in [0, 1) (default 0)",
    )
    parser.add_argument(
        "--alpha",
        type=_unit_float("--alpha", True, 1.0, True),
        default=0.05,
        help="level in (0, 1) (default 0.05)",
    )
    parser.add_argument(
        "--fold-size",
        type=_positive("--fold-size", 2),
        default=None,
        help="split into disjoint shuffled folds of N units (default: one sequential run)",
    )
    parser.add_argument(
        "--max-folds",
        type=_positive("--max-folds"),
        default=None,
        help="use at most this many folds (default: all)",
    )
    parser.add_argument(
        "--seed",
        type=_positive("--seed", 0),
        default=0,
        help="seed of the shuffle of units and of the folds (default 0)",
    )
    parser.add_argument(
        "--no-shuffle",
        action="store_true",
        help="single run: keep the file order (default: units in a seeded random order)",
    )
    parser.add_argument(
        "--clip", action="store_true", help="clip scores outside [0, 1] instead of failing"
    )
    parser.add_argument(
        "--min-pairs",
        type=_positive("--min-pairs"),
        default=10,
        help="fewest complete pairs accepted (default 10)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default text)"
    )


def _tests_to_run(name: str | None) -> list[str]:
    from llm_behavior.audit import DEFAULT_TEST, available_tests

    if name is None:
        return [DEFAULT_TEST]
    if name == "all":
        return [t for t in available_tests() if t != "neural_per_pair"]
    if name not in available_tests():
        raise CliError(f"unknown test {name!r}; available: {available_tests()} or 'all'")
    return [name]


def _verdict(name: str, row: dict[str, object], alpha: float, eps: float) -> str:
    h0 = f"H0: D <= {eps:g}" if eps else "H0: same score law"
    if row["rejected"]:
        return (
            f"{name}: behaviour shifted ({h0} rejected at alpha {alpha:g}) after "
            f"{row['prompts_to_rejection']} units ({row['pairs_to_rejection']} pairs); max wealth "
            f"{row['max_wealth']:.3g}, p <= {row['p_value_bound']:.2g}"
        )
    return (
        f"{name}: no shift detected ({h0} not rejected at alpha {alpha:g}) in {row['n_prompts']} "
        f"units ({row['n_pairs']} pairs); max wealth {row['max_wealth']:.3g} (rejects at "
        f"{1 / alpha:g}), p <= {row['p_value_bound']:.2g}"
    )


def _run_audit(args: argparse.Namespace) -> int:
    from llm_behavior.audit import (
        AuditInputError,
        audit_behaviours,
        check_alpha_eps,
        clean_pairs,
        fold_run,
    )
    from llm_behavior.audit.units import group_layout

    try:
        check_alpha_eps(args.alpha, args.eps)
        tests = _tests_to_run(args.test)
        cols = read_score_columns(args.file, args.a, args.b, args)
        pairs = clean_pairs(
            cols.x, cols.y, clip=args.clip, min_pairs=args.min_pairs, names=(cols.a, cols.b)
        )
        keep = ~(np.isnan(cols.x) | np.isnan(cols.y))
        x, y = np.clip(cols.x[keep], 0.0, 1.0), np.clip(cols.y[keep], 0.0, 1.0)  # validated above
        groups = None if cols.groups is None else cols.groups[keep]
        n_units = group_layout(groups, x.size).n_prompts
        if args.fold_size is not None:
            if args.fold_size > n_units:
                raise CliError(
                    f"--fold-size {args.fold_size} exceeds the {n_units} units with complete pairs"
                )
        if any(t.startswith("neural") for t in tests):
            if groups is not None and n_units != x.size:
                raise CliError(
                    "the neural test needs one sample per unit; drop --group or use another --test"
                )
            size = args.fold_size or pairs.n_pairs
            if size < 200:
                raise CliError(
                    "the neural test needs at least 200 pairs "
                    f"per run (2 batches of 100), got {size}"
                )
    except (CliError, AuditInputError) as err:
        print(f"llm-behavior audit: error: {err}", file=sys.stderr)
        return 2

    report: dict[str, object] = {
        "tests": {},
        "source": cols.source,
        "reference": cols.a,
        "candidate": cols.b,
        "n_pairs": pairs.n_pairs,
        "n_prompts": n_units,
        "n_dropped": pairs.n_dropped,
        "unit": "rows" if groups is None else f"groups of {args.group or 'prompt_id'}",
    }
    if args.fold_size is not None:
        runs = fold_run(
            x,
            y,
            tests,
            args.fold_size,
            eps=args.eps,
            alpha=args.alpha,
            seed=args.seed,
            max_folds=args.max_folds,
            groups=groups,
        )
        report["tests"] = runs["tests"]
        report.update(
            {
                "fold_size": args.fold_size,
                "fold_unit": "units",
                "n_unused_pairs": runs["n_unused_pairs"],
                "seed": args.seed,
                "shuffled": True,
            }
        )
    else:
        if args.no_shuffle:
            order = group_layout(groups, x.size).order
        else:
            order = group_layout(groups, x.size).permuted(args.seed).order
        x_run, y_run = x[order], y[order]
        g_run = None if groups is None else groups[order]
        report.update(
            {"seed": None if args.no_shuffle else args.seed, "shuffled": not args.no_shuffle}
        )
        for name in tests:
            out = audit_behaviours(
                {"score": (x_run, y_run)}, name, args.eps, args.alpha, args.min_pairs, groups=g_run
            )
            b = out["behaviours"]["score"]
            report["mean_shift"], report["mean_shift_ci"] = b["mean_shift"], b["mean_shift_ci"]
            report["tests"][name] = {  # type: ignore[index]
                "rejected": b["rejected"],
                "prompts_to_rejection": b["prompts_to_rejection"],
                "pairs_to_rejection": b["pairs_to_rejection"],
                "samples_to_rejection": b["pairs_to_rejection"],
                "n_prompts": b["n_prompts"],
                "n_pairs": b["n_pairs"],
                "final_wealth": b["final_wealth"],
                "max_wealth": b["max_wealth"],
                "p_value_bound": b["p_value_bound"],
            }
    report.update(
        {
            "eps": args.eps,
            "alpha": args.alpha,
            "n_clipped": pairs.n_clipped,
            "sign": "mean_shift = mean(candidate --b) - mean(reference --a)",
        }
    )
    if args.format == "json":
        print(json.dumps(report, allow_nan=False))
    else:
        _print_report(report, args)
    return 0


def _print_report(report: dict[str, object], args: argparse.Namespace) -> None:
    unit = "units" if report["unit"] != "rows" else "pairs"
    print(
        f"{report['n_pairs']} pairs in {report['n_prompts']} "
        f"{unit if unit == 'units' else 'units (one pair each)'} from {report['source']} "
        f"({report['n_dropped']} dropped with NaN, {report['n_clipped']} scores clipped); "
        f"alpha={args.alpha} eps={args.eps}; {report['candidate']} vs {report['reference']}"
    )
    if args.fold_size:
        print(f"disjoint folds of {args.fold_size} units, units shuffled with seed {args.seed}")
        print(
            f"{'test':<16} {'folds':>5} {'rejection rate':>15} {'median units to rej.':>21} "
            f"{'median pairs to rej.':>21} {'mean final log wealth':>22}"
        )
        for name, row in report["tests"].items():  # type: ignore[union-attr]
            mu, mp = row["median_prompts_to_rejection"], row["median_pairs_to_rejection"]
            print(
                f"{name:<16} {row['folds']:>5} {row['rejection_rate']:>15.3f} "
                f"{'-' if mu is None else f'{mu:.0f}':>21} "
                f"{'-' if mp is None else f'{mp:.0f}':>21} {row['mean_final_log_wealth']:>22.2f}"
            )
    else:
        if report["shuffled"]:
            print(
                f"one sequential run; units in a seeded random order (seed {args.seed}; "
                "--no-shuffle keeps the file order)"
            )
        else:
            print(
                "one sequential run in FILE order (--no-shuffle): valid only if that order was "
                "fixed without looking at the scores (e.g. prompts in collection order)"
            )
        low, high = report["mean_shift_ci"]  # type: ignore[misc]
        print(
            f"mean shift (candidate - reference) {report['mean_shift']:+.4g} "
            f"(95% CI {low:+.4g} to {high:+.4g}, fixed-sample)"
        )
        for name, row in report["tests"].items():  # type: ignore[union-attr]
            print(_verdict(name, row, args.alpha, args.eps))
    print(
        "reject H0 (D <= eps) when the wealth reaches 1/alpha "
        f"= {1 / args.alpha:g}; valid at any stopping time"
    )


SUBCOMMANDS["audit"] = (_audit_parser, _run_audit)


# ----------------------------------------------------------------------------------------- main
class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (no usage block, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="llm-behavior", description="Measure, compare and audit LLM behaviour."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    helps = {"audit": "anytime-valid test of a behavioural shift between two score columns"}
    for name, (configure, run) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=helps.get(name), description=helps.get(name))
        configure(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 2 bad input; --help returns 0)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # argparse: --help, or a bad argument already printed in one line
        return int(stop.code or 0)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
