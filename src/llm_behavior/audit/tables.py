"""Table work for the audit (pandas, no Kedro): from the long scores table to row-aligned
paired scores in [0, 1], one column per (behaviour, side), one row per (prompt_id, sample)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.audit.transforms import ScoreTransform
from llm_behavior.audit.validation import AuditInputError
from llm_behavior.schemas import SCORE_COLUMNS, SIDES

KEYS = ("prompt_id", "sample")


@dataclass(frozen=True)
class Behaviour:
    """A behaviour to audit: which scores (metric, optional scorer) and how they map into [0, 1]."""

    name: str
    metric: str
    scorer: str | None
    transform: ScoreTransform
    required: bool = True

    @classmethod
    def from_params(cls, name: str, params: Mapping[str, Any]) -> Behaviour:
        unknown = set(params) - {"metric", "scorer", "transform", "required"}
        if unknown:
            raise AuditInputError(f"behaviour {name!r}: unknown keys {sorted(unknown)}")
        if "metric" not in params:
            raise AuditInputError(f"behaviour {name!r}: 'metric' is required")
        return cls(
            name=name,
            metric=str(params["metric"]),
            scorer=params.get("scorer"),
            transform=ScoreTransform.from_params(params.get("transform")),
            required=bool(params.get("required", True)),
        )


def parse_behaviours(params: Mapping[str, Mapping[str, Any]]) -> list[Behaviour]:
    if not params:
        raise AuditInputError("auditing.behaviours is empty: name at least one behaviour to audit")
    return [Behaviour.from_params(name, spec) for name, spec in params.items()]


def pair_behaviour_scores(
    scores: pd.DataFrame, behaviours: list[Behaviour]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Wide table: one row per (prompt_id, sample) seen on the reference side, columns
    ``<behaviour>:<side>`` (NaN where missing) after each behaviour's fixed map into [0, 1].

    Returns the table and a report (per behaviour: scorer used, NaN counts per side, values
    clipped, or why it was skipped). A required behaviour that is absent is an error.
    """
    missing_cols = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing_cols:
        raise AuditInputError(
            f"scores table lacks columns {missing_cols}; expected {list(SCORE_COLUMNS)}"
        )
    sides_present = sorted(set(scores["side"].unique()))
    unknown_sides = sorted(set(sides_present) - set(SIDES))
    if unknown_sides:
        raise AuditInputError(f"scores table has unknown sides {unknown_sides}; sides are {SIDES}")
    for side in ("reference", "candidate"):
        if side not in sides_present:
            raise AuditInputError(
                f"scores table has no {side!r} rows (sides present: {sides_present})"
            )
    rows = (
        scores.loc[scores["side"] == "reference", list(KEYS)]
        .drop_duplicates()
        .sort_values(list(KEYS))
        .reset_index(drop=True)
    )
    wide = rows.copy()
    report: dict[str, Any] = {"n_rows": int(len(rows)), "sides": sides_present, "behaviours": {}}
    available = sorted(
        set(map(tuple, scores[["scorer", "metric"]].drop_duplicates().to_numpy().tolist()))
    )
    for b in behaviours:
        subset = scores[scores["metric"] == b.metric]
        if b.scorer is not None:
            subset = subset[subset["scorer"] == b.scorer]
        scorers = sorted(subset["scorer"].unique())
        if not scorers:
            reason = f"no scores for metric {b.metric!r}" + (
                f" from scorer {b.scorer!r}" if b.scorer else ""
            )
            if b.required:
                raise AuditInputError(
                    f"behaviour {b.name!r}: {reason}; available (scorer, metric): {available}"
                )
            report["behaviours"][b.name] = {"skipped": reason}
            continue
        if len(scorers) > 1:
            raise AuditInputError(
                f"behaviour {b.name!r}: metric {b.metric!r} comes from several scorers {scorers}; "
                "name one with 'scorer'"
            )
        entry: dict[str, Any] = {
            "scorer": scorers[0],
            "metric": b.metric,
            "transform": b.transform.kind,
        }
        for side in SIDES:
            part = subset[subset["side"] == side]
            if part.empty:
                continue
            if part.duplicated(list(KEYS)).any():
                raise AuditInputError(
                    f"behaviour {b.name!r}, side {side!r}: duplicate (prompt_id, sample) rows"
                )
            merged = rows.merge(part[[*KEYS, "value"]], on=list(KEYS), how="left")
            mapped, n_clipped = b.transform.apply(
                merged["value"].to_numpy(dtype=float), f"{b.name} ({side})"
            )
            wide[f"{b.name}:{side}"] = mapped
            entry[f"n_missing_{side}"] = int(np.isnan(mapped).sum())
            entry[f"n_clipped_{side}"] = n_clipped
        report["behaviours"][b.name] = entry
    return wide, report


def audited_behaviours(report: Mapping[str, Any]) -> list[str]:
    return [name for name, entry in report["behaviours"].items() if "skipped" not in entry]


def side_scores(wide: pd.DataFrame, behaviour: str, side: str) -> np.ndarray | None:
    column = f"{behaviour}:{side}"
    return wide[column].to_numpy(dtype=float) if column in wide else None


def split_prompts(
    wide: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(calibration, audit) rows split by prompt (all samples of a prompt on one side), seeded."""
    if not 0.0 < fraction < 1.0:
        raise AuditInputError(f"calibration_fraction must be in (0, 1), got {fraction}")
    prompts = np.sort(wide["prompt_id"].astype(str).unique())
    if prompts.size < 2:
        raise AuditInputError(
            f"holding out prompts for calibration needs >= 2 prompts, got {prompts.size}"
        )
    n_cal = min(prompts.size - 1, max(1, int(round(fraction * prompts.size))))
    chosen = np.random.default_rng(seed).permutation(prompts)[:n_cal]
    in_cal = wide["prompt_id"].astype(str).isin(set(chosen))
    return wide[in_cal].reset_index(drop=True), wide[~in_cal].reset_index(drop=True)


def shuffle_prompts(wide: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A seeded, data-independent order of the PROMPTS; each prompt's samples stay together, in
    sample order (i.i.d. prompts stay i.i.d.)."""
    prompts = np.sort(wide["prompt_id"].astype(str).unique())
    rank = {p: i for i, p in enumerate(np.random.default_rng(seed).permutation(prompts))}
    key = wide["prompt_id"].astype(str).map(rank)
    order = np.lexsort((wide["sample"].to_numpy(), key.to_numpy()))
    return wide.iloc[order].reset_index(drop=True)


def prompt_groups(wide: pd.DataFrame) -> np.ndarray:
    """The prompt of each row: the audit's unit."""
    return wide["prompt_id"].astype(str).to_numpy()
