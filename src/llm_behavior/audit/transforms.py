"""Fixed, data-independent maps of raw behaviour scores into [0, 1].

The audit's witnesses are bounded functions of scores in [0, 1]. A map fitted on the audited
data (e.g. min-max over the observed lengths) would make every "fixed" witness depend on all
pairs, future ones included, and break the validity argument; so every map here has constants
declared in advance (in parameters), and values falling outside [0, 1] after the map are an
error unless clipping is explicitly allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from llm_behavior.audit.validation import AuditInputError

TRANSFORM_KINDS = ("identity", "scale", "range")


@dataclass(frozen=True)
class ScoreTransform:
    """identity: v; scale: v / max; range: (v - low) / (high - low); then optional 1 - v, clip."""

    kind: str = "identity"
    max: float | None = None
    low: float | None = None
    high: float | None = None
    invert: bool = False
    clip: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, object] | None) -> ScoreTransform:
        params = dict(params or {})
        unknown = set(params) - {"kind", "max", "low", "high", "invert", "clip"}
        if unknown:
            raise AuditInputError(f"unknown transform keys {sorted(unknown)}")
        t = cls(**params)  # type: ignore[arg-type]
        t.check()
        return t

    def check(self) -> None:
        if self.kind not in TRANSFORM_KINDS:
            raise AuditInputError(
                f"transform kind must be one of {TRANSFORM_KINDS}, got {self.kind!r}"
            )
        if self.kind == "scale" and not (self.max is not None and float(self.max) > 0):
            raise AuditInputError(f"transform 'scale' needs a fixed max > 0, got {self.max!r}")
        if self.kind == "range" and not (
            self.low is not None and self.high is not None and float(self.high) > float(self.low)
        ):
            raise AuditInputError(
                f"transform 'range' needs fixed low < high, got {self.low!r}, {self.high!r}"
            )

    def apply(self, values: np.ndarray, name: str = "scores") -> tuple[np.ndarray, int]:
        """Mapped values (NaN kept) and the number clipped; error if out of [0, 1] without clip."""
        v = np.asarray(values, dtype=float)
        if self.kind == "scale":
            v = v / float(self.max)  # type: ignore[arg-type]
        elif self.kind == "range":
            v = (v - float(self.low)) / (float(self.high) - float(self.low))  # type: ignore[arg-type]
        if self.invert:
            v = 1.0 - v
        outside = ~np.isnan(v) & ((v < 0) | (v > 1))
        n_out = int(outside.sum())
        if n_out and not self.clip:
            raise AuditInputError(
                f"{name}: {n_out} values fall outside [0, 1] after the {self.kind} map "
                f"(e.g. {v[outside][:3].tolist()}); widen the map's fixed constants "
                "or set clip: true"
            )
        return np.where(outside, np.clip(v, 0.0, 1.0), v), n_out
