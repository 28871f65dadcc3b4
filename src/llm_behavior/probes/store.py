"""On-disk store of per-layer encodings: one memory-mapped ``.npy`` file per (kind, layer).

Layout of a store folder::

    meta.json                         format, layer names, width, dtype, content key, completeness
    input_index.parquet               one row per prompt: prompt_id, n_tokens, span
    output_index.parquet              one row per generation: prompt_id, sample, n_tokens
    input/<layer name>.npy            (n_prompts, d) float16, memory-mapped
    output/<layer name>.npy           (n_generations, d) float16, memory-mapped
    progress.npy                      bool per work item (resume marker)

Layer ``l`` is Hugging Face's ``hidden_states[l]``: ``l = 0`` is the embedding output, ``l = i``
the residual stream after the i-th block; the last layer is taken *before* the final norm (see
``meta["final_layer"]``). Names are TransformerLens' hook names exactly: layer 0 is
``blocks.0.hook_resid_pre`` (the embeddings, = ``hook_embed`` plus any positional embedding), layer
``i >= 1`` is ``blocks.{i-1}.hook_resid_post``, the output of block ``i - 1`` (blocks count from 0).

Rows are written in chunks straight into the memory maps, so memory stays bounded by one batch
whatever the number of prompts; readers get a read-only memmap per layer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "llm_behavior.activations/2"  # /2: TransformerLens layer names (stores of /1 are rebuilt)
KINDS: tuple[str, ...] = ("input", "output")


def layer_name(layer: int) -> str:
    """TransformerLens' name of ``hidden_states[layer]``: the embeddings
    (``blocks.0.hook_resid_pre``) for 0, else the output of block ``layer - 1``
    (``blocks.{layer-1}.hook_resid_post``)."""
    if layer < 0:
        raise ValueError(f"layer must be >= 0 (0 = embeddings), got {layer}")
    return "blocks.0.hook_resid_pre" if layer == 0 else f"blocks.{layer - 1}.hook_resid_post"


class ActivationStoreError(RuntimeError):
    """A store folder is missing, incomplete or was written for other inputs."""


@dataclass
class ActivationStore:
    """A (possibly incomplete) store folder; open with
    :meth:`open` or create with :meth:`create`."""

    root: Path
    meta: dict[str, Any]
    input_index: pd.DataFrame
    output_index: pd.DataFrame

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        n_layers: int,
        d_model: int,
        input_index: pd.DataFrame,
        output_index: pd.DataFrame,
        n_work_items: int,
        key: str,
        dtype: str = "float16",
        extra_meta: dict[str, Any] | None = None,
    ) -> ActivationStore:
        """Allocate a fresh store (any previous store at ``root`` is removed first)."""
        root = Path(root)
        if dtype not in {"float16", "float32"}:
            raise ValueError(f"activation dtype must be float16 or float32, got {dtype!r}")
        if root.exists():
            remove_store(root)
        root.mkdir(parents=True, exist_ok=True)
        names = [layer_name(li) for li in range(n_layers + 1)]
        for kind, index in (("input", input_index), ("output", output_index)):
            (root / kind).mkdir(exist_ok=True)
            for name in names:
                mm = np.lib.format.open_memmap(
                    root / kind / f"{name}.npy", mode="w+", dtype=dtype, shape=(len(index), d_model)
                )
                mm[:] = np.nan  # rows never written stay NaN (visible, never silently zero)
                mm.flush()
                del mm
        input_index.reset_index(drop=True).to_parquet(root / "input_index.parquet")
        output_index.reset_index(drop=True).to_parquet(root / "output_index.parquet")
        np.save(root / "progress.npy", np.zeros(n_work_items, dtype=bool))
        meta = {
            "format": FORMAT,
            "layer_names": names,
            "n_layers": n_layers,
            "d_model": d_model,
            "dtype": dtype,
            "key": key,
            "complete": False,
            **(extra_meta or {}),
        }
        (root / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        return cls(
            root, meta, input_index.reset_index(drop=True), output_index.reset_index(drop=True)
        )

    @classmethod
    def from_arrays(
        cls,
        root: str | Path,
        input_layers: np.ndarray,
        output_layers: np.ndarray,
        input_index: pd.DataFrame,
        output_index: pd.DataFrame,
        *,
        dtype: str = "float16",
        **meta: Any,
    ) -> ActivationStore:
        """A complete store from in-memory (n_layers+1, rows, d) arrays (tests, synthetic data)."""
        L, _, d = input_layers.shape
        if output_layers.shape[0] != L or output_layers.shape[2] != d:
            raise ValueError("input and output arrays need the same layers and width")
        store = cls.create(
            root,
            n_layers=L - 1,
            d_model=d,
            input_index=input_index,
            output_index=output_index,
            n_work_items=0,
            key=meta.pop("key", "from_arrays"),
            dtype=dtype,
            extra_meta=meta,
        )
        for kind, arr in (("input", input_layers), ("output", output_layers)):
            for li in range(L):
                mm = store.layer(kind, li, mode="r+")
                mm[:] = arr[li]
                mm.flush()
                del mm
        store.mark_complete()
        return store

    @classmethod
    def open(cls, root: str | Path, *, require_complete: bool = True) -> ActivationStore:
        root = Path(root)
        meta_file = root / "meta.json"
        if not meta_file.exists():
            raise ActivationStoreError(f"No activation store at {root} (meta.json missing)")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT:
            raise ActivationStoreError(
                f"{meta_file} has format {meta.get('format')!r}, expected {FORMAT!r}"
            )
        if require_complete and not meta.get("complete"):
            done = np.load(root / "progress.npy")
            raise ActivationStoreError(
                f"Activation store {root} is incomplete "
                f"({int(done.sum())}/{done.size} work items); "
                "re-run the extraction to resume it"
            )
        return cls(
            root,
            meta,
            pd.read_parquet(root / "input_index.parquet"),
            pd.read_parquet(root / "output_index.parquet"),
        )

    # ------------------------------------------------------------------ access
    @property
    def layer_names(self) -> list[str]:
        return list(self.meta["layer_names"])

    @property
    def n_layers(self) -> int:
        """Number of stored layers (blocks + 1 for the embeddings)."""
        return len(self.meta["layer_names"])

    @property
    def d_model(self) -> int:
        return int(self.meta["d_model"])

    def index(self, kind: str) -> pd.DataFrame:
        _check_kind(kind)
        return self.input_index if kind == "input" else self.output_index

    def path(self, kind: str, layer: int | str) -> Path:
        _check_kind(kind)
        name = layer if isinstance(layer, str) else layer_name(layer)
        return self.root / kind / f"{name}.npy"

    def layer(self, kind: str, layer: int | str, mode: str = "r") -> np.ndarray:
        """Memory-mapped (n_rows, d) array of one layer (read-only by default)."""
        return np.load(self.path(kind, layer), mmap_mode=mode)

    def load_layers(
        self,
        kind: str,
        layers: Sequence[int],
        rows: np.ndarray | None = None,
        dtype: Any = np.float32,
    ) -> np.ndarray:
        """(len(layers), n_rows, d) array of the given layers (and rows), converted to ``dtype``."""
        n = len(self.index(kind)) if rows is None else len(rows)
        out = np.empty((len(layers), n, self.d_model), dtype=dtype)
        for j, li in enumerate(layers):
            mm = self.layer(kind, li)
            out[j] = mm if rows is None else mm[rows]
        return out

    def nbytes(self) -> int:
        itemsize = np.dtype(self.meta["dtype"]).itemsize
        rows = len(self.input_index) + len(self.output_index)
        return rows * self.d_model * self.n_layers * itemsize

    # ------------------------------------------------------------------ writing
    def progress(self) -> np.ndarray:
        return np.load(self.root / "progress.npy")

    def mark_done(self, done: np.ndarray) -> None:
        """Persist the progress bitmap atomically (write then rename)."""
        tmp = self.root / "progress.tmp.npy"
        np.save(tmp, done)
        tmp.replace(self.root / "progress.npy")

    def mark_complete(self, **extra: Any) -> None:
        self.meta.update(extra, complete=True)
        tmp = self.root / "meta.tmp.json"
        tmp.write_text(json.dumps(self.meta, indent=2, default=str))
        tmp.replace(self.root / "meta.json")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def remove_store(root: Path) -> None:
    """Delete a store folder, refusing folders that do not look like one of ours."""
    meta = root / "meta.json"
    if not meta.exists() or json.loads(meta.read_text()).get("format") != FORMAT:
        if any(root.iterdir()):
            raise ActivationStoreError(
                f"Refusing to overwrite {root}: it is not empty and not an activation store"
            )
    shutil.rmtree(root)
