"""The HTML report opened in headless Chromium (Debian's package, installed by `make test`'s set-up):
every section renders and every embedded image decodes."""

from __future__ import annotations

import os
import shutil
from io import BytesIO

import numpy as np
import pandas as pd
import pytest

from llm_behavior.audit.plots import distributions_figure, wealth_figure
from llm_behavior.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail("Chromium is missing: `make test` installs Debian's chromium package (see the Makefile)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")


def png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    return buf.getvalue()


def plot_png(title: str) -> bytes:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0, 1])
    ax.set_title(title)
    return png(fig)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    log_wealth = {"combined": np.cumsum(rng.normal(0.1, 0.3, 60)), "toxicity": np.cumsum(rng.normal(0.1, 0.3, 60))}
    wealth = png(wealth_figure(log_wealth, 0.05, per_behaviour_threshold=40.0, title="audit"))
    dists = png(distributions_figure({"toxicity": {"reference": rng.random(50), "candidate": rng.random(50) ** 0.5}}))
    spec = {"name": "m", "source": "smollm2-135m-instruct", "generation": {"max_new_tokens": 8, "seed": 0}}
    audit = {
        "verdict": "behaviour shifted (H0 rejected)", "rejected": True, "test": "combined", "alpha": 0.05,
        "samples_used": 42, "final_wealth": 33.0, "threshold": 20.0, "eps_source": "fixed", "combination": "average",
        "behaviours": {"toxicity": {"eps": 0.0, "n_pairs": 60, "rejected": True, "pairs_to_rejection": 42}},
        "aa_audit": {"rejected": False, "samples_used": 60, "max_wealth": 1.2, "behaviours": {}},
        "folds": {"toxicity": {"tests": {"combined": {"folds": 3, "rejection_rate": 0.67}}}},
    }
    summary = pd.DataFrame(
        {"side": ["reference", "candidate"], "scorer": ["tox"] * 2, "metric": ["toxicity"] * 2, "mean": [0.1, 0.3],
         "std": [0.1, 0.2], "n": [60, 60], "n_missing": [0, 0]}
    )
    divergent = pd.DataFrame(
        {"rank": [1, 1], "prompt_id": ["p1"] * 2, "prompt": ["Say something"] * 2, "side": ["reference", "candidate"],
         "sample": [0, 1], "text": ["Hello there", "Shut up"], "score": [0.01, 0.9],
         "prompt_mean_reference": [0.01] * 2, "prompt_mean_candidate": [0.8] * 2, "prompt_difference": [0.79] * 2,
         "token_pieces": [["Hello", " there"], ["Shut", " up"]], "token_log_ratio": [[-0.5, 0.1], [2.0, 1.5]],
         "mean_log_ratio": [-0.2, 1.75], "token_note": ["", ""]}
    )
    artifacts = {
        "probing": {"probing_pearson_r.png": plot_png("probe r"), "probe_summary.csv": pd.DataFrame({"layer": [0, 1]})},
        "profiling": {"profile_bias.png": plot_png("bias"), "profile_comparison.csv": pd.DataFrame(
            {"part": ["calibration"] * 2, "dataset": ["piqa"] * 2, "subgroup": ["all", "x"], "metric": ["ece_10_bins"] * 2,
             "reference": [0.2, 0.3], "candidate": [0.1, 0.3], "difference": [-0.1, 0.0], "p_value": [0.04, 1.0],
             "definition": ["top-label ECE, 10 equal-mass bins"] * 2})},
        "contrastive_search": {"divergence_tokens.html": "<html><body><p id='kl-view'>tokens</p></body></html>"},
    }
    html = build_report(
        pair="demo", models={"reference": spec, "candidate": spec}, generation_summary={"sides": {}},
        audit=audit, score_summary=summary, divergent=divergent, behaviour="toxicity", wealth_png=wealth,
        distributions_png=dists, artifacts=artifacts, created="now",
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_report_renders_in_headless_chromium(report_file, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report_file.as_uri())
        page.wait_for_load_state("load")
        sections = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({alt: e.alt, ok: e.complete && e.naturalWidth > 0, w: e.naturalWidth}))"
        )
        verdict = page.get_attribute(".verdict", "data-verdict")
        token_spans = page.eval_on_selector_all("#divergent .tokens span", "els => els.length")
        visible_heights = page.eval_on_selector_all("section", "els => els.map(e => e.getBoundingClientRect().height)")
        nav_links = page.eval_on_selector_all("nav a", "els => els.map(e => e.getAttribute('href'))")
        profile_rows = page.eval_on_selector_all("#profiling > table tbody tr", "els => els.length")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert sections == ["run", "audit", "scores", "divergent", "contrastive", "probing", "profiling"]
    assert nav_links == [f"#{s}" for s in sections]
    assert len(images) == 4 and all(i["ok"] for i in images), images  # wealth, distributions, probe, bias
    assert verdict == "rejected"
    assert token_spans == 4
    assert profile_rows == 1  # the overall row; the subgroup row is folded away
    assert all(h > 40 for h in visible_heights)  # every section laid out with content
    assert errors == []
    assert shot.stat().st_size > 20_000
