"""Kedro datasets of the project."""

from llm_behavior.datasets.activations import ActivationStoreDataset
from llm_behavior.datasets.chunk_store import ChunkStoreDataset
from llm_behavior.datasets.embedder import EmbedderDataset
from llm_behavior.datasets.language_model import LanguageModelDataset
from llm_behavior.datasets.report import FigureDataset, OptionalDataset
from llm_behavior.datasets.versions import RunVersionDataset

__all__ = [
    "ActivationStoreDataset",
    "ChunkStoreDataset",
    "EmbedderDataset",
    "FigureDataset",
    "LanguageModelDataset",
    "OptionalDataset",
    "RunVersionDataset",
]
