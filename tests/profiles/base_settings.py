"""The profiling settings of conf/base/parameters_profiling.yml with a test's overrides merged in
(key by key, as Kedro merges a run file or ``--params``): the tests use the defaults users get."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from llm_behavior.run_command import deep_merge as merge

BASE = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_profiling.yml"


def profiling_params(**overrides: Any) -> dict[str, Any]:
    """``profiling`` of the base parameters file with ``overrides`` merged in."""
    return merge(yaml.safe_load(BASE.read_text())["profiling"], overrides)


def part_params(name: str, **overrides: Any) -> dict[str, Any]:
    """The base settings of part ``name`` (``bias.bbq`` for a nested one) with ``overrides``."""
    section: Any = profiling_params()
    for key in name.split("."):
        section = section[key]
    return merge(section, overrides)


def bias_only(**datasets: Mapping[str, Any]) -> dict[str, Any]:
    """``profiling.bias`` with only ``datasets`` (crows_pairs, stereoset, bbq, seat) enabled, each
    with its overrides merged in."""
    off = {k: {"enabled": False} for k in ("crows_pairs", "stereoset", "bbq", "seat")}
    on = {k: {**v, "enabled": True} for k, v in datasets.items()}
    return part_params("bias", **merge(off, on))
