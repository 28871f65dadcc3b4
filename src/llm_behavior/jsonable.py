"""One JSON clean-up for the project's result files: :func:`to_jsonable`."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np


def to_jsonable(
    value: Any,
    *,
    arrays: Literal["list", "drop"] = "list",
    non_finite: Literal["null", "keep"] = "null",
) -> Any:
    """``value`` with plain JSON types only, recursively.

    - numpy scalars -> Python scalars (``np.int64`` -> int, ``np.bool_`` -> bool, ...);
    - numpy arrays -> lists (``arrays="list"``) or None (``arrays="drop"``: e.g. long trajectories
      kept out of a report);
    - NaN / +-inf -> None (``non_finite="null"``, strict JSON) or kept as floats (``"keep"``:
      Python's ``json`` writes and reads them back as NaN / Infinity, for a checkpoint that must
      round-trip);
    - tuples -> lists; dict keys -> str.
    Anything else is returned as it is (``json.dumps`` then says what it cannot write).
    """
    if arrays not in ("list", "drop") or non_finite not in ("null", "keep"):
        raise ValueError(
            f"to_jsonable: arrays={arrays!r} (list/drop), non_finite={non_finite!r} (null/keep)"
        )

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.ndarray):
            return [clean(x) for x in v.tolist()] if arrays == "list" else None
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v) and non_finite == "null":
            return None
        return v

    return clean(value)
