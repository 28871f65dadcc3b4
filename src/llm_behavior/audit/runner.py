"""The audit job on a paired scores table (what the auditing pipeline's nodes call).

``audit_shift``: the sequential audit reference vs candidate and the A/A audit reference vs
replicate, on prompts (one bet per prompt), eps fixed or calibrated on held-out prompts, and the
noise floor. ``audit_folds``: disjoint folds of audited prompts, fixed-sample baselines, and the
power sweep over eps calibrated on pairs that are not swept. ``audit_report``: the JSON result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.audit.calibration import (
    DistanceEstimate,
    calibrated_power_sweep,
    estimate_distance,
    power_sweep,
)
from llm_behavior.audit.folds import fold_run
from llm_behavior.audit.multi import audit_behaviours
from llm_behavior.audit.sequential import get_test
from llm_behavior.audit.settings import AuditSettings
from llm_behavior.audit.tables import (
    audited_behaviours,
    prompt_groups,
    shuffle_prompts,
    side_scores,
    split_prompts,
)
from llm_behavior.audit.validation import AuditInputError, check_alpha_eps
from llm_behavior.jsonable import to_jsonable

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def behaviour_pairs(
    wide: pd.DataFrame, behaviour: str, a: str, b: str, complete: bool = True
) -> Pairs | None:
    """(side a, side b, prompt of each row) for one
    behaviour; rows with a NaN dropped when ``complete``."""
    x, y = side_scores(wide, behaviour, a), side_scores(wide, behaviour, b)
    if x is None or y is None:
        return None
    groups = prompt_groups(wide)
    if complete:
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y, groups = x[keep], y[keep], groups[keep]
    return x, y, groups


def _distance(pairs: Pairs | None, seed: int) -> DistanceEstimate:
    x, y, groups = pairs  # type: ignore[misc]
    return estimate_distance(x, y, seed=seed, groups=groups)


def _audit_all(
    rows: pd.DataFrame, names: list[str], side: str, settings: AuditSettings, eps: dict[str, float]
) -> dict[str, Any]:
    scores = {n: behaviour_pairs(rows, n, "reference", side, complete=False)[:2] for n in names}  # type: ignore[index]
    return audit_behaviours(
        scores, settings.test, eps, settings.alpha, settings.min_pairs, groups=prompt_groups(rows)
    )


def _prompts(rows: pd.DataFrame | None) -> list[str] | None:
    return None if rows is None else sorted(rows["prompt_id"].astype(str).unique().tolist())


def audit_shift(
    wide: pd.DataFrame, pairing: dict[str, Any], settings: AuditSettings
) -> dict[str, Any]:
    """Sequential audit reference vs candidate (and the A/A reference vs replicate) on prompts,
    with the noise floor per behaviour and eps fixed in advance or taken from held-out prompts."""
    names = audited_behaviours(pairing)
    has_replicate = all(f"{n}:replicate" in wide for n in names)
    calibration_rows: pd.DataFrame | None = None
    audit_rows = wide
    if settings.eps == "noise_floor":
        if not has_replicate:
            raise AuditInputError("eps: noise_floor needs the 'replicate' side in the scores table")
        calibration_rows, audit_rows = split_prompts(
            wide, settings.calibration_fraction, settings.seed
        )
        eps = {
            n: _distance(
                behaviour_pairs(calibration_rows, n, "reference", "replicate"), settings.seed
            ).upper
            for n in names
        }
        n_cal = calibration_rows["prompt_id"].nunique()
        eps_source = (
            f"upper 95% bound of the A/A distance on {n_cal} held-out prompts "
            f"({len(calibration_rows)} rows), "
            "not audited"
        )
    else:
        eps = {n: float(settings.eps) for n in names}
        eps_source = "fixed in parameters"
    for value in eps.values():
        check_alpha_eps(settings.alpha, value)
    if settings.shuffle:
        audit_rows = shuffle_prompts(audit_rows, settings.seed)
        order = (
            f"prompts in a seeded random order (seed {settings.seed}), "
            "each prompt's samples together"
        )
    else:
        order = "prompts in table order (shuffle: false), each prompt's samples together"
    state: dict[str, Any] = {
        "test": settings.test,
        "alpha": settings.alpha,
        "eps": eps,
        "eps_source": eps_source,
        "seed": settings.seed,
        "order": order,
        "pairing": pairing,
        "audit": _audit_all(audit_rows, names, "candidate", settings, eps),
        "audit_rows": int(len(audit_rows)),
        "audit_prompts": _prompts(audit_rows),
        "calibration_rows": None if calibration_rows is None else int(len(calibration_rows)),
        "calibration_prompts": _prompts(calibration_rows),
    }
    if has_replicate:
        state["aa_audit"] = _audit_all(audit_rows, names, "replicate", settings, eps)
        floor_rows = calibration_rows if calibration_rows is not None else audit_rows
        state["noise_floor"] = {}
        for n in names:
            aa = _distance(behaviour_pairs(floor_rows, n, "reference", "replicate"), settings.seed)
            ab = _distance(behaviour_pairs(floor_rows, n, "reference", "candidate"), settings.seed)
            state["noise_floor"][n] = {
                "rows": int(len(floor_rows)),
                "prompts": int(floor_rows["prompt_id"].nunique()),
                "held_out": calibration_rows is not None,
                "reference_vs_replicate": aa.as_dict(),
                "reference_vs_candidate": ab.as_dict(),
                "candidate_distance_over_noise_floor": ab.d_hat / aa.upper
                if aa.upper > 0
                else None,
                "exceeds_noise_floor": bool(ab.d_hat - 1.645 * ab.standard_error > aa.upper),
            }
    else:
        state["aa_audit"] = None
        state["noise_floor"] = {"unavailable": "no 'replicate' side in the scores table"}
    return state


def _rows_of(wide: pd.DataFrame, prompts: list[str] | None) -> pd.DataFrame | None:
    if prompts is None:
        return None
    return wide[wide["prompt_id"].astype(str).isin(set(prompts))].reset_index(drop=True)


def _n_prompts(pairs: Pairs) -> int:
    return int(np.unique(pairs[2]).size)


def audit_folds(
    wide: pd.DataFrame, pairing: dict[str, Any], state: dict[str, Any], settings: AuditSettings
) -> dict[str, Any]:
    """Per behaviour, on the AUDITED prompts only: disjoint-fold rejection rates and prompts/pairs
    to rejection for several tests, fixed-sample baselines, and a power sweep over an eps grid that
    is calibrated on other prompts (the held-out calibration prompts, or a split of the audited
    ones)."""
    names = audited_behaviours(pairing)
    fs = settings.folds
    alpha, seed = float(state["alpha"]), int(state["seed"])
    audited = _rows_of(wide, state["audit_prompts"])
    calibration = _rows_of(wide, state.get("calibration_prompts"))
    # fixed eps: the sweep calibrates on its own split
    if fs.eps_grid is None and calibration is None:
        calibration, sweep_rows = split_prompts(audited, settings.calibration_fraction, seed)  # type: ignore[arg-type]
        sweep_note = (
            f"eps grid calibrated on {calibration['prompt_id'].nunique()} audited prompts not swept"
        )
    else:
        sweep_rows = audited
        sweep_note = (
            "eps grid from parameters"
            if fs.eps_grid is not None
            else f"eps grid calibrated on the {calibration['prompt_id'].nunique()} held-out prompts"
        )  # type: ignore[index]
    out: dict[str, Any] = {}
    for n in names:
        pairs = behaviour_pairs(audited, n, "reference", "candidate")  # type: ignore[arg-type]
        size = fs.fold_size_for(_n_prompts(pairs))  # type: ignore[arg-type]
        if size is None:
            out[n] = {
                "skipped": f"{_n_prompts(pairs)} audited prompts with complete pairs: "  # type: ignore[arg-type]
                f"fewer than two folds of the fold size {fs.fold_size}"
            }
            continue
        sizes = sorted({max(2, size // 4), max(2, size // 2), size})
        x, y, groups = pairs  # type: ignore[misc]
        entry = fold_run(
            x,
            y,
            fs.tests,
            size,
            eps=float(state["eps"][n]),
            alpha=alpha,
            seed=seed,
            max_folds=fs.max_folds,
            baseline_sizes=sizes,
            groups=groups,
        )
        swept = behaviour_pairs(sweep_rows, n, "reference", "candidate")  # type: ignore[arg-type]
        sweep_size = fs.fold_size_for(_n_prompts(swept))  # type: ignore[arg-type]
        if sweep_size is None:
            entry["power_sweep"] = {
                "skipped": f"{_n_prompts(swept)} prompts left for the sweep: fewer than two folds"
            }  # type: ignore[arg-type]
        elif fs.eps_grid is not None and calibration is None:
            entry["power_sweep"] = power_sweep(
                *swept[:2],
                fs.eps_grid,
                fs.sweep_test,
                sweep_size,
                alpha=alpha,  # type: ignore[index]
                seed=seed,
                max_folds=fs.max_folds,
                groups=swept[2],
            )  # type: ignore[index]
        else:
            acceptable = {}
            rep = behaviour_pairs(calibration, n, "reference", "replicate")  # type: ignore[arg-type]
            if rep is not None:
                acceptable["replicate"] = rep
            unacceptable = {"candidate": behaviour_pairs(calibration, n, "reference", "candidate")}  # type: ignore[arg-type]
            sweep = calibrated_power_sweep(
                swept,
                acceptable,
                unacceptable,
                fs.sweep_test,
                sweep_size,  # type: ignore[arg-type]
                n_grid=fs.eps_grid_points,
                eps_grid=fs.eps_grid,
                alpha=alpha,
                seed=seed,
                max_folds=fs.max_folds,
            )
            entry.update(sweep)
        entry["power_sweep_note"] = sweep_note
        out[n] = entry
    return out


def audit_report(state: dict[str, Any], folds: dict[str, Any]) -> dict[str, Any]:
    """The audit result (JSON): verdict, prompts and pairs used, wealth, eps, alpha, per behaviour,
    A/A audit, noise floor, folds."""
    main = state["audit"]
    aa = state.get("aa_audit")
    result = {
        "verdict": "behaviour shifted (H0 rejected)"
        if main["rejected"]
        else "no shift detected (H0 not rejected)",
        "rejected": main["rejected"],
        "test": state["test"],
        "test_description": get_test(state["test"]).description,
        "alpha": state["alpha"],
        "eps": state["eps"],
        "eps_source": state["eps_source"],
        "unit": main["unit"],
        "order": state["order"],
        "prompts_to_rejection": main["prompts_to_rejection"],
        "prompts_used": main["prompts_used"],
        "pairs_used": main["pairs_used"],
        "samples_used": main["samples_used"],
        "n_prompts": main["n_prompts"],
        "rows_audited": state["audit_rows"],
        "rows_for_calibration": state["calibration_rows"],
        "prompts_for_calibration": None
        if state["calibration_prompts"] is None
        else len(state["calibration_prompts"]),
        "final_wealth": main["final_wealth"],
        "max_wealth": main["max_wealth"],
        "p_value_bound": main["p_value_bound"],
        "threshold": 1.0 / state["alpha"],
        "combination": main["combination"],
        "behaviours": main["behaviours"],
        "aa_audit": None
        if aa is None
        else {
            "rejected": aa["rejected"],
            "prompts_used": aa["prompts_used"],
            "pairs_used": aa["pairs_used"],
            "samples_used": aa["samples_used"],
            "final_wealth": aa["final_wealth"],
            "max_wealth": aa["max_wealth"],
            "behaviours": aa["behaviours"],
        },
        "noise_floor": state["noise_floor"],
        "folds": folds,
        "pairing": state["pairing"],
        "shuffle_seed": state["seed"],
    }
    # trajectories stay out of the JSON (see the wealth plot)
    return to_jsonable(result, arrays="drop")
