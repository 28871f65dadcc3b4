"""Thin nodes of the auditing pipeline: the job is in llm_behavior.audit.runner (settings typed
by ``AuditSettings.from_dict``; defaults only in conf/base/parameters_auditing.yml)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from llm_behavior.audit import runner
from llm_behavior.audit.plots import distributions_figure, wealth_figure
from llm_behavior.audit.settings import AuditSettings
from llm_behavior.audit.tables import (
    audited_behaviours,
    pair_behaviour_scores,
    parse_behaviours,
    side_scores,
)


def pair_scores(
    scores: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Long scores -> one row per (prompt_id, sample), ``<behaviour>:<side>`` columns in [0, 1]."""
    settings = AuditSettings.from_dict(params)
    return pair_behaviour_scores(scores, parse_behaviours(settings.behaviours))


def audit_shift(
    wide: pd.DataFrame, pairing: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """The sequential audit (and the A/A audit, noise floor) on prompts."""
    return runner.audit_shift(wide, pairing, AuditSettings.from_dict(params))


def audit_folds(
    wide: pd.DataFrame, pairing: dict[str, Any], state: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Fold runs and the power sweep on the audited prompts."""
    return runner.audit_folds(wide, pairing, state, AuditSettings.from_dict(params))


def audit_report(state: dict[str, Any], folds: dict[str, Any]) -> dict[str, Any]:
    """The audit result (JSON)."""
    return runner.audit_report(state, folds)


def plot_wealth(state: dict[str, Any]) -> Figure:
    """Wealth trajectories (combined and per behaviour, A/A dashed in the title) against 1/alpha."""
    main = state["audit"]
    k = len(main["behaviours"])
    fig = wealth_figure(
        main["log_wealth"], state["alpha"], per_behaviour_threshold=k / state["alpha"],
        title=f"Audit reference vs candidate ({state['test']})", unit="prompts",
    )  # fmt: skip
    aa = state.get("aa_audit")
    if aa is not None:
        ax = fig.axes[0]
        lw = aa["log_wealth"]["combined"]
        ax.plot(
            np.arange(1, lw.size + 1), np.exp(np.clip(lw, -700, 700)),
            color="grey", ls="--", label="A/A combined",
        )  # fmt: skip
        ax.legend(fontsize=8)
    return fig


def plot_distributions(wide: pd.DataFrame, pairing: dict[str, Any]) -> Figure:
    """Histograms of every side's mapped scores, one panel per behaviour."""
    data = {}
    for n in audited_behaviours(pairing):
        data[n] = {
            s: side_scores(wide, n, s)
            for s in ("reference", "candidate", "replicate")
            if f"{n}:{s}" in wide
        }
    return distributions_figure(data)
