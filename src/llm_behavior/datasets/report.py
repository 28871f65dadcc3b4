"""Datasets the HTML report reads: saved figures as PNG bytes, and a run's reporting folder."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, AbstractVersionedDataset, DatasetError, Version
from matplotlib.figure import Figure


class FigureDataset(AbstractVersionedDataset[Figure, bytes]):
    """A matplotlib figure saved as a PNG file; loads back as the PNG's bytes (for embedding).

    kedro-datasets' ``MatplotlibDataset`` cannot load; the report needs the saved image, so the
    plots it embeds are declared with this type and become inputs of the report node (which also
    orders the report after them). ``versioned: true`` in the catalog keeps every run's figure
    (``<filepath>/<version>/<name>``) and loads the latest.
    """

    def __init__(
        self, filepath: str, dpi: int = 120, version: Version | None = None, metadata: dict[str, Any] | None = None
    ):
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._dpi = int(dpi)
        self.metadata = metadata

    def load(self) -> bytes:
        path = Path(str(self._get_load_path()))
        if not path.is_file():
            raise DatasetError(f"figure file not found: {path}")
        return path.read_bytes()

    def save(self, data: Figure) -> None:
        import matplotlib.pyplot as plt

        if not isinstance(data, Figure):
            raise DatasetError(f"FigureDataset saves a matplotlib Figure, got {type(data).__name__}")
        path = Path(str(self._get_save_path()))
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = BytesIO()
        data.savefig(buffer, format="png", dpi=self._dpi, bbox_inches="tight")
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
        return {"filepath": str(self._filepath), "dpi": self._dpi, "version": self._version}


# What the report can show from the optional pipelines, by file name in the reporting folder.
OPTIONAL_ARTIFACTS: dict[str, tuple[str, ...]] = {
    "contrastive_search": (
        "prompt_search_summary.json",
        "prompt_search_cycles.csv",
        "divergence_clusters.json",
        "divergence_tokens.html",
    ),
    "probing": (
        "probe_summary.csv",
        "probe_side_difference.csv",
        "probing_behaviour.csv",
        "probing_pearson_r.png",
        "probing_mdl_compression.png",
    ),
    "profiling": (
        "profile_reference.csv",
        "profile_candidate.csv",
        "profile_comparison.csv",
        "profile_reliability_diagram.png",
        "profile_diversity_vs_temperature.png",
        "profile_bias.png",
    ),
}


def latest_file(folder: Path, name: str) -> Path | None:
    """``folder/name``, or its latest version when it is a versioned dataset's folder
    (``folder/name/<version>/name``, the newest version holding the file); None if neither exists."""
    path = folder / name
    if path.is_file():
        return path
    if path.is_dir():
        versions = sorted((v for v in path.iterdir() if (v / name).is_file()), key=lambda v: v.name)
        if versions:
            return versions[-1] / name
    return None


def _read(path: Path) -> Any:
    """A reporting file by its suffix: CSV -> DataFrame, JSON -> object, PNG -> bytes, else text."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    if suffix == ".png":
        return path.read_bytes()
    return path.read_text(encoding="utf-8")


class ReportArtifactsDataset(AbstractDataset[None, dict[str, dict[str, Any]]]):
    """Read-only: the optional pipelines' outputs found in a run's reporting folder.

    Loads ``{pipeline: {file name: content}}`` for the files of :data:`OPTIONAL_ARTIFACTS` that
    exist, each at its latest version when versioned (a pipeline that has not been run is absent). These outputs are not inputs of the report
    node, so run ``kedro run --pipelines reporting`` after ``contrastive_search``, ``probing`` or
    ``profiling`` to include them.
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for pipeline, names in OPTIONAL_ARTIFACTS.items():
            paths = {name: latest_file(self._path, name) for name in names}
            files = {name: _read(path) for name, path in paths.items() if path is not None}
            if files:
                found[pipeline] = files
        return found

    def save(self, data: Any) -> None:
        raise DatasetError("ReportArtifactsDataset is read-only: each pipeline writes its own outputs")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
