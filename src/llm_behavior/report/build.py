"""The run report: one HTML page a researcher reads instead of notebooks (docs/reporting.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.report.headlines import headlines
from llm_behavior.report.html import Section, esc, fmt, image, page, table, token_spans
from llm_behavior.report.verdict import NA, audit_verdict, count, number

SIDES = ("reference", "candidate", "replicate")
HEADLINE_TEXT_METRICS = (
    "n_tokens",
    "mtld",
    "flesch_reading_ease",
    "entropy",
    "sentence_length_mean",
)


MODEL_FIELDS = (
    ("model", "name"),
    ("source", "source"),
    ("backend", "backend"),
    ("quantization", "quantization"),
    ("system prompt", "system_prompt"),
)


def run_section(
    pair: str, models: Mapping[str, Any], generation_summary: Mapping[str, Any]
) -> Section:
    """The model pair: one column per side (spec, decoding settings, what was generated)."""
    columns: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        spec = models.get(side)
        summary = generation_summary.get("sides", {}).get(side, {})
        if spec is None and not summary:
            continue
        spec = spec or {}
        gen = spec.get("generation", {})
        column = {label: spec.get(key) for label, key in MODEL_FIELDS}
        column["model"] = column["model"] or summary.get("model_name")
        column["backend"] = column["backend"] or "transformers"
        column["system prompt"] = column["system prompt"] or "none"
        column["decoding"] = ", ".join(
            f"{k}={v}"
            for k, v in gen.items()
            if k in ("max_new_tokens", "temperature", "top_p", "top_k", "num_samples", "seed")
        )
        column.update(
            {
                "texts": summary.get("n_generations"),
                "prompts": summary.get("n_prompts"),
                "mean new tokens": summary.get("mean_new_tokens"),
                "empty texts": summary.get("n_empty_texts"),
                "spec hash": str(summary["spec_hash"])[:12] if summary.get("spec_hash") else None,
            }
        )
        columns[side] = column
    frame = pd.DataFrame(columns)
    frame.insert(0, "", frame.index)
    flags = generation_summary.get("flags") or []
    flag_html = "".join(f"<li>{esc(f)}</li>" for f in flags)
    body = (
        f"<p>Pair <b>{esc(pair)}</b>. The <i>replicate</i> "
        "side is the reference model again with another seed "
        "(an A/A control: any 'shift' it shows is noise).</p>"
        + table(frame)
        + (
            f"<p>Warnings from generation:</p><ul>{flag_html}</ul>"
            if flags
            else "<p class='muted'>No generation warnings.</p>"
        )
    )
    return Section("run", "Models and settings", body)


PIPELINE_TITLES = {
    "contrastive_search": "Contrastive search",
    "probing": "Probing",
    "profiling": "Profiles",
}

# The optional pipelines' outputs the report shows, by catalog dataset name. Their entries wrap
# the dataset in ``llm_behavior.datasets.OptionalDataset``: None until the pipeline has run.
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {
    "contrastive_search": (
        "prompt_search_summary",
        "prompt_search_cycles",
        "divergence_clusters",
        "divergence_token_view",
    ),
    "probing": (
        "probe_summary",
        "probe_side_difference",
        "probing_behaviour",
        "probe_curves_plot",
        "probe_mdl_plot",
    ),
    "profiling": (
        "reference.profile_table",
        "candidate.profile_table",
        "profile_comparison",
        "profile_reliability_diagram",
        "profile_diversity_plot",
        "profile_bias_plot",
    ),
}
OPTIONAL_NAMES: tuple[str, ...] = tuple(n for names in OPTIONAL_INPUTS.values() for n in names)


def optional_artifacts(loaded: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{pipeline: {dataset: data}}`` of the :data:`OPTIONAL_INPUTS` that exist (None: absent);
    a pipeline none of whose outputs exist is left out (its section too)."""
    found: dict[str, dict[str, Any]] = {}
    for pipeline, names in OPTIONAL_INPUTS.items():
        present = {name: loaded[name] for name in names if loaded.get(name) is not None}
        if present:
            found[pipeline] = present
    return found


def verdict_section(
    audit: Mapping[str, Any], behaviour_specs: Mapping[str, Any], found: Mapping[str, str]
) -> Section:
    """The answer first: the verdict, one sentence per behaviour, what H0 and the units are, the A/A
    control, and the headline of every optional analysis that was run."""
    answer = audit_verdict(audit, behaviour_specs)
    state = (
        "rejected" if answer.rejected else "not-rejected" if answer.rejected is not None else "n/a"
    )
    items = "".join(
        f"<li data-behaviour='{esc(b.name)}' data-status='{esc(b.status)}'>{esc(b.sentence())}</li>"
        for b in answer.behaviours
    )
    units = "; ".join(f"<b>{esc(b.name)}</b>: {esc(b.unit.description)}" for b in answer.behaviours)
    body = (
        f"<div class='verdict {'rejected' if answer.rejected else 'kept'}' data-verdict='{state}'>"
        f"{esc(answer.headline())}</div>"
        f"<ul class='behaviours'>{items}</ul>"
        f"<p>{esc(answer.aa_text())}</p>"
        "<p class='muted'>H0: the score distributions of the "
        "reference and the candidate are within eps of each other "
        f"in total variation; {esc(answer.eps_text)}. Mean "
        "shift: candidate − reference, on the audited scale "
        "in [0, 1]; its 95% CI is a fixed-sample normal interval over all audited pairs, "
        "clustered by prompt: valid for that one look, not anytime-valid like the verdict, so it "
        "can exclude 0 where the sequential test has not rejected. "
        f"Units and maps: {units}. Distance: the held-out estimate of the "
        "total-variation distance between "
        "the two sides' score distributions, ± its 95% interval; "
        "the A/A noise floor is the upper 95% bound of "
        "the same distance between the reference and its "
        "replicate. The p-value bound is anytime-valid: it holds "
        "however often the audit was looked at (combined: 1 / max "
        "wealth; per behaviour: K / max wealth, Bonferroni over "
        "the K behaviours).</p>"
    )
    if found:
        rows = "".join(
            f"<li><a href='#{esc(anchor_of(name))}'>{esc(PIPELINE_TITLES[name])}</a>: "
            f"{esc(line)}</li>"
            for name, line in found.items()
        )
        body += f"<p>Other analyses of this pair:</p><ul class='headlines'>{rows}</ul>"
    return Section("verdict", "Verdict", body)


def anchor_of(pipeline: str) -> str:
    return {"contrastive_search": "contrastive"}.get(pipeline, pipeline)


def _fold_size(entry: Mapping[str, Any]) -> str:
    """Prompts (and pairs) per fold, by the result's
    schema (pairs only before the prompt was the unit)."""
    if entry.get("fold_size_pairs") is not None:
        return f"{fmt(entry.get('fold_size'))} prompts ({fmt(entry['fold_size_pairs'])} pairs)"
    return f"{fmt(entry.get('fold_size'))} pairs" if entry.get("fold_size") is not None else "n/a"


def audit_section(
    audit: Mapping[str, Any], behaviour_specs: Mapping[str, Any], wealth_png: bytes | None
) -> Section:
    """The audit in detail: one column per behaviour,
    the method in words, the wealth plot, fold power."""
    answer = audit_verdict(audit, behaviour_specs)
    aa_behaviours = (audit.get("aa_audit") or {}).get("behaviours") or {}
    columns: dict[str, dict[str, str]] = {}
    for b in answer.behaviours:
        if b.skipped:
            columns[b.name] = {"verdict": f"not audited: {b.skipped}"}
            continue
        aa = aa_behaviours.get(b.name, {})
        columns[b.name] = {
            "verdict": b.status,
            "unit and map": b.unit.description,
            "eps": number(b.eps),
            "prompts / pairs audited": f"{count(b.prompts_audited)} / {count(b.pairs_audited)}",
            "pairs dropped (a NaN score)": count(b.n_dropped),
            "prompts / pairs to rejection": (
                f"{count(b.prompts)} / {count(b.pairs)}" if b.rejected else "not rejected"
            ),
            "mean shift (candidate − reference)": b.shift_text(),
            "distance, 95% interval": b.distance.text() if b.distance else NA,
            "A/A noise floor (upper 95%)": number(b.noise_floor, 2),
            "distance / noise floor": number(b.noise_ratio, 2),
            "max wealth (rejects at)": f"{number(b.max_wealth)} ({number(b.threshold)})",
            "p-value bound": number(b.p_value_bound, 2),
            "A/A control: max wealth (rejected?)": (
                f"{number(aa.get('max_wealth'))} ({'yes' if aa.get('rejected') else 'no'})"
                if aa
                else NA
            ),
        }
    frame = pd.DataFrame(columns)
    frame.insert(0, "", frame.index)
    k = answer.n_behaviours
    body = (
        f"<p>Test <code>{esc(answer.test or NA)}</code>"
        + (f" ({esc(answer.test_description)})" if answer.test_description else "")
        + " at alpha "
        f"= {esc(number(answer.alpha))}: each behaviour has "
        "its own e-process (its wealth, starting at 1, grows "
        "when the two sides' scores differ); the audit rejects "
        f'"some behaviour shifted" when the average of the {k} wealths reaches 1/alpha = '
        f"{esc(number(answer.threshold))}, "
        "and names a behaviour as shifted when its own "
        f"wealth reaches {k}/alpha (Bonferroni). The test is "
        "anytime-valid: the wealth may be watched after every "
        "prompt and the error rate stays at most alpha.</p>" + table(frame)
    )
    if wealth_png:
        body += image(wealth_png, "audit wealth against the data seen, with the rejection points")
    fold_rows = []
    for name, f in (audit.get("folds") or {}).items():
        if not isinstance(f, Mapping):
            continue
        for test_name, t in (f.get("tests") or {}).items():
            fold_rows.append(
                {
                    "behaviour": name,
                    "test": test_name,
                    "fold size": _fold_size(f),
                    "folds": t.get("folds"),
                    "rejection rate": t.get("rejection_rate"),
                    "median prompts to rejection": t.get("median_prompts_to_rejection", NA),
                    "median pairs to rejection": t.get(
                        "median_pairs_to_rejection", t.get("median_samples_to_rejection")
                    ),
                }
            )
    if fold_rows:
        body += (
            "<details><summary>Power over disjoint folds (each "
            "test re-run on independent folds of the data; "
            "rejection rate = share of folds that rejected)</summary>"
            + table(pd.DataFrame(fold_rows))
            + "</details>"
        )
    return Section("audit", "Audit in detail", body)


def scores_section(score_summary: pd.DataFrame, distributions_png: bytes | None) -> Section:
    """Each side's mean, sd and missing count per scorer
    and metric, and the audited distributions."""
    body = (
        "<p>The audited behaviours' scores per side (the "
        "test sees them after its fixed map into [0, 1]).</p>"
    )
    if distributions_png:
        body += image(distributions_png, "score distributions per behaviour and side")
    if not score_summary.empty:
        wide = score_summary.pivot_table(
            index=["scorer", "metric"], columns="side", values="mean"
        ).reset_index()
        wide.columns = [str(c) for c in wide.columns]
        order = [c for c in ("scorer", "metric", *SIDES) if c in wide.columns]
        wide = wide[order + [c for c in wide.columns if c not in order]]
        if {"reference", "candidate"} <= set(wide.columns):
            wide["candidate - reference"] = wide["candidate"] - wide["reference"]
        headline = wide["metric"].isin(HEADLINE_TEXT_METRICS) | (
            wide["scorer"] != "text_characteristics"
        )
        body += (
            "<p>Mean score per side (all scorers; text statistics: a few, the rest below).</p>"
            + table(wide[headline])
        )
        body += (
            "<details><summary>Every score: mean, standard "
            "deviation, count, missing (scorer failures, kept as NaN)"
            "</summary>" + table(score_summary, max_rows=1000) + "</details>"
        )
    return Section("scores", "Score distributions", body)


def divergent_section(texts: pd.DataFrame, behaviour: str) -> Section:
    """The top prompts by score difference, each side's
    top text with tokens shaded by log p_c - log p_r."""
    if texts.empty:
        return Section(
            "divergent",
            "Most divergent prompts",
            f"<p>No <code>{esc(behaviour)}</code> scores on both sides, so no prompts to rank.</p>",
        )
    values = np.concatenate(
        [np.asarray(v, dtype=float) for v in texts["token_log_ratio"] if len(v)] or [np.zeros(1)]
    )
    vmax = float(np.nanpercentile(np.abs(values), 99)) if values.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    body = [
        f"<p>The prompts whose mean <code>{esc(behaviour)}</code> "
        "score differs most between the sides, and each side's "
        "highest-scoring text. Each token is shaded by log p<sub>candidate</sub> - log "
        "p<sub>reference</sub> of that token "
        "(each model conditioned on the prompt as it renders it): <span "
        "style='background:rgba(220,38,38,.6)'>red</span> "
        "= the candidate makes it more likely, <span "
        "style='background:rgba(37,99,235,.6)'>blue</span> = the reference does; "
        f"full colour = {vmax:.2f} nats or more. Hover a token for its value.</p>"
    ]
    for rank, group in texts.groupby("rank", sort=True):
        first = group.iloc[0]
        body.append(
            f"<h3>#{int(rank)}: {esc(first['prompt_id'])} (mean score reference "
            f"{fmt(first['prompt_mean_reference'], 3)},"
            f" candidate {fmt(first['prompt_mean_candidate'], 3)})</h3><p class='muted'>Prompt: "
            f"{esc(first['prompt'])}</p>"
        )
        for row in group.itertuples(index=False):
            note = f" ({esc(row.token_note)})" if row.token_note else ""
            total = (
                f", log-ratio of the text {float(np.sum(row.token_log_ratio)):+.2f} nats"
                if len(row.token_log_ratio)
                else ""
            )
            body.append(
                f"<div class='muted'>{esc(row.side)} sample {row.sample}: score "
                f"{fmt(row.score, 3)}{total}{note}</div>"
            )
            shown = (
                token_spans(list(row.token_pieces), list(row.token_log_ratio), vmax)
                if len(row.token_pieces)
                else esc(row.text)
            )
            body.append(f"<div class='tokens'>{shown}</div>")
    return Section("divergent", "Most divergent prompts", "".join(body))


def _html_body(document: str) -> str:
    """The inside of a page's <body> (its own <style> is dropped with the head)."""
    match = re.search(r"<body[^>]*>(.*)</body>", document, flags=re.S | re.I)
    return match.group(1) if match else esc(document)


def contrastive_section(files: Mapping[str, Any]) -> Section:
    """Prompt search summary and the contrastive texts' per-token KL view."""
    body = [
        "<p>From the <code>contrastive_search</code> pipeline (docs/contrastive_search.md).</p>"
    ]
    summary = files.get("prompt_search_summary")
    if summary is not None:
        body.append(
            "<details open><summary>Prompt search summary</summary><pre>"
            + esc(json.dumps(summary, indent=1)[:6000])
            + "</pre></details>"
        )
    cycles = files.get("prompt_search_cycles")
    if isinstance(cycles, pd.DataFrame):
        body.append("<p>Search cycles:</p>" + table(cycles, max_rows=50))
    view = files.get("divergence_token_view")
    if view:
        body.append(
            "<details><summary>Contrastive texts, tokens shaded by per-token KL</summary>"
            f"<div class='contrastive-view'>{_html_body(view)}</div></details>"
        )
    return Section("contrastive", "Contrastive search", "".join(body))


def probing_section(files: Mapping[str, Any]) -> Section:
    """Probe curves across layers, MDL and the side difference."""
    body = [
        "<p>From the <code>probing</code> pipeline "
        "(docs/probing.md): linear probes from each layer's hidden "
        "states to the behaviour score, against control tasks.</p>"
    ]
    for name, alt in (
        ("probe_curves_plot", "probe Pearson r per layer"),
        ("probe_mdl_plot", "probe MDL compression per layer"),
    ):
        if files.get(name):
            body.append(image(files[name], alt))
    for name, label in (
        ("probe_summary", "Probe summary"),
        ("probe_side_difference", "Reference vs candidate"),
        ("probing_behaviour", "Behaviour labels"),
    ):
        if isinstance(files.get(name), pd.DataFrame):
            body.append(
                f"<details><summary>{esc(label)}</summary>"
                f"{table(files[name], max_rows=100)}</details>"
            )
    return Section("probing", "Probing", "".join(body))


PROFILE_COLUMNS = (
    "part",
    "dataset",
    "subgroup",
    "metric",
    "reference",
    "candidate",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "n_pairs",
    "size",
    "below_paper_size",
    "identical_requests",
)


def _compact(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame.columns]]


def profiling_section(files: Mapping[str, Any]) -> Section:
    """Profile comparison (overall rows first, per subgroup
    folded), plots, definitions, each side's profile."""
    body = [
        "<p>From the <code>profiling</code> pipeline "
        "(docs/profiling.md). Differences are candidate - reference "
        "on the same items, with 95% paired-bootstrap CIs; "
        "p-values from exact McNemar (0/1 outcomes) or the "
        "paired bootstrap (column <code>test</code> of the CSV).</p>"
    ]
    comparison = files.get("profile_comparison")
    if isinstance(comparison, pd.DataFrame) and not comparison.empty:
        sub = (
            comparison["subgroup"]
            if "subgroup" in comparison.columns
            else pd.Series(None, index=comparison.index)
        )
        overall = sub.isna() | sub.astype(str).isin(["all", "overall", ""])
        body.append(
            "<p>Overall:</p>" + table(_compact(comparison[overall], PROFILE_COLUMNS), max_rows=200)
        )
        body.append(
            "<details><summary>Per subgroup (bias type, "
            "category, prompt set, temperature)</summary>"
            + table(_compact(comparison[~overall], PROFILE_COLUMNS), max_rows=400)
            + "</details>"
        )
        if "definition" in comparison.columns:
            defs = comparison[["part", "metric", "definition"]].drop_duplicates(["part", "metric"])
            body.append(
                "<details><summary>What each statistic is</summary>"
                + table(defs, max_rows=400)
                + "</details>"
            )
    for name, alt in (
        ("profile_bias_plot", "bias scores"),
        ("profile_reliability_diagram", "reliability diagram"),
        ("profile_diversity_plot", "diversity against temperature"),
    ):
        if files.get(name):
            body.append(image(files[name], alt))
    for side in ("reference", "candidate"):
        frame = files.get(f"{side}.profile_table")
        if isinstance(frame, pd.DataFrame):
            shown = frame.drop(columns=[c for c in ("definition",) if c in frame.columns])
            body.append(
                "<details><summary>Profile of the "
                f"{side}</summary>{table(shown, max_rows=400)}</details>"
            )
    return Section("profiling", "Profiles", "".join(body))


def build_report(
    *,
    pair: str,
    models: Mapping[str, Any],
    generation_summary: Mapping[str, Any],
    audit: Mapping[str, Any],
    score_summary: pd.DataFrame,
    divergent: pd.DataFrame,
    behaviour: str,
    wealth_png: bytes | None,
    distributions_png: bytes | None,
    artifacts: Mapping[str, Mapping[str, Any]],
    created: str,
    behaviour_specs: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """The report page: the verdict first, then the evidence. Sections for the optional pipelines
    appear when their outputs exist (their headlines also in the verdict block).

    ``behaviour_specs``: ``auditing.behaviours`` of the parameters (units and maps of the
    behaviours); ``provenance``: labelled values shown under the title (e.g. the data version).
    """
    specs = behaviour_specs or {}
    builders = {
        "contrastive_search": contrastive_section,
        "probing": probing_section,
        "profiling": profiling_section,
    }
    found = headlines(artifacts)
    sections = [
        verdict_section(audit, specs, found),
        run_section(pair, models, generation_summary),
        audit_section(audit, specs, wealth_png),
        scores_section(score_summary, distributions_png),
        divergent_section(divergent, behaviour),
    ]
    for name, build in builders.items():
        if artifacts.get(name):
            section = build(artifacts[name])
            lead = f"<p class='headline'>{esc(found[name])}</p>" if name in found else ""
            sections.append(Section(section.anchor, section.title, lead + section.body))
    missing = [name for name in builders if not artifacts.get(name)]
    if missing:
        sections.append(
            Section(
                "not-run",
                "Not in this report",
                "<p>No outputs found for: "
                + ", ".join(f"<code>{esc(m)}</code>" for m in missing)
                + f". Run <code>kedro run --pipelines &lt;name&gt; --params pair={esc(pair)}</code>"
                " (or its run file), then <code>kedro run --pipelines reporting</code>"
                f" (with the same <code>--params pair={esc(pair)}</code>).</p>",
            )
        )
    subtitle = f"Created {created}." + "".join(
        f" {label[:1].upper() + label[1:]}: {value}."
        for label, value in (provenance or {}).items()
        if value not in (None, "")
    )
    return page(f"llm_behavior report: {pair}", subtitle, sections)
