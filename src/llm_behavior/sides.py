"""The sides of a run and the rule that makes each one's model spec.

``reference`` and ``candidate`` have their own ``model`` spec; the A/A ``replicate`` is the
reference's spec with another seed. Every side's ``seed_offset`` raises its ``generation.seed``.
:func:`side_spec` is that rule, once: the model datasets (``hooks.ModelDatasetsHook``), the
generation pipeline and the report all call it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from llm_behavior.schemas import SIDES

DEFAULTS = "conf/base/parameters_generation.yml"


def model_side(side: str) -> str:
    """The side whose ``model`` spec ``side`` uses (the replicate uses the reference's)."""
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; the sides are {SIDES}")
    return "reference" if side == "replicate" else side


def side_spec(parameters: Mapping[str, Any], side: str) -> dict[str, Any]:
    """The model spec dict ``side`` generates with: ``parameters[model_side(side)].model`` with
    ``generation.seed`` raised by ``parameters[side].seed_offset`` (a copy; the parameters stay)."""
    source = model_side(side)
    try:
        spec = copy.deepcopy(dict(parameters[source]["model"]))
    except (KeyError, TypeError) as exc:
        raise KeyError(f"parameters lack '{source}.model' (the {side} side's model spec)") from exc
    try:
        offset = parameters[side]["seed_offset"]
    except (KeyError, TypeError) as exc:
        raise KeyError(f"parameters lack '{side}.seed_offset' (defaults: {DEFAULTS})") from exc
    generation = dict(spec.get("generation") or {})
    generation["seed"] = int(generation.get("seed", 0)) + int(offset)
    spec["generation"] = generation
    return spec
