"""Typed settings of the probing pipeline, read from ``probing`` in
conf/base/parameters_probing.yml (:mod:`llm_behavior.typed_settings`).

Every key is required here: the defaults live only in the YAML file (a run file or ``--params``
is merged onto it, key by key). Unknown, missing and mistyped keys are errors naming them. A key
the YAML documents as nullable is typed ``X | None`` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from llm_behavior.probes.extraction import INPUT_SPANS
from llm_behavior.probes.probing import SCENARIOS, ProbeSettings
from llm_behavior.typed_settings import Section as _Section
from llm_behavior.typed_settings import SettingsError

__all__ = ["ProbingSettings", "SettingsError"]

PROMPT_TOXICITY_SOURCES = ("scorer", "column")
DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class Section(_Section):
    """A mapping of ``probing`` settings (defaults in conf/base/parameters_probing.yml)."""

    where: ClassVar[str] = "probing"
    defaults_file: ClassVar[str] = "conf/base/parameters_probing.yml"


def _one_of(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(f"{where} must be one of {allowed}, got {value!r}")


@dataclass(frozen=True)
class BehaviourSettings(Section):
    """``probing.behaviour``: the scores table's ``scorer``/``metric`` that labels generations, and
    the ``threshold`` of the toxicity probability."""

    where = "probing.behaviour"
    scorer: str
    metric: str
    threshold: float


@dataclass(frozen=True)
class PromptToxicitySettings(Section):
    """``probing.prompt_toxicity``: ``source`` scorer (score the prompt texts with the behaviour
    scorer, ``scorer_params`` its arguments) or column (the prompts table's ``column``)."""

    where = "probing.prompt_toxicity"
    source: str
    column: str
    scorer_params: Mapping[str, Any] | None

    def __post_init__(self) -> None:
        _one_of(f"{self.where}.source", self.source, PROMPT_TOXICITY_SOURCES)


@dataclass(frozen=True)
class ExtractionSettings(Section):
    """``probing.extraction``: the forward passes' batches, the input span, the stored dtype."""

    where = "probing.extraction"
    batch_size: int
    max_batch_tokens: int | None  # null: no token budget
    input_span: str
    dtype: str

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise SettingsError(f"{self.where}.batch_size must be >= 1, got {self.batch_size}")
        _one_of(f"{self.where}.input_span", self.input_span, INPUT_SPANS)
        _one_of(f"{self.where}.dtype", self.dtype, DTYPES)


@dataclass(frozen=True)
class MDLSettings(Section):
    """``probing.mdl``: online codes, one per seed, with label quantisation and uniform mixing."""

    where = "probing.mdl"
    enabled: bool
    seeds: tuple[int, ...]
    precision: float
    eps: float


@dataclass(frozen=True)
class ProbingSettings(Section):
    """``probing``: what labels the probes, what is extracted, how probes and codes are fit."""

    sides: tuple[str, ...] | None  # null: every side in the scores table
    behaviour: BehaviourSettings
    prompt_toxicity: PromptToxicitySettings
    scenarios: tuple[str, ...] | None  # null: all of probing.SCENARIOS
    extraction: ExtractionSettings
    probes: ProbeSettings
    mdl: MDLSettings
    title: str  # the figures' title

    def __post_init__(self) -> None:
        unknown = sorted(set(self.scenarios or ()) - set(SCENARIOS))
        if unknown:
            raise SettingsError(f"probing.scenarios: unknown {unknown}; known: {list(SCENARIOS)}")

    @property
    def scenario_names(self) -> list[str]:
        """The scenarios to probe, in order."""
        return list(self.scenarios or SCENARIOS)
