"""The catalog's saved versions: list the runs, find a run's files, prune old versions.

A versioned dataset ``data/.../name.ext`` (``versioned: true`` in conf/base/catalog_*.yml) saves
each run under ``data/.../name.ext/<version>/name.ext``; the version is the run's Kedro session id
(a UTC timestamp such as ``2026-12-03T06.01.02.345Z``), shared by every output of one run and
tagged on its tracked mlflow run (``llm_behavior.version``). A later pipeline loads the latest
version (``kedro run --load-versions name:<version>`` pins an older one).

    python -m llm_behavior.versions list [--data data] [--pair default]
    python -m llm_behavior.versions show <version>
    python -m llm_behavior.versions prune --keep 5 [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


@dataclass(frozen=True)
class VersionedDataset:
    """A versioned dataset's folder and its versions, oldest first."""

    path: Path
    versions: tuple[str, ...]

    def file(self, version: str) -> Path:
        return self.path / version / self.path.name


def is_version(name: str) -> bool:
    return bool(VERSION_RE.match(name))


def latest_path(path: str | Path) -> Path:
    """The file a dataset's ``filepath`` loads: itself when not versioned, else its latest version's
    file (``path/<version>/<name>``). Raises
    FileNotFoundError naming the path when neither exists."""
    path = Path(path)
    if path.is_file():
        return path
    versions = (
        sorted(c.name for c in path.iterdir() if is_version(c.name) and (c / path.name).exists())
        if path.is_dir()
        else []
    )
    if not versions:
        raise FileNotFoundError(f"no file and no saved version at {path}")
    return path / versions[-1] / path.name


def version_path(path: str | Path, version: str) -> Path:
    """Where a versioned dataset saves ``version`` (its parent folder created)."""
    path = Path(path)
    target = path / version / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def find_versioned(data: Path) -> list[VersionedDataset]:
    """Every versioned dataset folder under ``data``: a folder whose children are versions, each
    holding an entry of the folder's own name."""
    found: list[VersionedDataset] = []
    if not data.is_dir():
        return found
    for folder in sorted(p for p in data.rglob("*") if p.is_dir()):
        versions = sorted(
            child.name
            for child in folder.iterdir()
            if child.is_dir() and is_version(child.name) and (child / folder.name).exists()
        )
        if versions:
            found.append(VersionedDataset(folder, tuple(versions)))
    return found


def runs(datasets: list[VersionedDataset]) -> dict[str, list[Path]]:
    """``{version: files saved under it}``, newest version first."""
    by_version: dict[str, list[Path]] = defaultdict(list)
    for ds in datasets:
        for v in ds.versions:
            by_version[v].append(ds.file(v))
    return dict(sorted(by_version.items(), reverse=True))


def saved_names(files: list[Path], shown: int = 4) -> str:
    """What a run saved, in short: the files' stems, sorted, the first ``shown`` of them and how
    many more (``show <version>`` lists them all)."""
    stems = sorted({f.stem for f in files})
    more = f" (+{len(stems) - shown} more)" if len(stems) > shown else ""
    return ", ".join(stems[:shown]) + more


def prune(datasets: list[VersionedDataset], keep: int, dry_run: bool = False) -> list[Path]:
    """Remove all but the ``keep`` newest versions of each
    dataset; return what was (or would be) removed."""
    if keep < 1:
        raise ValueError(
            f"keep must be at least 1 (the latest version is what later pipelines read), got {keep}"
        )
    removed: list[Path] = []
    for ds in datasets:
        for v in ds.versions[:-keep]:
            folder = ds.path / v
            removed.append(folder)
            if not dry_run:
                shutil.rmtree(folder)
    return removed


def _datasets(args: argparse.Namespace) -> list[VersionedDataset]:
    found = find_versioned(Path(args.data))
    if args.pair:
        found = [ds for ds in found if args.pair in ds.path.relative_to(args.data).parts]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llm_behavior.versions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", default="data", help="the project's data folder (default: data)")
    parser.add_argument("--pair", default=None, help="only this pair's datasets")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "list",
        help="the runs (versions), newest first: files saved, pairs, what was saved",
    )
    show = sub.add_parser("show", help="the files one run (version) saved")
    show.add_argument("version")
    pr = sub.add_parser("prune", help="remove all but the newest versions of each dataset")
    pr.add_argument("--keep", type=int, default=5)
    pr.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    datasets = _datasets(args)
    out = sys.stdout
    if args.command == "list":
        for version, files in runs(datasets).items():
            pairs = sorted(
                {
                    f.relative_to(args.data).parts[1]
                    for f in files
                    if len(f.relative_to(args.data).parts) > 2
                }
            )
            out.write(
                f"{version}  {len(files):3d} files  pair: {', '.join(pairs)}  "
                f"saved: {saved_names(files)}\n"
            )
        return 0
    if args.command == "show":
        files = runs(datasets).get(args.version)
        if not files:
            parser.error(f"no dataset saved version {args.version!r} under {args.data}/")
        out.write("".join(f"{f}\n" for f in files))
        return 0
    try:
        removed = prune(datasets, args.keep, args.dry_run)
    except ValueError as exc:
        parser.error(str(exc))
    verb = "would remove" if args.dry_run else "removed"
    out.write(
        "".join(f"{verb} {p}\n" for p in removed) + f"{verb} {len(removed)} version folders\n"
    )
    return 0


def _main_to_a_pipe() -> int:
    """``main()``, quiet when the reader closes the pipe early (``... list | head``)."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(_main_to_a_pipe())
