"""Kedro dataset giving nodes a resumable :class:`~llm_behavior.chunks.ChunkStore`."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError

from llm_behavior.chunks import ChunkStore


class ChunkStoreDataset(AbstractDataset[None, ChunkStore]):
    """Loads a handle on a folder of parquet chunks; nodes append to it as they go."""

    def __init__(
        self, path: str, key_column: str = "row_key", metadata: dict[str, Any] | None = None
    ):
        self._path = path
        self._key_column = key_column
        self.metadata = metadata

    def load(self) -> ChunkStore:
        return ChunkStore(self._path, self._key_column)

    def save(self, data: ChunkStore) -> None:
        raise DatasetError(
            "ChunkStoreDataset is written by appending chunks through the loaded store"
        )

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "key_column": self._key_column}
