"""Project pipelines."""

from __future__ import annotations

from importlib.resources import files

from kedro.framework.project import find_pipelines, pipelines
from kedro.pipeline import Pipeline

# The default run: generate, score and audit the configured pair (the project's main job), then
# write its report.
DEFAULT_PIPELINES = ("generation", "scoring", "auditing", "reporting")


def pipeline_names() -> list[str]:
    """The registered pipelines' names: every folder under ``pipelines/``, and ``__default__``."""
    folder = files("llm_behavior.pipelines")
    found = sorted(
        p.name for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and (p / "__init__.py").is_file()
    )
    return ["__default__", *found]


def register_pipelines() -> dict[str, Pipeline]:
    """Every pipeline under ``pipelines/`` by its folder name, and ``__default__``.

    An unknown requested name (``kedro run --pipelines nope``) is a ``KeyError`` naming the
    registered pipelines (Kedro's session turns it into its "Failed to find the pipeline" error),
    not the ``ImportError`` that ``find_pipelines`` raises for a missing module.
    """
    requested = pipelines._requested_pipelines  # set by the session from --pipelines
    known = pipeline_names()
    unknown = sorted(set(requested or []) - set(known))
    if unknown:
        raise KeyError(f"unknown pipeline(s) {', '.join(unknown)}; registered: {', '.join(known)}")
    found = find_pipelines(raise_errors=True)
    found["__default__"] = sum(
        (found[name] for name in DEFAULT_PIPELINES if name in found), Pipeline([])
    )
    return found
