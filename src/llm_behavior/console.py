"""The answer at the end of the console output: after a `kedro run` that audits (or rebuilds the
report), a short table per behaviour (verdict, prompts and pairs used, mean shift, distance, p-value
bound) and the paths of the report and the audit result, as lm-evaluation-harness prints its table.
After a run of an optional pipeline (contrastive search, probing, profiling), its headline (the
report's sentence, ``report.headlines``) and the file it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from kedro.framework.hooks import hook_impl

from llm_behavior.report.build import PIPELINE_TITLES, optional_artifacts
from llm_behavior.report.headlines import HEADLINE_SOURCES, headlines
from llm_behavior.report.verdict import NA, AuditVerdict, audit_verdict, count, number, signed

logger = logging.getLogger(__name__)

AUDIT_DATASET = "audit_result"
REPORT_DATASET = "run_report"
RULE = "=" * 78
NO_REPORT = "Report: not rebuilt by this run (kedro run --pipelines reporting)"
# the saved datasets the headlines are read from (kept until the run ends; plots are not kept)
HEADLINE_NAMES = frozenset(name for names in HEADLINE_SOURCES.values() for name in names)


def _ascii(text: str) -> str:
    return text.replace("\u2212", "-").replace("\u00b1", "+-").replace("\u2264", "<=")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def analysis_lines(found: Mapping[str, str], files: Mapping[str, str | None]) -> list[str]:
    """One block per optional analysis: '<Title>: <headline>' and the file it summarises
    (``found``: {pipeline: headline}; ``files``: {pipeline: path or None})."""
    lines: list[str] = []
    for pipeline, text in found.items():
        lines.append(f"{PIPELINE_TITLES.get(pipeline, pipeline)}: {text}")
        if files.get(pipeline):
            lines.append(f"  from {files[pipeline]}")
    return [_ascii(line) for line in lines]


def analyses_summary_lines(
    found: Mapping[str, str],
    files: Mapping[str, str | None],
    *,
    pair: str | None,
    report_path: str | None,
) -> list[str]:
    """The console summary of a run that analysed but did not audit (plain ASCII)."""
    title = f"Pair '{pair}': " if pair else ""
    title += ", ".join(PIPELINE_TITLES.get(p, p).lower() for p in found)
    return [
        "",
        RULE,
        _ascii(title),
        *analysis_lines(found, files),
        f"Report: {report_path}" if report_path else NO_REPORT,
        RULE,
    ]


def summary_lines(
    answer: AuditVerdict,
    *,
    pair: str | None,
    report_path: str | None,
    audit_path: str | None,
    analyses: Sequence[str] = (),
) -> list[str]:
    """The console summary of an audit, line by line (plain ASCII); ``analyses``: the lines of
    ``analysis_lines`` for the optional analyses of the same run."""
    title = (
        f"Audit of pair '{pair}': reference vs candidate"
        if pair
        else "Audit: reference vs candidate"
    )
    if answer.test:
        title += f" (test {answer.test}, alpha {number(answer.alpha)})"
    rows = [
        [
            "behaviour",
            "verdict",
            "prompts",
            "pairs",
            "mean shift (cand - ref)",
            "distance (TV, 95%)",
            "x noise floor",
            "p <=",
        ]
    ]
    for b in answer.behaviours:
        if b.skipped:
            rows.append([b.name, "not audited", "", "", b.skipped, "", "", ""])
            continue
        raw = b.unit.raw(b.mean_shift)
        shift = signed(b.mean_shift) + (
            f" ({signed(raw)} {b.unit.raw_unit})" if raw is not None else ""
        )
        rows.append(
            [
                b.name,
                b.status,
                count(b.prompts),
                count(b.pairs),
                shift,
                b.distance.text() if b.distance else NA,
                b.noise_text(),
                number(b.p_value_bound, 2),
            ]
        )
    lines = [
        "",
        "=" * 78,
        title,
        answer.headline(),
        "",
        *_table(rows),
        "",
        f"{answer.eps_text}. Prompts and pairs: to rejection, or all audited when not rejected.",
        answer.aa_text(),
    ]
    if analyses:
        lines += ["", "Also in this run:", *analyses]
    lines.append(f"Report: {report_path}" if report_path else NO_REPORT)
    if audit_path:
        lines.append(f"Audit result: {audit_path}")
    lines.append(RULE)
    return [_ascii(line) for line in lines]


def dataset_file(catalog: Any, name: str) -> str | None:
    """The file a catalog dataset last saved (its latest version when versioned), relative to the
    working directory when inside it; None when the dataset has no single file."""
    try:
        dataset = catalog[name] if name in catalog else None
    except Exception:  # a catalog that cannot build the entry has no path to show
        return None
    if dataset is None:
        return None
    get_path = getattr(dataset, "_get_load_path", None)
    path = get_path() if callable(get_path) else getattr(dataset, "_filepath", None)
    if path is None:
        return None
    path = Path(str(path))
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class ConsoleSummaryHook:
    """Prints the audit's answer, and the headline of every optional analysis, after the pipeline
    run that produced them (settings.py registers it)."""

    def __init__(self) -> None:
        self._params: Mapping[str, Any] = {}
        self._audit: Mapping[str, Any] | None = None
        self._saved: set[str] = set()
        self._analyses: dict[str, Any] = {}

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._params = context.params
        self._audit, self._saved, self._analyses = None, set(), {}

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        if dataset_name == AUDIT_DATASET and isinstance(data, Mapping):
            self._audit = data

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        if dataset_name in (AUDIT_DATASET, REPORT_DATASET):
            self._saved.add(dataset_name)
            if dataset_name == AUDIT_DATASET and isinstance(data, Mapping):
                self._audit = data
        elif dataset_name in HEADLINE_NAMES:
            self._analyses[dataset_name] = data

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        found = headlines(optional_artifacts(self._analyses))
        files = {p: _first_file(catalog, HEADLINE_SOURCES[p], self._analyses) for p in found}
        pair = (self._params.get("reporting") or {}).get("pair") or self._params.get("pair")
        report_path = (
            dataset_file(catalog, REPORT_DATASET) if REPORT_DATASET in self._saved else None
        )
        if self._audit is not None and self._saved:
            behaviours = (self._params.get("auditing") or {}).get("behaviours") or {}
            lines = summary_lines(
                audit_verdict(self._audit, behaviours),
                pair=pair,
                report_path=report_path,
                audit_path=dataset_file(catalog, AUDIT_DATASET),
                analyses=analysis_lines(found, files),
            )
        elif found:
            lines = analyses_summary_lines(found, files, pair=pair, report_path=report_path)
        else:
            return
        click.echo("\n".join(lines))


def _first_file(catalog: Any, names: Sequence[str], saved: Mapping[str, Any]) -> str | None:
    """The file of the first of ``names`` that this run saved (the headline's source)."""
    for name in names:
        if name in saved:
            path = dataset_file(catalog, name)
            if path:
                return path
    return None
