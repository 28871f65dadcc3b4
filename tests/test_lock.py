"""The lock files: in sync with their inputs (digest
in the header), every input pinned with hashes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {
    "requirements.lock": ("requirements.txt", "requirements-dev.txt"),
    "requirements-assets.lock": ("requirements-assets.txt",),
}


def inputs(names: tuple[str, ...]) -> list[Requirement]:
    reqs = []
    for name in names:
        for raw in (ROOT / name).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line:
                reqs.append(Requirement(line))
    return reqs


def pins(lock: str) -> dict[str, tuple[str, int]]:
    """``{name: (version, number of hashes)}`` of a lock file."""
    text = (ROOT / lock).read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)", block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(3), block.count("--hash=sha256:"))
    return out


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_lock_header_records_the_digest_of_its_inputs(lock):
    names = LOCKS[lock]
    digest = hashlib.sha256(b"".join((ROOT / n).read_bytes() for n in names)).hexdigest()
    first = (ROOT / lock).read_text().splitlines()[0]
    assert first == f"# inputs: {' '.join(names)} sha256={digest}", (
        f"{lock} is out of date with {', '.join(names)}: run `make lock`"
    )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_input_is_pinned_within_its_range_with_hashes(lock):
    pinned = pins(lock)
    assert pinned and all(n_hashes >= 1 for _, n_hashes in pinned.values())
    for req in inputs(LOCKS[lock]):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} (an input of {lock}) is not in the lock"
        version = pinned[name][0]
        assert req.specifier.contains(version, prereleases=True), (
            f"{name}=={version} outside {req.specifier}"
        )


def test_torch_is_the_local_cpu_build_and_the_other_branches_dev_deps_are_locked():
    pinned = pins("requirements.lock")
    assert pinned["torch"][0] == "2.13.0+cpu" and Version(pinned["torch"][0]).local == "cpu"
    assert "nvidia-cublas-cu12" not in pinned and not any(n.startswith("nvidia-") for n in pinned)
    assert {"vendi-score", "confseq"} <= set(pinned)
    assert Version(pinned["numpy"][0]) < Version("2")
