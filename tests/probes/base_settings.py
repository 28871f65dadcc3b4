"""The probing settings of conf/base/parameters_probing.yml with a test's overrides merged in
(key by key, as Kedro merges a run file or ``--params``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.profiles.base_settings import merge

BASE = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_probing.yml"


def probing_params(**overrides: Any) -> dict[str, Any]:
    """``probing`` of the base parameters file with ``overrides`` merged in."""
    return merge(yaml.safe_load(BASE.read_text())["probing"], overrides)
