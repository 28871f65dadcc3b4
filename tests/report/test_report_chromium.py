"""The HTML report opened in headless Chromium (Debian's package, installed by `make test`'s
set-up): every section renders and every embedded image decodes."""

from __future__ import annotations

import os
import shutil
from io import BytesIO

import numpy as np
import pandas as pd
import pytest

from llm_behavior.audit.plots import distributions_figure, wealth_figure
from llm_behavior.report.build import SIDES, build_report
from tests.report.audit_fixtures import AUDITING_BEHAVIOURS, contract_audit, old_audit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None and os.environ.get("CI"):
    pytest.fail(
        "Chromium is missing: `make test` installs Debian's chromium package (see the Makefile)"
    )
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)"
)


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


def build_page(audit: dict, *, with_artifacts: bool = True) -> str:
    rng = np.random.default_rng(0)
    log_wealth = {
        "combined": np.cumsum(rng.normal(0.3, 0.3, 60)),
        "toxicity": np.cumsum(rng.normal(0.3, 0.3, 60)),
        "length": np.cumsum(rng.normal(0.0, 0.2, 60)),
    }
    wealth = png(
        wealth_figure(log_wealth, 0.05, per_behaviour_threshold=40.0, title="audit", unit="prompts")
    )
    dists = png(
        distributions_figure(
            {
                "toxicity": {"reference": rng.random(50), "candidate": rng.random(50) ** 0.5},
                "length": {"reference": rng.random(50), "candidate": rng.random(50)},
            }
        )
    )
    spec = {
        "name": "smollm2-instruct",
        "source": "smollm2-135m-instruct",
        "system_prompt": "You are a helpful assistant.",
        "generation": {
            "max_new_tokens": 32,
            "temperature": 1.0,
            "top_p": 0.95,
            "num_samples": 3,
            "seed": 0,
        },
    }
    rude = {
        **spec,
        "name": "smollm2-instruct-rude",
        "system_prompt": "You are a rude, insulting and toxic assistant.",
    }
    generation_summary = {
        "sides": {
            s: {
                "n_generations": 300,
                "n_prompts": 100,
                "mean_new_tokens": 27.5,
                "n_empty_texts": 0,
                "spec_hash": "0123456789abcdef0123456789abcdef",
            }
            for s in SIDES
        }
    }
    summary = pd.DataFrame(
        {
            "side": ["reference", "candidate"],
            "scorer": ["tox"] * 2,
            "metric": ["toxicity"] * 2,
            "mean": [0.1, 0.3],
            "std": [0.1, 0.2],
            "n": [60, 60],
            "n_missing": [0, 0],
        }
    )
    divergent = pd.DataFrame(
        {
            "rank": [1, 1],
            "prompt_id": ["p1"] * 2,
            "prompt": ["Say something"] * 2,
            "side": ["reference", "candidate"],
            "sample": [0, 1],
            "text": ["Hello there", "Shut up"],
            "score": [0.01, 0.9],
            "prompt_mean_reference": [0.01] * 2,
            "prompt_mean_candidate": [0.8] * 2,
            "prompt_difference": [0.79] * 2,
            "token_pieces": [["Hello", " there"], ["Shut", " up"]],
            "token_log_ratio": [[-0.5, 0.1], [2.0, 1.5]],
            "mean_log_ratio": [-0.2, 1.75],
            "token_note": ["", ""],
        }
    )
    artifacts = (
        {
            "probing": {
                "probe_curves_plot": plot_png("probe r"),
                "probe_summary": pd.DataFrame(
                    {
                        "side": ["reference", "reference", "candidate"],
                        "scenario": ["prompt"] * 3,
                        "layer": [3, 9, 9],
                        "pearson_r": [0.3, 0.61, 0.55],
                        "control_pearson_r": [0.05, 0.1, 0.08],
                        "selectivity": [0.25, 0.51, 0.47],
                    }
                ),
            },
            "profiling": {
                "profile_bias_plot": plot_png("bias"),
                "profile_comparison": pd.DataFrame(
                    {
                        "part": ["calibration"] * 2,
                        "dataset": ["piqa"] * 2,
                        "subgroup": ["all", "x"],
                        "metric": ["ece_10_bins"] * 2,
                        "reference": [0.2, 0.3],
                        "candidate": [0.1, 0.3],
                        "difference": [-0.1, 0.0],
                        "ci_low": [-0.15, -0.1],
                        "ci_high": [-0.05, 0.1],
                        "p_value": [0.004, 1.0],
                        "definition": ["top-label ECE, 10 equal-mass bins"] * 2,
                    }
                ),
            },
            "contrastive_search": {
                "divergence_token_view": "<html><body><p id='kl-view'>tokens</p></body></html>",
                "prompt_search_summary": {
                    "mean_divergence_random_bundled_prompts": 0.21,
                    "n_random_bundled_prompts": 20,
                    "mean_divergence_assistant_prompts": 0.35,
                    "n_assistant_prompts_scored": 40,
                    "mean_divergence_fresh_heldout": 0.31,
                },
            },
        }
        if with_artifacts
        else {}
    )
    return build_report(
        pair="demo",
        models={"reference": spec, "candidate": rude},
        generation_summary=generation_summary,
        audit=audit,
        score_summary=summary,
        divergent=divergent,
        behaviour="toxicity",
        wealth_png=wealth,
        distributions_png=dists,
        artifacts=artifacts,
        created="now",
        behaviour_specs=AUDITING_BEHAVIOURS,
        provenance={"data version": "2026-12-02T18.00.00.000Z"},
    )


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(build_page(contract_audit()), encoding="utf-8")
    return path


def screenshot_dir(tmp_path):
    """Where the screenshots go: $REPORT_SCREENSHOT_DIR
    (to look at them) or the test's temp folder."""
    folder = os.environ.get("REPORT_SCREENSHOT_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        return folder
    return str(tmp_path)


def test_report_renders_in_headless_chromium(report_file, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    shots = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report_file.as_uri())
        page.wait_for_load_state("load")
        sections = page.eval_on_selector_all("section", "els => els.map(e => e.id)")
        images = page.eval_on_selector_all(
            "img",
            "els => els.map(e => "
            "({alt: e.alt, ok: e.complete && e.naturalWidth > 0, w: e.naturalWidth}))",
        )
        verdict = page.get_attribute(".verdict", "data-verdict")
        first_text = page.inner_text("section:first-of-type")
        statuses = page.eval_on_selector_all(
            "#verdict li[data-behaviour]",
            "els => els.map(e => [e.dataset.behaviour, e.dataset.status])",
        )
        token_spans = page.eval_on_selector_all("#divergent .tokens span", "els => els.length")
        visible_heights = page.eval_on_selector_all(
            "section", "els => els.map(e => e.getBoundingClientRect().height)"
        )
        nav_links = page.eval_on_selector_all(
            "nav a", "els => els.map(e => e.getAttribute('href'))"
        )
        profile_rows = page.eval_on_selector_all(
            "#profiling > .table-wrap > table tbody tr", "els => els.length"
        )
        widths = {}
        for width in (1400, 800):
            page.set_viewport_size({"width": width, "height": 900})
            widths[width] = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            shots[width] = os.path.join(screenshot_dir(tmp_path), f"report_{width}px.png")
            page.screenshot(path=shots[width], full_page=True)
        browser.close()
    assert sections == [
        "verdict",
        "run",
        "audit",
        "scores",
        "divergent",
        "contrastive",
        "probing",
        "profiling",
    ]
    assert nav_links == [f"#{s}" for s in sections]
    # wealth, distributions, probe, bias
    assert len(images) == 4 and all(i["ok"] for i in images), images
    assert verdict == "rejected"
    # the verdict block, first, states the verdict, prompts/pairs, the signed mean shift, the
    # distance with its interval, the noise-floor ratio and the p-value bound (figures of the
    # fixture, hand-checked in test_verdict)
    for text in (
        "Behaviour shifted (H0 rejected at alpha = 0.05) after 18 prompts (52 pairs)",
        "toxicity shifted: detected after 18 prompts (52 pairs)",
        "mean shift +0.135 (candidate \u2212 reference",
        "distance 0.27 \u00b1 0.07 (total variation, 95%)",
        "9.5x the A/A noise floor",
        "p \u2264 1.4e-7",
        "p \u2264 5e-8",
        "mean shift -0.0119 (candidate \u2212 reference; "
        "95% CI -0.03 to +0.006) = -0.762 spaCy tokens",
        "eps = 0: any change at all",
        "its 95% CI is a fixed-sample normal interval over all audited pairs, clustered by "
        "prompt: valid for that one look, not anytime-valid like the verdict",
        "length: spaCy tokens (text_characteristics n_tokens), divided by 64",
        "Probing: reference: best layer 9 (probe r = 0.61, control task 0.1, prompt)",
        "Profiles: 1 of 1 overall statistics differ at p < 0.05",
        "Contrastive search: mean divergence (per-token KL, nats) 0.21",
    ):
        assert text in first_text, (text, first_text)
    assert statuses == [["toxicity", "shifted"], ["length", "no shift detected"]]
    assert token_spans == 4
    assert profile_rows == 1  # the overall row; the subgroup row is folded away
    assert all(h > 40 for h in visible_heights)  # every section laid out with content
    assert errors == []
    # no horizontal overflow at either width (the page is as wide as the window)
    assert all(scroll <= inner for scroll, inner in widths.values()), widths
    assert all(os.path.getsize(shot) > 20_000 for shot in shots.values())


def test_report_of_an_older_audit_result_says_na(tmp_path):
    """A result without prompt counts, distances or p-value bounds renders, with n/a, not zeros."""
    from playwright.sync_api import sync_playwright

    path = tmp_path / "old.html"
    path.write_text(build_page(old_audit(), with_artifacts=False), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 800, "height": 900})
        page.goto(path.as_uri())
        first_text = page.inner_text("section:first-of-type")
        not_run = page.inner_text("#not-run")
        browser.close()
    assert "toxicity shifted: detected after 42 pairs (prompts n/a)" in first_text
    assert "distance n/a" in first_text and "p \u2264 0.025" in first_text
    assert (
        "kedro run --pipelines <name> --params pair=demo" in not_run
        and "--pipeline " not in not_run
    )
