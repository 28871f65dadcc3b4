"""Checks on paired scores before an audit: clear errors, nothing dropped silently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_PAIRS = 10


class AuditInputError(ValueError):
    """Bad input to an audit (the message says what and where)."""


@dataclass(frozen=True)
class CleanPairs:
    """Paired scores ready for a test, with what was done to them."""

    x: np.ndarray
    y: np.ndarray
    n_dropped: int  # pairs with a NaN on either side
    n_clipped: int  # scores moved into [0, 1] (only when clipping was allowed)

    @property
    def n_pairs(self) -> int:
        return int(self.x.size)


def check_alpha_eps(alpha: float, eps: float) -> None:
    """alpha in (0, 1) and 0 <= eps < 1, else AuditInputError."""
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise AuditInputError(f"alpha must be in (0, 1), got {alpha!r}")
    if not (isinstance(eps, int | float) and np.isfinite(eps)):
        raise AuditInputError(f"eps must be a number, got {eps!r}")
    if eps < 0:
        raise AuditInputError(f"eps must be >= 0 (a tolerance on the distance), got {eps}")
    if eps >= 1:
        raise AuditInputError(
            f"eps must be < 1 (the distance between score laws is at most 1), got {eps}"
        )


def clean_pairs(
    x: object,
    y: object,
    clip: bool = False,
    min_pairs: int = MIN_PAIRS,
    names: tuple[str, str] = ("a", "b"),
) -> CleanPairs:
    """Validate two score sequences: equal length, numeric, NaN pairs dropped and counted,
    values in [0, 1] (clipped only when ``clip``), at least ``min_pairs`` pairs left."""
    try:
        xa = np.asarray(x, dtype=float).ravel()
        ya = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as err:
        raise AuditInputError(f"scores must be numbers: {err}") from err
    if xa.size != ya.size:
        raise AuditInputError(
            f"the two score columns have unequal lengths: {names[0]} has {xa.size}, "
            f"{names[1]} has {ya.size}"
        )
    if np.isinf(xa).any() or np.isinf(ya).any():
        raise AuditInputError("scores contain inf; scores must be finite numbers in [0, 1]")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    n_dropped = int((~keep).sum())
    xa, ya = xa[keep], ya[keep]
    outside = (xa < 0) | (xa > 1) | (ya < 0) | (ya > 1)
    n_outside = int(((xa < 0) | (xa > 1)).sum() + ((ya < 0) | (ya > 1)).sum())
    if outside.any():
        if not clip:
            bad = np.concatenate([xa[(xa < 0) | (xa > 1)], ya[(ya < 0) | (ya > 1)]])
            raise AuditInputError(
                f"{n_outside} scores lie outside [0, 1] (e.g. {bad[:3].tolist()}); map them into "
                "[0, 1] with a fixed, data-independent transform, or allow clipping explicitly"
            )
        xa, ya = np.clip(xa, 0.0, 1.0), np.clip(ya, 0.0, 1.0)
    if xa.size < min_pairs:
        raise AuditInputError(
            f"too few pairs: {xa.size} complete pairs (after dropping {n_dropped} with NaN), need "
            f"at least {min_pairs}"
        )
    return CleanPairs(xa, ya, n_dropped, n_outside if clip else 0)
