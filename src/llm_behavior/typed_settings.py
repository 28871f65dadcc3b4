"""Typed settings read from a parameters file: a frozen dataclass per mapping, built by
:meth:`Section.from_dict` (the pattern of :mod:`llm_behavior.audit.settings`).

Every key is required: the defaults live only in the YAML file (a run file or ``--params`` is
merged onto it key by key). Unknown and missing keys are errors naming them and the known ones,
so a typo cannot silently fall back to a default; each value is converted to its field's
annotated type (int, float, str, bool, ``X | None``, ``tuple[X, ...]``, a mapping, a nested
section, or a dataclass with its own ``from_dict``) or the error names the key.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

S = TypeVar("S", bound="Section")


class SettingsError(ValueError):
    """A setting is unknown, missing or of the wrong type."""


def check_keys(where: str, given: Mapping[str, Any], names: list[str], defaults_file: str) -> None:
    """A :class:`SettingsError` unless ``given`` has exactly the keys ``names``."""
    unknown = sorted(set(given) - set(names))
    missing = [n for n in names if n not in given]
    if unknown:
        raise SettingsError(f"{where}: unknown keys {unknown}; known: {names}")
    if missing:
        raise SettingsError(
            f"{where}: missing keys {missing} (defaults are in {defaults_file}; a run file or "
            "--params is merged onto it)"
        )


def _scalar(where: str, hint: Any, value: Any) -> Any:
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
    raise TypeError(f"{where}: unsupported settings type {hint!r}")  # a bug in a Section


def convert(where: str, hint: Any, value: Any, defaults_file: str) -> Any:
    """``value`` as the type ``hint``, else a :class:`SettingsError` naming ``where``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert(where, inner, value, defaults_file)
    if isinstance(hint, type) and issubclass(hint, Section):
        return hint.from_dict(value, where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hasattr(hint, "from_dict"):
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where} must be a mapping, got {value!r}")
        check_keys(where, value, [f.name for f in fields(hint)], defaults_file)
        return hint.from_dict(value)
    if origin is tuple:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
            raise SettingsError(f"{where} must be a list, got {value!r}")
        return tuple(
            convert(f"{where}[{i}]", args[0], v, defaults_file) for i, v in enumerate(value)
        )
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    return _scalar(where, hint, value)


@dataclass(frozen=True)
class Section:
    """A mapping of settings: exactly its fields, each converted to its annotated type.

    Subclasses name where they are read (``where``, e.g. ``profiling.toxicity``) and the file
    holding their defaults (``defaults_file``), both for the error messages.
    """

    where: ClassVar[str] = "settings"
    defaults_file: ClassVar[str] = "conf/base/parameters_*.yml"

    @classmethod
    def from_dict(cls: type[S], params: Any, where: str | None = None) -> S:
        """The settings of ``params`` (a mapping with exactly the fields' keys; an instance of
        ``cls`` is returned as is)."""
        where = where or cls.where
        if isinstance(params, cls):
            return params
        if not isinstance(params, Mapping):
            raise SettingsError(f"{where} must be a mapping, got {params!r}")
        names = [f.name for f in fields(cls)]
        check_keys(where, params, names, cls.defaults_file)
        hints = get_type_hints(cls)
        return cls(
            **{n: convert(f"{where}.{n}", hints[n], params[n], cls.defaults_file) for n in names}
        )
