"""Typed settings of the audit job, read from ``auditing`` in conf/base/parameters_auditing.yml.

Every key is required here: the defaults live only in the YAML file. Unknown keys and missing
keys are errors naming them (a typo such as ``alhpa`` must not silently fall back to a default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from llm_behavior.audit.sequential import available_tests
from llm_behavior.audit.validation import AuditInputError, check_alpha_eps


def _check_keys(section: str, given: Mapping[str, Any], cls: type) -> None:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise AuditInputError(f"{section}: unknown keys {unknown}; known: {sorted(names)}")
    missing = sorted(names - set(given))
    if missing:
        raise AuditInputError(
            f"{section}: missing keys {missing} (defaults are in conf/base/parameters_auditing.yml)"
        )


def _int(section: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AuditInputError(f"{section}.{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _test(section: str, name: str, value: Any) -> str:
    if value not in available_tests():
        raise AuditInputError(
            f"{section}.{name}: unknown test {value!r}; available: {available_tests()}"
        )
    return str(value)


@dataclass(frozen=True)
class FoldSettings:
    """``auditing.folds``: disjoint folds of prompts, their tests and the power sweep."""

    fold_size: int | str  # prompts per fold, or "auto"
    target_folds: int
    min_fold_size: int
    max_folds: int | None
    tests: tuple[str, ...]
    sweep_test: str
    eps_grid: tuple[float, ...] | None
    eps_grid_points: int

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> FoldSettings:
        section = "auditing.folds"
        if not isinstance(params, Mapping):
            raise AuditInputError(f"{section} must be a mapping, got {params!r}")
        _check_keys(section, params, cls)
        size = params["fold_size"]
        if size != "auto":
            size = _int(section, "fold_size", size, 2)
        tests = params["tests"]
        if isinstance(tests, str) or not isinstance(tests, list | tuple) or not tests:
            raise AuditInputError(
                f"{section}.tests must be a non-empty list of test names, got {tests!r}"
            )
        grid = params["eps_grid"]
        if grid is not None:
            if (
                isinstance(grid, str)
                or not isinstance(grid, list | tuple)
                or not all(
                    isinstance(e, int | float) and not isinstance(e, bool) and 0 <= e < 1
                    for e in grid
                )
            ):
                raise AuditInputError(
                    f"{section}.eps_grid must be null or a list of numbers in [0, 1), got {grid!r}"
                )
            grid = tuple(float(e) for e in grid)
        max_folds = params["max_folds"]
        return cls(
            fold_size=size,
            target_folds=_int(section, "target_folds", params["target_folds"], 1),
            min_fold_size=_int(section, "min_fold_size", params["min_fold_size"], 2),
            max_folds=None if max_folds is None else _int(section, "max_folds", max_folds, 1),
            tests=tuple(_test(section, "tests", t) for t in tests),
            sweep_test=_test(section, "sweep_test", params["sweep_test"]),
            eps_grid=grid,
            eps_grid_points=_int(section, "eps_grid_points", params["eps_grid_points"], 2),
        )

    def fold_size_for(self, n_prompts: int) -> int | None:
        """Prompts per fold for ``n_prompts`` audited
        prompts, or None when there are not two folds."""
        size = self.fold_size
        if size == "auto":
            size = max(self.min_fold_size, min(4000, n_prompts // self.target_folds))
        size = int(size)
        return size if n_prompts >= 2 * size and size >= self.min_fold_size else None


@dataclass(frozen=True)
class AuditSettings:
    """``auditing``: level, tolerance, test, order, behaviours and folds of the audit job."""

    alpha: float
    eps: float | str  # a number, or "noise_floor"
    calibration_fraction: float
    test: str
    seed: int
    shuffle: bool
    min_pairs: int
    behaviours: Mapping[str, Mapping[str, Any]]
    folds: FoldSettings

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> AuditSettings:
        section = "auditing"
        if not isinstance(params, Mapping):
            raise AuditInputError(f"{section} must be a mapping, got {params!r}")
        _check_keys(section, params, cls)
        alpha, eps = params["alpha"], params["eps"]
        if eps == "noise_floor":
            check_alpha_eps(alpha, 0.0)
        elif isinstance(eps, bool) or not isinstance(eps, int | float):
            raise AuditInputError(
                f"{section}.eps must be a number in [0, 1) or 'noise_floor', got {eps!r}"
            )
        else:
            check_alpha_eps(alpha, eps)
            eps = float(eps)
        fraction = params["calibration_fraction"]
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 < fraction < 1
        ):
            raise AuditInputError(
                f"{section}.calibration_fraction must be in (0, 1), got {fraction!r}"
            )
        if not isinstance(params["shuffle"], bool):
            raise AuditInputError(
                f"{section}.shuffle must be true or false, got {params['shuffle']!r}"
            )
        behaviours = params["behaviours"]
        if not isinstance(behaviours, Mapping) or not behaviours:
            raise AuditInputError(
                f"{section}.behaviours must name at least one behaviour, got {behaviours!r}"
            )
        return cls(
            alpha=float(alpha),
            eps=eps,
            calibration_fraction=float(fraction),
            test=_test(section, "test", params["test"]),
            seed=_int(section, "seed", params["seed"], 0),
            shuffle=params["shuffle"],
            min_pairs=_int(section, "min_pairs", params["min_pairs"], 1),
            behaviours=dict(behaviours),
            folds=FoldSettings.from_dict(params["folds"]),
        )
