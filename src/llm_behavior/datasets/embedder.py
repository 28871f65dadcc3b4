"""A read-only Kedro dataset that loads a sentence embedder by name (the contrastive search's).

``sentence_transformers`` is imported inside ``load`` only; the loaded embedder is kept on the
dataset, so every node that reads it gets the same one. Never versioned.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError


class EmbedderDataset(AbstractDataset[None, Any]):
    """Loads a texts -> unit-norm embeddings function (``divergence.embeddings.load_minilm``).

    Example catalog entry (the hook adds it from ``contrastive_search.embedding_model``)::

        search.embedder:
          type: llm_behavior.datasets.EmbedderDataset
          name: all-MiniLM-L6-v2   # or a local sentence-transformers folder
    """

    def __init__(
        self,
        name: str = "all-MiniLM-L6-v2",
        device: str = "cpu",
        metadata: dict[str, Any] | None = None,
    ):
        self._name = str(name)
        self._device = str(device)
        self._embedder: Any = None
        self.metadata = metadata

    def load(self) -> Any:
        if self._embedder is None:
            from llm_behavior.divergence.embeddings import load_minilm

            self._embedder = load_minilm(self._name, device=self._device)
        return self._embedder

    def save(self, data: Any) -> None:
        raise DatasetError("EmbedderDataset is read-only: an embedder is loaded by name, not saved")

    def _exists(self) -> bool:
        return True

    def _release(self) -> None:
        self._embedder = None

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name, "device": self._device, "loaded": self._embedder is not None}
