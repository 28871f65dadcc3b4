"""A read-only Kedro dataset that loads a language model from a spec.

Torch/transformers are imported inside ``load`` only. The loaded model is kept on the dataset,
so every node that reads it gets the same object (no copy, no reload). Never versioned.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError

from llm_behavior.models.spec import ModelSpec


class LanguageModelDataset(AbstractDataset[None, Any]):
    """Loads a :class:`~llm_behavior.models.LanguageModel` for a model spec.

    Example catalog entry::

        reference.language_model:
          type: llm_behavior.datasets.LanguageModelDataset
          spec: {source: smollm2-135m-instruct, quantization: 4bit-nf4}
          credentials: openai   # only for backend: openai
    """

    def __init__(
        self,
        spec: dict[str, Any] | ModelSpec,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        self._spec = spec if isinstance(spec, ModelSpec) else ModelSpec.from_dict(spec)
        self._credentials = dict(credentials or {})
        self._model: Any = None
        self.metadata = metadata

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    def load(self) -> Any:
        if self._model is None:
            from llm_behavior.models.factory import load_language_model

            self._model = load_language_model(self._spec, self._credentials)
        return self._model

    def save(self, data: Any) -> None:
        raise DatasetError(
            "LanguageModelDataset is read-only: models are loaded from their spec, never saved"
        )

    def _exists(self) -> bool:
        return True

    def _release(self) -> None:
        self._model = None

    def _describe(self) -> dict[str, Any]:
        # the spec holds no secrets (an API key is looked up by name at load time)
        return {"spec": self._spec.to_dict(), "loaded": self._model is not None}
