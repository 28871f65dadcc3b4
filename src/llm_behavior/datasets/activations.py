"""Kedro dataset for an :class:`~llm_behavior.probes.store.ActivationStore` folder.

``load()`` opens the store (read-only memory maps; fails clearly if it is missing or incomplete).
``save(data)`` takes either

* a callable ``write(path) -> ActivationStore`` - the *lazy* form (as PartitionedDataset's lazy
  saving): the node returns the extraction to run, and it streams straight into this dataset's
  folder, chunk by chunk, resuming an interrupted run - nothing is held in memory; or
* an :class:`ActivationStore` already written elsewhere, which is copied here.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from llm_behavior.probes.store import ActivationStore, ActivationStoreError, remove_store


class ActivationStoreDataset(AbstractDataset[Any, ActivationStore]):
    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> ActivationStore:
        try:
            return ActivationStore.open(self._path)
        except ActivationStoreError as exc:
            raise DatasetError(str(exc)) from exc

    def save(self, data: ActivationStore | Callable[[Path], Any]) -> None:
        if isinstance(data, ActivationStore):
            if data.root.resolve() == self._path.resolve():
                return
            if self._path.exists():
                remove_store(self._path)
            shutil.copytree(data.root, self._path)
            return
        if callable(data):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            data(self._path)
            ActivationStore.open(self._path)  # fails if the writer left it incomplete
            return
        raise DatasetError(
            "ActivationStoreDataset saves an ActivationStore or "
            f"a callable writing one, got {type(data).__name__}"
        )

    def _exists(self) -> bool:
        try:
            ActivationStore.open(self._path)
        except ActivationStoreError:
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
