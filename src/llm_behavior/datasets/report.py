"""Datasets the HTML report reads: saved figures as PNG bytes, and outputs that may be absent."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, AbstractVersionedDataset, DatasetError, Version
from kedro.io.core import VERSIONED_FLAG_KEY
from matplotlib.figure import Figure


class FigureDataset(AbstractVersionedDataset[Figure, bytes]):
    """A matplotlib figure saved as a PNG file; loads back as the PNG's bytes (for embedding).

    kedro-datasets' ``MatplotlibDataset`` cannot load; the report needs the saved image, so the
    plots it embeds are declared with this type and become inputs of the report node (which also
    orders the report after them). ``versioned: true`` in the catalog keeps every run's figure
    (``<filepath>/<version>/<name>``) and loads the latest. ``bbox_inches``: matplotlib's
    (``tight`` crops the margins; null keeps the figure's size).
    """

    def __init__(
        self,
        filepath: str,
        dpi: int = 120,
        bbox_inches: str | None = "tight",
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._dpi = int(dpi)
        self._bbox_inches = bbox_inches
        self.metadata = metadata

    def load(self) -> bytes:
        path = Path(str(self._get_load_path()))
        if not path.is_file():
            raise DatasetError(f"figure file not found: {path}")
        return path.read_bytes()

    def save(self, data: Figure) -> None:
        import matplotlib.pyplot as plt

        if not isinstance(data, Figure):
            raise DatasetError(
                f"FigureDataset saves a matplotlib Figure, got {type(data).__name__}"
            )
        path = Path(str(self._get_save_path()))
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = BytesIO()
        data.savefig(buffer, format="png", dpi=self._dpi, bbox_inches=self._bbox_inches)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)
        plt.close(data)

    def _exists(self) -> bool:
        try:
            return Path(str(self._get_load_path())).is_file()
        except DatasetError:  # versioned, and no version saved yet
            return False

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "dpi": self._dpi,
            "bbox_inches": self._bbox_inches,
            "version": self._version,
        }


class OptionalDataset(AbstractDataset[Any, Any]):
    """Another dataset that may not have been written yet: its load is None when it does not exist.

    The report reads the optional pipelines' outputs (contrastive search, probing, profiling)
    through their own catalog entries, which wrap their dataset in this type; a pipeline that has
    not been run leaves its outputs absent and its section out of the report. Saving, existence,
    versions and paths are the wrapped dataset's; ``versioned: true`` goes on this entry::

        probe_summary:
          type: llm_behavior.datasets.OptionalDataset
          versioned: true
          dataset:
            type: pandas.CSVDataset
            filepath: data/08_reporting/${_pair}/probe_summary.csv
    """

    def __init__(
        self,
        dataset: AbstractDataset | dict[str, Any],
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        if isinstance(dataset, AbstractDataset):
            self._dataset = dataset
        else:
            self._dataset = self._from_config(dict(dataset), version)
        self.metadata = metadata

    @staticmethod
    def _from_config(config: dict[str, Any], version: Version | None) -> AbstractDataset:
        if VERSIONED_FLAG_KEY in config:
            raise DatasetError(
                "OptionalDataset: put 'versioned' on the "
                "OptionalDataset entry, not on the dataset it wraps"
            )
        if version:
            config[VERSIONED_FLAG_KEY] = True
            return AbstractDataset.from_config("_optional", config, version.load, version.save)
        return AbstractDataset.from_config("_optional", config)

    @property
    def dataset(self) -> AbstractDataset:
        return self._dataset

    def __getattr__(self, name: str) -> Any:
        # versions and paths (``_version``, ``resolve_load_version``, ``_get_load_path``,
        # ``_filepath``) are the wrapped dataset's: run provenance and the console's file names read
        # them
        inner = self.__dict__.get("_dataset")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    def load(self) -> Any:
        return self._dataset.load() if self._dataset.exists() else None

    def save(self, data: Any) -> None:
        self._dataset.save(data)

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _release(self) -> None:
        self._dataset.release()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "optional": True}
