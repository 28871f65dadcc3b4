"""Typed settings of the contrastive search run (``contrastive_search`` in
conf/base/parameters_contrastive_search.yml).

The run's own keys are all required here: their defaults live only in the YAML file. Unknown and
missing keys are errors naming them. The science sections (``decoding``, ``search``,
``summaries``, ``assistant.generation``) are parsed by their own classes
(:class:`ContrastiveSettings`, :class:`SearchSettings`, :class:`SummarySettings`,
:class:`GenerationSettings`), which reject unknown keys too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from llm_behavior.divergence.decoding import ContrastiveSettings
from llm_behavior.divergence.search import SearchSettings
from llm_behavior.divergence.summaries import SummarySettings
from llm_behavior.divergence.tables import DIRECTIONS
from llm_behavior.models.spec import GenerationSettings

SECTION = "contrastive_search"
DEFAULTS = "conf/base/parameters_contrastive_search.yml"


class SettingsError(ValueError):
    """A ``contrastive_search`` setting is unknown, missing or out of range."""


def _mapping(name: str, given: Any, required: set[str] | frozenset[str]) -> Mapping[str, Any]:
    """``given``, a mapping holding every ``required`` key (an error names the missing ones)."""
    if not isinstance(given, Mapping):
        raise SettingsError(f"{name} must be a mapping, got {given!r}")
    missing = sorted(set(required) - set(given))
    if missing:
        raise SettingsError(f"{name}: missing keys {missing} (defaults: {DEFAULTS})")
    return given


def _section(name: str, given: Any, keys: set[str]) -> dict[str, Any]:
    """``given`` as a dict with exactly ``keys`` (an error names the unknown and missing ones)."""
    unknown = sorted(set(_mapping(name, given, keys)) - keys)
    if unknown:
        raise SettingsError(f"{name}: unknown keys {unknown}; known: {sorted(keys)}")
    return dict(given)


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _split(name: str, given: Any, run_keys: frozenset[str]) -> tuple[dict[str, Any], ...]:
    """A science section's run keys (all required) and the rest (for the science class, which
    rejects unknown keys)."""
    given = _mapping(name, given, run_keys)
    return {k: given[k] for k in run_keys}, {k: v for k, v in given.items() if k not in run_keys}


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SettingsError(f"{name} must be an integer >= {minimum}: {value!r}")
    return int(value)


def _direction(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if value not in DIRECTIONS:
        raise SettingsError(f"{name} must be one of {DIRECTIONS}: {value!r}")
    return str(value)


@dataclass(frozen=True)
class SeedPromptSettings:
    """``seed_prompts``: the seeded sample of the run's prompts (cycle 0 and the baseline)."""

    n: int | None  # null: all prompts
    seed: int

    @classmethod
    def from_dict(cls, given: Any, name: str = f"{SECTION}.seed_prompts") -> SeedPromptSettings:
        d = _section(name, given, _names(cls))
        n = None if d["n"] is None else _int(f"{name}.n", d["n"], 1)
        return cls(n=n, seed=_int(f"{name}.seed", d["seed"], 0))


@dataclass(frozen=True)
class SelectionSettings:
    """``selection``: the top prompts, their search/heldout split, and fresh re-scores."""

    top_n: int
    heldout_fraction: float
    include_seed_prompts: bool
    seed: int
    fresh_generations: int  # 0: no fresh re-scores

    @classmethod
    def from_dict(cls, given: Any, name: str = f"{SECTION}.selection") -> SelectionSettings:
        d = _section(name, given, _names(cls))
        fraction = d["heldout_fraction"]
        number = isinstance(fraction, int | float) and not isinstance(fraction, bool)
        if not number or not 0 <= fraction <= 1:
            raise SettingsError(
                f"{name}.heldout_fraction must be in [0, 1], got {fraction!r}"
            )
        return cls(
            top_n=_int(f"{name}.top_n", d["top_n"], 1),
            heldout_fraction=float(fraction),
            include_seed_prompts=bool(d["include_seed_prompts"]),
            seed=_int(f"{name}.seed", d["seed"], 0),
            fresh_generations=_int(f"{name}.fresh_generations", d["fresh_generations"], 0),
        )

    def select_kwargs(self) -> dict[str, Any]:
        """The arguments of ``prompt_sets.select_searched_prompts``."""
        return {
            "top_n": self.top_n,
            "heldout_fraction": self.heldout_fraction,
            "include_seed_prompts": self.include_seed_prompts,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class TokenViewSettings:
    """``token_view``: the colour-coded HTML view of the most divergent texts."""

    max_texts: int
    direction: str | None  # null: the search's direction

    @classmethod
    def from_dict(cls, given: Any, name: str = f"{SECTION}.token_view") -> TokenViewSettings:
        d = _section(name, given, _names(cls))
        return cls(
            max_texts=_int(f"{name}.max_texts", d["max_texts"], 1),
            direction=_direction(f"{name}.direction", d["direction"], optional=True),
        )


@dataclass(frozen=True)
class ContrastiveSearchSettings:
    """The whole ``contrastive_search`` block.

    ``assistant.model`` and ``embedding_model`` are kept as given: the hook
    (``llm_behavior.hooks.ModelDatasetsHook``) builds the datasets ``assistant.language_model``
    and ``search.embedder`` from them; the nodes receive the loaded models.
    """

    seed_prompts: SeedPromptSettings
    decoding: ContrastiveSettings
    search: SearchSettings
    checkpoint: str | None  # search.checkpoint: the resumable state, written after every cycle
    resume: bool  # search.resume
    assistant_model: dict[str, Any]
    assistant_generation: GenerationSettings
    embedding_model: str
    selection: SelectionSettings
    summaries: SummarySettings
    max_prompts: int  # summaries.max_prompts: top search-split prompts decoded for the summaries
    samples_per_prompt: int  # summaries.samples_per_prompt: texts per prompt and model
    token_view: TokenViewSettings

    TOP_KEYS = frozenset(
        {"seed_prompts", "decoding", "search", "assistant", "embedding_model", "selection",
         "summaries", "token_view"}
    )
    RUN_SEARCH_KEYS = frozenset({"checkpoint", "resume"})  # search keys of the run itself
    DECODE_KEYS = frozenset({"max_prompts", "samples_per_prompt"})  # summaries keys for decoding

    @property
    def direction(self) -> str:
        """``search.direction``: which KL the search, the texts and the summaries rank by."""
        return self.search.direction

    @classmethod
    def from_dict(cls, params: Any) -> ContrastiveSearchSettings:
        d = _section(SECTION, params, set(cls.TOP_KEYS))
        run, search = _split(f"{SECTION}.search", d["search"], cls.RUN_SEARCH_KEYS)
        decode, summaries = _split(f"{SECTION}.summaries", d["summaries"], cls.DECODE_KEYS)
        assistant = _section(f"{SECTION}.assistant", d["assistant"], {"model", "generation"})
        model = assistant["model"]
        if not isinstance(model, Mapping) or not model.get("source"):
            where = f"{SECTION}.assistant.model"
            raise SettingsError(f"{where} must be a model spec with a source, got {model!r}")
        name = f"{SECTION}.summaries"
        return cls(
            seed_prompts=SeedPromptSettings.from_dict(d["seed_prompts"]),
            decoding=ContrastiveSettings.from_dict(d["decoding"]),
            search=SearchSettings.from_dict(search),
            checkpoint=None if run["checkpoint"] is None else str(run["checkpoint"]),
            resume=bool(run["resume"]),
            assistant_model=dict(model),
            assistant_generation=GenerationSettings.from_dict(assistant["generation"]),
            embedding_model=str(d["embedding_model"]),
            selection=SelectionSettings.from_dict(d["selection"]),
            summaries=SummarySettings.from_dict(summaries),
            max_prompts=_int(f"{name}.max_prompts", decode["max_prompts"], 1),
            samples_per_prompt=_int(f"{name}.samples_per_prompt", decode["samples_per_prompt"], 1),
            token_view=TokenViewSettings.from_dict(d["token_view"]),
        )
