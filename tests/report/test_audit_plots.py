"""The audit's figures: the rejection point where the wealth first reaches its line, ECDFs equal to
scipy's, labelled axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from llm_behavior.audit.plots import distributions_figure, ecdf, first_crossing, wealth_figure


def test_first_crossing_is_the_first_step_at_or_over_the_line():
    log_wealth = np.log([1.0, 5.0, 19.9, 20.0, 50.0, 10.0])
    assert first_crossing(log_wealth, 20.0) == 4  # 1-based: the 4th step reaches 20
    assert first_crossing(log_wealth, 60.0) is None


def test_wealth_figure_marks_each_rejection_point():
    combined = np.log([1.0, 3.0, 25.0, 30.0])  # reaches 1/alpha = 20 at step 3
    toxicity = np.log([1.0, 10.0, 45.0, 60.0])  # reaches K/alpha = 40 at step 3
    length = np.log([1.0, 0.9, 1.1, 1.0])  # never
    fig = wealth_figure(
        {"combined": combined, "toxicity": toxicity, "length": length},
        0.05,
        per_behaviour_threshold=40.0,
        unit="prompts",
    )
    ax = fig.axes[0]
    markers = [
        (line.get_xdata()[0], line.get_ydata()[0])
        for line in ax.get_lines()
        if line.get_marker() == "o"
    ]
    assert np.allclose(markers, [(3, 25.0), (3, 45.0)])
    assert sorted(t.get_text() for t in ax.texts) == [
        "combined rejects at 3",
        "toxicity rejects at 3",
    ]
    assert ax.get_xlabel() == "prompts seen" and ax.get_ylabel() == "wealth (e-value), log scale"
    assert ax.get_yscale() == "log"
    plt.close(fig)


def test_ecdf_equals_scipy_and_the_figure_is_labelled():
    rng = np.random.default_rng(3)
    values = np.append(rng.random(40), np.nan)
    x, y = ecdf(values)
    reference = stats.ecdf(values[~np.isnan(values)]).cdf
    assert np.allclose(x, reference.quantiles) and np.allclose(y, reference.probabilities)
    candidate = rng.random(30)
    fig = distributions_figure(
        {"toxicity": {"reference": values, "candidate": candidate}},
        xlabels={"toxicity": "toxicity score in [0, 1]"},
    )
    ax = fig.axes[0]
    assert ax.get_xlabel() == "toxicity score in [0, 1]" and "fraction of texts" in ax.get_ylabel()
    assert ax.get_yscale() == "linear"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        f"reference (n=40, mean={np.nanmean(values):.3f})",
        f"candidate (n=30, mean={candidate.mean():.3f})",
    ]
    # no translucency: every curve is opaque
    assert all(line.get_alpha() in (None, 1.0) for line in ax.get_lines())
    plt.close(fig)
