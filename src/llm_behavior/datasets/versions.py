"""A read-only dataset that says which catalog versions a run writes and reads."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError


def loaded_versions(catalog: Any, names: list[str] | None = None) -> dict[str, str]:
    """``{dataset: version it loads}`` for the versioned datasets of ``catalog`` that have a version
    on disk (``names``: only these; default: every dataset the catalog has built)."""
    out: dict[str, str] = {}
    for name in names if names is not None else list(catalog.keys()):
        try:
            dataset = catalog[name]
        except Exception:  # a pattern that does not resolve, or a broken entry: no version to name
            continue
        if getattr(dataset, "_version", None) is None or not hasattr(
            dataset, "resolve_load_version"
        ):
            continue
        try:
            version = dataset.resolve_load_version()
        except DatasetError:  # versioned, nothing saved yet
            continue
        if version:
            out[name] = str(version)
    return dict(sorted(out.items()))


class RunVersionDataset(AbstractDataset[None, dict[str, Any]]):
    """``{"save_version": ..., "loaded": {dataset: version}}`` of the running session.

    ``llm_behavior.hooks.VersionsHook`` binds it to the run's catalog and save version (Kedro's
    session id: every versioned output of one run shares it). Unbound (no hook), both are empty.
    """

    def __init__(self, metadata: dict[str, Any] | None = None):
        self.metadata = metadata
        self._catalog: Any = None
        self._save_version: str | None = None

    def bind(self, catalog: Any, save_version: str | None) -> None:
        self._catalog, self._save_version = catalog, save_version

    def load(self) -> dict[str, Any]:
        loaded = loaded_versions(self._catalog) if self._catalog is not None else {}
        return {"save_version": self._save_version, "loaded": loaded}

    def save(self, data: Any) -> None:
        raise DatasetError("RunVersionDataset is read-only: Kedro's session sets the versions")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"save_version": self._save_version}
