"""A folder of parquet chunks keyed by content hash: resumable, append-only output of long runs.

Each chunk is written to a temporary name, fsynced and renamed (the folder fsynced too), so an
interrupted run or a power loss leaves either a whole chunk or none; a re-run reads the keys
already present and computes only the rest. A chunk that cannot be read all the same (truncated,
not parquet) is named in a logged warning and set aside as ``<name>.corrupt``; its rows count as
missing, so they are computed again.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa

logger = logging.getLogger(__name__)


class ChunkStore:
    """Append-only parquet chunks under ``root/<partition>/`` with a key column."""

    def __init__(self, root: str | Path, key_column: str = "row_key"):
        self.root = Path(root)
        self.key_column = key_column

    def _dir(self, partition: str) -> Path:
        return self.root / partition

    def read(self, partition: str) -> pd.DataFrame:
        """All rows of a partition (empty frame if none). Duplicate keys keep the first written."""
        folder = self._dir(partition)
        files = sorted(folder.glob("*.parquet")) if folder.exists() else []
        if not files:
            return pd.DataFrame()
        frames = [frame for frame in (self._read_chunk(f) for f in files) if frame is not None]
        if not frames:
            return pd.DataFrame()
        df = pd.concat(frames, ignore_index=True)
        return df.drop_duplicates(self.key_column, keep="first").reset_index(drop=True)

    def _read_chunk(self, path: Path) -> pd.DataFrame | None:
        """One chunk; a corrupt one is set aside
        (``<name>.corrupt``) with a logged warning, None."""
        try:
            frame = pd.read_parquet(path)
            if self.key_column not in frame.columns:
                raise ValueError(f"no {self.key_column!r} column")
            return frame
        except (pa.ArrowException, OSError, ValueError) as exc:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            logger.warning(
                "cache chunk %s is unreadable (%s: %s); set "
                "aside as %s, its rows will be generated again",
                path,
                type(exc).__name__,
                exc,
                aside.name,
            )
            return None

    def keys(self, partition: str) -> set[str]:
        df = self.read(partition)
        return set(df[self.key_column]) if len(df) else set()

    def append(self, partition: str, rows: pd.DataFrame) -> Path:
        """Write one chunk atomically (temp file + rename)."""
        if self.key_column not in rows.columns:
            raise ValueError(f"chunk rows lack the key column {self.key_column!r}")
        folder = self._dir(partition)
        folder.mkdir(parents=True, exist_ok=True)
        name = (
            f"{pd.Timestamp.now('UTC').strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.parquet"
        )
        tmp = folder / f".{name}.tmp"
        with open(tmp, "wb") as handle:
            rows.to_parquet(handle, index=False)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name is
        os.replace(tmp, folder / name)
        _fsync_dir(folder)
        return folder / name


def _fsync_dir(folder: Path) -> None:
    """Persist a rename in ``folder`` (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
