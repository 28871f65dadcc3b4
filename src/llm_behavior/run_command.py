"""``kedro run`` for this project: a run file's
``params`` merged with ``--params``, and clear errors.

Kedro's own command reads ``-c runs/<pair>.yml`` as the *defaults* of its options, so a ``--params``
on the command line replaces the run file's whole ``params`` block: ``kedro run -c runs/null.yml
--params tracking.enabled=false`` would run (and overwrite) the default pair. This command is
Kedro's, with two changes:

* the run file's ``params`` and the command line's ``--params`` are deep-merged (the command line
  wins key by key), which is what a user means by passing both;
* an unknown ``--pipelines`` name fails before the session starts, listing the registered ones.

Kedro picks the command up through the project's click group (``llm_behavior.cli.cli``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import click
from click.core import ParameterSource
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import KedroCliError

cli = click.Group(
    name="llm_behavior", help="Project commands: `kedro run` with run files that keep their params."
)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, nested mappings key by key (``override`` wins)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def run_params(ctx: click.Context, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's parameters: the run file's ``params`` (``-c``) with the command line's on top."""
    params = dict(params or {})
    file_params = (ctx.default_map or {}).get("params") or {}
    if file_params and ctx.get_parameter_source("params") == ParameterSource.COMMANDLINE:
        if not isinstance(file_params, Mapping):
            raise KedroCliError(
                f"the run file's `params` must be a mapping, got {type(file_params).__name__}"
            )
        return deep_merge(file_params, params)
    return params


def check_pipelines(names: list[str] | None, pipeline: str | None = None) -> None:
    """Fail with the registered pipelines' names when a requested one is unknown."""
    from llm_behavior.pipeline_registry import pipeline_names

    known = pipeline_names()
    asked = [*(names or []), *([pipeline] if pipeline else [])]
    unknown = [n for n in asked if n not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown pipeline{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"registered: {', '.join(known)}",
            param_hint="'--pipelines'",
        )


@click.pass_context
def _run(ctx: click.Context, **kwargs: Any) -> Any:
    check_pipelines(kwargs.get("pipelines"), kwargs.get("pipeline"))
    kwargs["params"] = run_params(ctx, kwargs.get("params"))
    return kedro_run.callback(**kwargs)


run = click.Command(
    name="run",
    callback=_run,
    params=list(kedro_run.params),
    help=(kedro_run.help or "Run the pipeline.")
    + "\n\nWith -c RUN_FILE and --params, the run file's params are merged with the command line's"
    " (the command line wins key by key).",
    short_help=kedro_run.short_help,
)
cli.add_command(run)
