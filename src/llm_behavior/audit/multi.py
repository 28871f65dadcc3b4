"""Several behaviours at once: one e-process per behaviour, combined validly, on prompts.

All behaviours are scored on the same rows (prompt, sample). The unit is the prompt: rows are
laid out prompt by prompt (``groups``: the prompt of each row; None = every row its own prompt),
and every behaviour's e-process bets once per prompt on the mean payoff of that prompt's complete
pairs, so all live on one time axis of prompts: behaviour b's wealth after prompt t is its wealth
after its own prompts among 1..t (a prompt where b has no complete pair is skipped: wealth
unchanged). Under the global null (every behaviour within its tolerance), each W_b is a test
supermartingale for the filtration of all data of prompts 1..t (prompt t is independent of
earlier prompts), so:
- the average (1/K) sum_b W_b is one too: reject "some behaviour shifted" when it reaches 1/alpha;
- per behaviour, rejecting when W_b >= K/alpha (Bonferroni) keeps the family-wise error <= alpha
  at any stopping time. Any behaviour rejected this way also makes the average reach 1/alpha.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats

from llm_behavior.audit.combine import average_log_wealth
from llm_behavior.audit.sequential import DEFAULT_TEST, run_test, wealth_from_log
from llm_behavior.audit.units import cluster_mean_se, group_layout
from llm_behavior.audit.validation import check_alpha_eps, clean_pairs


def _first_crossing(log_wealth: np.ndarray, threshold: float) -> int | None:
    hit = np.flatnonzero(log_wealth >= threshold - 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def mean_shift_ci(
    x: np.ndarray, y: np.ndarray, sizes: np.ndarray, level: float = 0.95
) -> tuple[float, list[float]]:
    """Mean of y - x over pairs (candidate - reference) and
    its fixed-sample normal CI, clustered by prompt."""
    d, se = cluster_mean_se(np.asarray(y) - np.asarray(x), sizes)
    half = float(stats.norm.ppf(0.5 + level / 2)) * se
    return d, [d - half, d + half]


def audit_behaviours(
    scores: Mapping[str, tuple[np.ndarray, np.ndarray]],
    test: str = DEFAULT_TEST,
    eps: float | Mapping[str, float] = 0.0,
    alpha: float = 0.05,
    min_pairs: int = 10,
    *,
    groups: np.ndarray | None = None,
) -> dict[str, object]:
    """Audit K behaviours on row-aligned paired scores (NaN = missing, values in [0, 1]).

    Each entry is (reference, candidate). Returns the combined verdict, its wealth trajectory on
    prompts, and per-behaviour results (counts in prompts and in pairs; mean_shift = candidate -
    reference).
    """
    if not scores:
        raise ValueError("no behaviours to audit")
    lengths = {name: len(np.asarray(pair[0])) for name, pair in scores.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"behaviours must be aligned on the same rows, got lengths {lengths}")
    n_rows = next(iter(lengths.values()))
    layout = group_layout(groups, n_rows)
    eps_of = {name: float(eps[name] if isinstance(eps, Mapping) else eps) for name in scores}
    for value in eps_of.values():
        check_alpha_eps(alpha, value)
    k = len(scores)
    prompt_of_row = np.repeat(np.arange(layout.n_prompts), layout.sizes)  # rows in layout order
    rows_seen = np.cumsum(layout.sizes)
    per_behaviour: dict[str, dict[str, object]] = {}
    trajectories: dict[str, np.ndarray] = {}
    for name, (first, second) in scores.items():
        x = np.asarray(first, dtype=float)[layout.order]
        y = np.asarray(second, dtype=float)[layout.order]
        complete = ~(np.isnan(x) | np.isnan(y))
        pairs = clean_pairs(
            x,
            y,
            clip=False,
            min_pairs=min_pairs,
            names=(f"{name} (reference)", f"{name} (candidate)"),
        )
        per_prompt = np.bincount(prompt_of_row[complete], minlength=layout.n_prompts)
        sizes = per_prompt[per_prompt > 0]
        own = run_test(
            pairs.x, pairs.y, test, eps=eps_of[name], alpha=alpha, sizes=sizes
        ).log_wealth[0]
        seen = np.cumsum(per_prompt > 0)  # own prompts among the first t
        on_prompts = np.where(seen > 0, own[np.maximum(seen - 1, 0)], 0.0)
        trajectories[name] = on_prompts
        bonferroni = np.log(k / alpha)
        stop = _first_crossing(on_prompts, bonferroni)
        shift, ci = mean_shift_ci(pairs.x, pairs.y, sizes)
        max_wealth = wealth_from_log(own.max())
        per_behaviour[name] = {
            "eps": eps_of[name],
            "n_prompts": int(sizes.size),
            "n_pairs": pairs.n_pairs,
            "n_dropped": pairs.n_dropped,
            "rejected": stop is not None,
            "threshold": float(k / alpha),
            "prompts_to_rejection": stop,
            "pairs_to_rejection": int(np.cumsum(per_prompt)[stop - 1]) if stop else None,
            "final_wealth": wealth_from_log(own[-1]),
            "max_wealth": max_wealth,
            "p_value_bound": float(min(1.0, k / max_wealth)),
            "mean_shift": shift,  # candidate - reference
            "mean_shift_ci": ci,
            "mean_shift_ci_note": (
                "95% normal interval clustered by prompt, fixed-sample (not anytime-valid)"
            ),
        }
    combined = average_log_wealth([trajectories[name] for name in scores])
    stop = _first_crossing(combined, np.log(1.0 / alpha))
    max_wealth = wealth_from_log(combined.max()) if layout.n_prompts else 1.0
    pairs_used = int(rows_seen[stop - 1]) if stop is not None else int(n_rows)
    return {
        "test": test,
        "alpha": float(alpha),
        "unit": "prompt (one bet per prompt on the mean payoff of its samples)",
        "combination": "average of e-processes (global null); Bonferroni K/alpha per behaviour",
        "rejected": stop is not None,
        "prompts_to_rejection": stop,
        "prompts_used": int(stop if stop is not None else layout.n_prompts),
        "pairs_used": pairs_used,
        "samples_used": pairs_used,  # = pairs_used (name of earlier versions)
        "n_prompts": layout.n_prompts,
        "n_rows": int(n_rows),
        "final_wealth": wealth_from_log(combined[-1]) if layout.n_prompts else 1.0,
        "max_wealth": max_wealth,
        "p_value_bound": float(min(1.0, 1.0 / max_wealth)),
        "behaviours": per_behaviour,
        "log_wealth": {"combined": combined, **trajectories},
    }
