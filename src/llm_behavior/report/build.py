"""The run report: one HTML page a researcher reads instead of notebooks (docs/reporting.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.report.html import Section, esc, fmt, image, page, table, token_spans

SIDES = ("reference", "candidate", "replicate")
HEADLINE_TEXT_METRICS = ("n_tokens", "mtld", "flesch_reading_ease", "entropy", "sentence_length_mean")


def run_section(pair: str, models: Mapping[str, Any], generation_summary: Mapping[str, Any]) -> Section:
    """The model pair, each side's spec and decoding settings, and what was generated."""
    rows = []
    for side in SIDES:
        spec = models.get(side)
        summary = generation_summary.get("sides", {}).get(side, {})
        if spec is None and not summary:
            continue
        gen = (spec or {}).get("generation", {})
        rows.append(
            {
                "side": side,
                "model": (spec or {}).get("name", summary.get("model_name")),
                "source": (spec or {}).get("source"),
                "backend": (spec or {}).get("backend", "transformers"),
                "quantization": (spec or {}).get("quantization"),
                "system prompt": (spec or {}).get("system_prompt"),
                "decoding": ", ".join(f"{k}={v}" for k, v in gen.items() if k in (
                    "max_new_tokens", "temperature", "top_p", "top_k", "num_samples", "seed")),
                "texts": summary.get("n_generations"),
                "prompts": summary.get("n_prompts"),
                "mean new tokens": summary.get("mean_new_tokens"),
                "empty texts": summary.get("n_empty_texts"),
                "spec hash": summary.get("spec_hash"),
            }
        )
    flags = generation_summary.get("flags") or []
    flag_html = "".join(f"<li>{esc(f)}</li>" for f in flags)
    body = (
        f"<p>Pair <b>{esc(pair)}</b>. The <i>replicate</i> side is the reference model again with another seed "
        "(an A/A control: any 'shift' it shows is noise).</p>"
        + table(pd.DataFrame(rows))
        + (f"<p>Warnings from generation:</p><ul>{flag_html}</ul>" if flags else "<p class='muted'>No generation warnings.</p>")
    )
    return Section("run", "Models and settings", body)


def audit_section(audit: Mapping[str, Any], wealth_png: bytes | None) -> Section:
    """The verdict, per behaviour: samples to rejection, wealth, eps; the A/A control; the wealth plot."""
    rejected = bool(audit.get("rejected"))
    verdict = (
        f"<div class='verdict {'rejected' if rejected else 'kept'}' data-verdict='{'rejected' if rejected else 'not-rejected'}'>"
        f"<b>{esc(audit.get('verdict', ''))}</b>: test <code>{esc(audit.get('test'))}</code> at alpha = {fmt(audit.get('alpha'))}"
        + (f", rejected after <b>{fmt(audit.get('samples_used'))}</b> pairs" if rejected else
           f", {fmt(audit.get('samples_used'))} pairs seen without rejecting")
        + f" (final wealth {fmt(audit.get('final_wealth'))}, threshold {fmt(audit.get('threshold'))}).</div>"
    )
    rows = []
    for name, b in (audit.get("behaviours") or {}).items():
        aa = ((audit.get("aa_audit") or {}).get("behaviours") or {}).get(name, {})
        rows.append(
            {
                "behaviour": name,
                "eps": b.get("eps"),
                "pairs": b.get("n_pairs"),
                "dropped (NaN)": b.get("n_dropped"),
                "rejected": b.get("rejected"),
                "pairs to rejection": b.get("pairs_to_rejection"),
                "mean shift (cand - ref)": b.get("mean_shift"),
                "max wealth": b.get("max_wealth"),
                "A/A rejected": aa.get("rejected"),
                "A/A max wealth": aa.get("max_wealth"),
            }
        )
    body = verdict + (
        f"<p>H0: the distance between the two sides' score distributions is at most eps "
        f"({esc(audit.get('eps_source', ''))}). {esc(audit.get('combination', ''))}. The test is anytime-valid: "
        "the wealth may be watched after every pair; rejecting when it crosses 1/alpha keeps the error rate "
        "at most alpha.</p>"
    ) + table(pd.DataFrame(rows))
    aa = audit.get("aa_audit")
    if aa:
        body += (
            f"<p>A/A control (reference vs replicate): {'<b>rejected</b> (investigate: the test or the data is off)' if aa.get('rejected') else 'not rejected'}"
            f" after {fmt(aa.get('samples_used'))} pairs, max wealth {fmt(aa.get('max_wealth'))}.</p>"
        )
    if wealth_png:
        body += image(wealth_png, "audit wealth against pairs seen")
    folds = audit.get("folds") or {}
    fold_rows = []
    for name, f in folds.items():
        for test_name, t in (f.get("tests") or {}).items():
            fold_rows.append(
                {
                    "behaviour": name,
                    "test": test_name,
                    "folds": t.get("folds"),
                    "rejection rate": t.get("rejection_rate"),
                    "median pairs to rejection": t.get("median_samples_to_rejection"),
                }
            )
    if fold_rows:
        body += (
            "<details><summary>Power over disjoint folds (each test re-run on independent folds of the pairs)</summary>"
            + table(pd.DataFrame(fold_rows))
            + "</details>"
        )
    return Section("audit", "Audit verdict", body)


def scores_section(score_summary: pd.DataFrame, distributions_png: bytes | None) -> Section:
    """Each side's mean, sd and missing count per scorer and metric, and the audited distributions."""
    body = "<p>The audited behaviours' scores per side (the test sees them after its fixed map into [0, 1]).</p>"
    if distributions_png:
        body += image(distributions_png, "score distributions per behaviour and side")
    if not score_summary.empty:
        wide = score_summary.pivot_table(index=["scorer", "metric"], columns="side", values="mean").reset_index()
        wide.columns = [str(c) for c in wide.columns]
        if {"reference", "candidate"} <= set(wide.columns):
            wide["candidate - reference"] = wide["candidate"] - wide["reference"]
        headline = wide["metric"].isin(HEADLINE_TEXT_METRICS) | (wide["scorer"] != "text_characteristics")
        body += "<p>Mean score per side (all scorers; text statistics: a few, the rest below).</p>" + table(wide[headline])
        body += (
            "<details><summary>Every score: mean, standard deviation, count, missing (scorer failures, kept as NaN)"
            "</summary>" + table(score_summary, max_rows=1000) + "</details>"
        )
    return Section("scores", "Score distributions", body)


def divergent_section(texts: pd.DataFrame, behaviour: str) -> Section:
    """The top prompts by score difference, each side's top text with tokens shaded by log p_c - log p_r."""
    if texts.empty:
        return Section("divergent", "Most divergent prompts",
                       f"<p>No <code>{esc(behaviour)}</code> scores on both sides, so no prompts to rank.</p>")
    values = np.concatenate([np.asarray(v, dtype=float) for v in texts["token_log_ratio"] if len(v)] or [np.zeros(1)])
    vmax = float(np.nanpercentile(np.abs(values), 99)) if values.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    body = [
        f"<p>The prompts whose mean <code>{esc(behaviour)}</code> score differs most between the sides, and each side's "
        "highest-scoring text. Each token is shaded by log p<sub>candidate</sub> - log p<sub>reference</sub> of that token "
        f"(each model conditioned on the prompt as it renders it): <span style='background:rgba(220,38,38,.6)'>red</span> "
        f"= the candidate makes it more likely, <span style='background:rgba(37,99,235,.6)'>blue</span> = the reference does; "
        f"full colour = {vmax:.2f} nats or more. Hover a token for its value.</p>"
    ]
    for rank, group in texts.groupby("rank", sort=True):
        first = group.iloc[0]
        body.append(
            f"<h3>#{int(rank)}: {esc(first['prompt_id'])} (mean score reference {fmt(first['prompt_mean_reference'], 3)},"
            f" candidate {fmt(first['prompt_mean_candidate'], 3)})</h3><p class='muted'>Prompt: {esc(first['prompt'])}</p>"
        )
        for row in group.itertuples(index=False):
            note = f" ({esc(row.token_note)})" if row.token_note else ""
            total = f", log-ratio of the text {float(np.sum(row.token_log_ratio)):+.2f} nats" if len(row.token_log_ratio) else ""
            body.append(f"<div class='muted'>{esc(row.side)} sample {row.sample}: score {fmt(row.score, 3)}{total}{note}</div>")
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
    body = ["<p>From the <code>contrastive_search</code> pipeline (docs/contrastive_search.md).</p>"]
    summary = files.get("prompt_search_summary.json")
    if summary is not None:
        body.append("<details open><summary>Prompt search summary</summary><pre>"
                    + esc(json.dumps(summary, indent=1)[:6000]) + "</pre></details>")
    cycles = files.get("prompt_search_cycles.csv")
    if isinstance(cycles, pd.DataFrame):
        body.append("<p>Search cycles:</p>" + table(cycles, max_rows=50))
    view = files.get("divergence_tokens.html")
    if view:
        body.append("<details><summary>Contrastive texts, tokens shaded by per-token KL</summary>"
                    f"<div class='contrastive-view'>{_html_body(view)}</div></details>")
    return Section("contrastive", "Contrastive search", "".join(body))


def probing_section(files: Mapping[str, Any]) -> Section:
    """Probe curves across layers, MDL and the side difference."""
    body = ["<p>From the <code>probing</code> pipeline (docs/probing.md): linear probes from each layer's hidden "
            "states to the behaviour score, against control tasks.</p>"]
    for name, alt in (("probing_pearson_r.png", "probe Pearson r per layer"),
                      ("probing_mdl_compression.png", "probe MDL compression per layer")):
        if files.get(name):
            body.append(image(files[name], alt))
    for name, label in (("probe_summary.csv", "Probe summary"), ("probe_side_difference.csv", "Reference vs candidate"),
                        ("probing_behaviour.csv", "Behaviour labels")):
        if isinstance(files.get(name), pd.DataFrame):
            body.append(f"<details><summary>{esc(label)}</summary>{table(files[name], max_rows=100)}</details>")
    return Section("probing", "Probing", "".join(body))


PROFILE_COLUMNS = ("part", "dataset", "subgroup", "metric", "reference", "candidate", "difference", "ci_low",
                   "ci_high", "p_value", "n_pairs")


def _compact(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame.columns]]


def profiling_section(files: Mapping[str, Any]) -> Section:
    """Profile comparison (overall rows first, per subgroup folded), plots, definitions, each side's profile."""
    body = ["<p>From the <code>profiling</code> pipeline (docs/profiling.md). Differences are candidate - reference "
            "on the same items, with 95% paired-bootstrap CIs; p-values from exact McNemar (0/1 outcomes) or the "
            "paired bootstrap (column <code>test</code> of the CSV).</p>"]
    comparison = files.get("profile_comparison.csv")
    if isinstance(comparison, pd.DataFrame) and not comparison.empty:
        sub = comparison["subgroup"] if "subgroup" in comparison.columns else pd.Series(None, index=comparison.index)
        overall = sub.isna() | sub.astype(str).isin(["all", "overall", ""])
        body.append("<p>Overall:</p>" + table(_compact(comparison[overall], PROFILE_COLUMNS), max_rows=200))
        body.append("<details><summary>Per subgroup (bias type, category, prompt set, temperature)</summary>"
                    + table(_compact(comparison[~overall], PROFILE_COLUMNS), max_rows=400) + "</details>")
        if "definition" in comparison.columns:
            defs = comparison[["part", "metric", "definition"]].drop_duplicates(["part", "metric"])
            body.append("<details><summary>What each statistic is</summary>" + table(defs, max_rows=400) + "</details>")
    for name, alt in (("profile_bias.png", "bias scores"), ("profile_reliability_diagram.png", "reliability diagram"),
                      ("profile_diversity_vs_temperature.png", "diversity against temperature")):
        if files.get(name):
            body.append(image(files[name], alt))
    for side in ("reference", "candidate"):
        frame = files.get(f"profile_{side}.csv")
        if isinstance(frame, pd.DataFrame):
            shown = frame.drop(columns=[c for c in ("definition",) if c in frame.columns])
            body.append(f"<details><summary>Profile of the {side}</summary>{table(shown, max_rows=400)}</details>")
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
) -> str:
    """The report page. Sections for the optional pipelines appear when their outputs exist."""
    sections = [
        run_section(pair, models, generation_summary),
        audit_section(audit, wealth_png),
        scores_section(score_summary, distributions_png),
        divergent_section(divergent, behaviour),
    ]
    builders = {"contrastive_search": contrastive_section, "probing": probing_section, "profiling": profiling_section}
    for name, build in builders.items():
        if artifacts.get(name):
            sections.append(build(artifacts[name]))
    missing = [name for name in builders if not artifacts.get(name)]
    if missing:
        sections.append(Section("not-run", "Not in this report",
                                "<p>No outputs found for: " + ", ".join(f"<code>{esc(m)}</code>" for m in missing)
                                + f". Run <code>kedro run --pipeline &lt;name&gt; --params pair={esc(pair)}</code>"
                                " (or its run file), then <code>kedro run --pipeline reporting</code>.</p>"))
    return page(f"llm_behavior report: {pair}", f"Created {created}.", sections)
