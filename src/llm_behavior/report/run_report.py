"""The run's report from the pipelines' outputs and the parameters (no Kedro here): which behaviour
it ranks the divergent prompts by, the run identity it names, and the page itself
(:func:`llm_behavior.report.build.build_report`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from llm_behavior.report.build import build_report
from llm_behavior.sides import side_spec

# The outputs of the other pipelines the page is built from (the reporting node's inputs).
REPORT_OUTPUTS = (
    "generation_summary",
    "audit_result",
    "score_summary",
    "divergent",
    "wealth_png",
    "distributions_png",
    "artifacts",
)
PROVENANCE_KEYS = (
    ("data_version", "data version"),
    ("run_id", "run"),
    ("code_version", "code version"),
)


def report_behaviour(
    params: Mapping[str, Any], auditing: Mapping[str, Any]
) -> tuple[str, str | None, str]:
    """(name, scorer, metric) of ``reporting.behaviour``; null = the first auditing behaviour."""
    behaviours = auditing.get("behaviours", {})
    if not behaviours:
        raise ValueError(
            "auditing.behaviours is empty: no behaviour to rank the divergent prompts by"
        )
    name = params.get("behaviour") or next(iter(behaviours))
    if name not in behaviours:
        raise ValueError(
            f"reporting.behaviour {name!r} is not an auditing behaviour; "
            f"known: {sorted(behaviours)}"
        )
    b = behaviours[name]
    return name, b.get("scorer"), b["metric"]


def version_provenance(run_version: Mapping[str, Any] | None) -> dict[str, Any]:
    """The catalog version this report is saved under, and the versions of its inputs (versioned
    datasets) that an earlier run saved."""
    if not run_version or not run_version.get("save_version"):
        return {}
    save = str(run_version["save_version"])
    earlier = {k: v for k, v in (run_version.get("loaded") or {}).items() if v != save}
    out: dict[str, Any] = {"catalog version": save}
    if earlier:
        out["inputs of earlier versions"] = ", ".join(f"{k} {v}" for k, v in earlier.items())
    return out


def provenance(*results: Mapping[str, Any]) -> dict[str, Any]:
    """The run identity the outputs carry (first found per key), shown under the report's title."""
    out: dict[str, Any] = {}
    for key, label in PROVENANCE_KEYS:
        for result in results:
            if result.get(key) not in (None, ""):
                out[label] = result[key]
                break
    return out


def run_report(
    outputs: Mapping[str, Any],
    *,
    params: Mapping[str, Any],
    sides: Mapping[str, Any],
    auditing: Mapping[str, Any],
    run_version: Mapping[str, Any] | None = None,
) -> str:
    """The run's HTML report (self-contained: images embedded), naming the catalog versions.

    ``outputs``: the :data:`REPORT_OUTPUTS` by name; ``sides``: the ``reference``, ``candidate``
    and ``replicate`` parameters (each side's model spec follows from them by
    :func:`llm_behavior.sides.side_spec`).
    """
    if set(outputs) != set(REPORT_OUTPUTS):
        missing = sorted(set(REPORT_OUTPUTS) - set(outputs))
        unknown = sorted(set(outputs) - set(REPORT_OUTPUTS))
        raise ValueError(
            f"the report needs the outputs {list(REPORT_OUTPUTS)}; "
            f"missing {missing}, unknown {unknown}"
        )
    audit, summary = outputs["audit_result"], outputs["generation_summary"]
    return build_report(
        pair=str(params["pair"]),
        models={side: side_spec(sides, side) for side in sides},
        generation_summary=summary,
        audit=audit,
        score_summary=outputs["score_summary"],
        divergent=outputs["divergent"],
        behaviour=report_behaviour(params, auditing)[0],
        wealth_png=outputs["wealth_png"],
        distributions_png=outputs["distributions_png"],
        artifacts=outputs["artifacts"],
        created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        behaviour_specs=auditing.get("behaviours") or {},
        provenance={**provenance(audit, summary), **version_provenance(run_version)},
    )
