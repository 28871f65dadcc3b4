"""The answer of an audit in plain words: one sentence per behaviour, shared by the HTML report's
verdict block and the console summary (no Kedro, no HTML here).

Reads ``audit_result.json`` (schema: docs/auditing.md). A key the result lacks is shown as "n/a";
no number is made up. Two figures are derived when the result lacks them, from the fields the
schema defines them by: the anytime-valid p-value bound min(1, K / max wealth) (Ville's inequality,
K = the behaviour's Bonferroni factor, threshold x alpha) and the behaviour's unit and map
(from ``auditing.behaviours.<name>.transform`` of the parameters).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from scipy import stats

NA = "n/a"

# Units of the raw scores of the project's own scorers ((scorer, metric) or metric alone); any other
# metric is named as it is.
METRIC_UNITS: dict[tuple[str | None, str], str] = {
    ("text_characteristics", "n_tokens"): "spaCy tokens",
    ("text_characteristics", "n_characters"): "characters",
    ("text_characteristics", "n_sentences"): "sentences",
    ("text_characteristics", "mtld"): "MTLD (lexical diversity)",
    ("text_characteristics", "flesch_reading_ease"): "Flesch reading ease",
    (None, "toxicity"): "toxicity score in [0, 1]",
    (None, "profanity"): "profanity probability in [0, 1]",
}


def number(value: Any, digits: int = 3) -> str:
    """A float to ``digits`` significant figures, very
    large or small ones as 1.4e7 / 7e-8; None: n/a."""
    if value is None or isinstance(value, bool):
        return NA if value is None else str(value)
    v = float(value)
    if math.isnan(v):
        return NA
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.{digits}g}"
    mantissa, exponent = f"{v:.{max(digits - 1, 0)}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}e{int(exponent)}"


def signed(value: Any, digits: int = 3) -> str:
    """``number`` with an explicit sign (+0.135, -0.0119)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NA
    text = number(value, digits)
    return text if text.startswith("-") else f"+{text}"


def count(value: Any) -> str:
    return NA if value is None else str(int(value))


@dataclass(frozen=True)
class Distance:
    """A distance estimate: the point value, the half-width of its two-sided interval, its level."""

    d_hat: float
    half_width: float | None
    level: float

    @classmethod
    def from_dict(cls, estimate: Mapping[str, Any] | None, level: float = 0.95) -> Distance | None:
        if not estimate or estimate.get("d_hat") is None:
            return None
        se = estimate.get("standard_error")
        z = float(stats.norm.ppf(0.5 + level / 2))
        return cls(float(estimate["d_hat"]), None if se is None else z * float(se), level)

    def text(self) -> str:
        width = f" \u00b1 {number(self.half_width, 2)}" if self.half_width is not None else ""
        return f"{number(self.d_hat, 2)}{width}"


@dataclass(frozen=True)
class Unit:
    """What a behaviour's audited score is: ``description`` (e.g. "spaCy tokens, divided by 64") and
    the factor from the audited [0, 1] scale back to the raw unit (None when unknown)."""

    description: str
    raw_unit: str | None = None
    factor: float | None = None
    clipped: bool = False

    def raw(self, mapped: float | None) -> float | None:
        if mapped is None or self.factor is None:
            return None
        return float(mapped) * self.factor


def behaviour_unit(
    result: Mapping[str, Any], spec: Mapping[str, Any] | None, n_clipped: int | None = None
) -> Unit:
    """A behaviour's unit: the result's ``unit_description`` if it has one, else derived from its
    parameters' metric and fixed map (``spec`` = ``auditing.behaviours.<name>``). ``n_clipped``:
    scores the map clipped (None: unknown), which makes the raw-unit shift approximate."""
    given = result.get("unit_description")
    spec = spec or {}
    metric = spec.get("metric")
    scorer = spec.get("scorer")
    raw_unit = (
        (METRIC_UNITS.get((scorer, metric)) or METRIC_UNITS.get((None, metric)) or metric)
        if metric
        else None
    )
    transform = dict(spec.get("transform") or {"kind": "identity"})
    kind = transform.get("kind", "identity")
    invert = bool(transform.get("invert"))
    factor: float | None
    if kind == "identity":
        factor, map_text = 1.0, "used as scored"
    elif kind == "scale" and transform.get("max"):
        factor, map_text = float(transform["max"]), f"divided by {number(transform['max'])}"
    elif kind == "range" and transform.get("high") is not None and transform.get("low") is not None:
        low, high = float(transform["low"]), float(transform["high"])
        factor, map_text = (
            high - low,
            f"mapped by (v - {number(low)}) / ({number(high)} - {number(low)})",
        )
    else:
        factor, map_text = None, f"{kind} map"
    if invert:
        factor = None if factor is None else -factor
        map_text += ", then 1 - v"
    clipped = bool(transform.get("clip")) and (n_clipped is None or n_clipped > 0)
    if transform.get("clip"):
        map_text += ", clipped to [0, 1]"
    if not metric:
        return Unit(str(given) if given else NA)
    named = " ".join(str(part) for part in (scorer, metric if raw_unit != metric else None) if part)
    source = raw_unit + (f" ({named})" if named else "")
    description = str(given) if given else f"{source}, {map_text}"
    unit = None if kind == "identity" and not invert else raw_unit
    return Unit(description, unit, factor if unit else None, clipped)


def eps_meaning(eps: Any) -> str:
    """What the tolerance eps means in words."""
    if eps is None:
        return "eps n/a"
    if float(eps) == 0.0:
        return "eps = 0: any change at all in the score distribution counts as a shift"
    return (
        f"eps = {number(eps)}: changes up to {number(eps)} in total variation between the score "
        "distributions are tolerated"
    )


@dataclass(frozen=True)
class BehaviourVerdict:
    """Everything the one-sentence answer of one behaviour says (None: the result lacks it)."""

    name: str
    rejected: bool | None
    eps: float | None
    prompts: int | None  # to rejection, or audited when not rejected
    pairs: int | None
    prompts_audited: int | None
    pairs_audited: int | None
    n_dropped: int | None
    mean_shift: float | None  # candidate - reference, on the audited [0, 1] scale
    mean_shift_ci: tuple[float, float] | None
    unit: Unit
    distance: Distance | None  # reference vs candidate
    noise_floor: float | None  # upper bound of the A/A distance
    noise_ratio: float | None  # candidate distance / A/A noise floor
    max_wealth: float | None
    threshold: float | None
    p_value_bound: float | None
    skipped: str | None = None

    def noise_text(self) -> str:
        """The candidate distance as a multiple of the A/A noise floor; "floor 0" when the A/A
        distance's 95% upper bound is 0 (no noise to compare with: the ratio is undefined)."""
        if self.noise_ratio is not None:
            return number(self.noise_ratio, 2)
        if self.noise_floor == 0:
            return "floor 0"
        return NA

    @property
    def status(self) -> str:
        if self.skipped:
            return "not audited"
        if self.rejected is None:
            return NA
        return "shifted" if self.rejected else "no shift detected"

    def counts_text(self) -> str:
        """ "18 prompts (52 pairs)" in whatever units the result has."""
        if self.prompts is not None:
            return f"{count(self.prompts)} prompts ({count(self.pairs)} pairs)"
        return f"{count(self.pairs)} pairs (prompts n/a)"

    def shift_text(self) -> str:
        """ "+0.135 (candidate - reference)" and, with a raw unit, "= -0.76 spaCy tokens"."""
        if self.mean_shift is None:
            return "mean shift n/a"
        text = f"mean shift {signed(self.mean_shift)} (candidate \u2212 reference"
        if self.mean_shift_ci:
            low, high = self.mean_shift_ci
            text += f"; 95% CI {signed(low)} to {signed(high)}"
        text += ")"
        raw = self.unit.raw(self.mean_shift)
        if raw is not None:
            text += f" = {signed(raw)} {self.unit.raw_unit}" + (
                " (approx.: scores clipped)" if self.unit.clipped else ""
            )
        side = "higher" if self.mean_shift > 0 else "lower" if self.mean_shift < 0 else "equal"
        return text + f": the candidate scores {side}"

    def evidence_text(self) -> str:
        threshold = f" (rejects at {number(self.threshold)})" if self.threshold is not None else ""
        return (
            f"max wealth {number(self.max_wealth)}{threshold}, so p \u2264 "
            f"{number(self.p_value_bound, 2)}"
        )

    def sentence(self) -> str:
        """The behaviour's answer in one sentence."""
        if self.skipped:
            return f"{self.name}: not audited ({self.skipped})."
        if self.rejected:
            head = f"{self.name} shifted: detected after {self.counts_text()}"
        elif self.rejected is None:
            head = f"{self.name}: verdict n/a"
        else:
            seen = (
                f"{count(self.prompts_audited)} prompts ({count(self.pairs_audited)} pairs)"
                if self.prompts_audited is not None
                else f"{count(self.pairs_audited)} pairs"
            )
            head = f"{self.name}: no shift detected in {seen}"
        parts = [head, self.shift_text()]
        if self.distance is not None:
            floor = ""
            if self.noise_ratio is not None:
                floor = f", {number(self.noise_ratio, 2)}x the A/A noise floor"
            elif self.noise_floor == 0:
                floor = ", against an A/A noise floor of 0 (the A/A distance's 95% upper bound)"
            parts.append(
                f"distance {self.distance.text()} (total variation, "
                f"{number(self.distance.level * 100)}%)" + floor
            )
        else:
            parts.append("distance n/a")
        parts.append(f"evidence: {self.evidence_text()}")
        return "; ".join(parts) + "."


def _ci(value: Any) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(v is not None for v in value):
        return float(value[0]), float(value[1])
    return None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def p_value_bound(entry: Mapping[str, Any], alpha: float | None) -> float | None:
    """The entry's p-value bound, or min(1, K / max wealth) with K = threshold x alpha."""
    if entry.get("p_value_bound") is not None:
        return float(entry["p_value_bound"])
    wealth, threshold = entry.get("max_wealth"), entry.get("threshold")
    if wealth is None or threshold is None or not alpha or float(wealth) <= 0:
        return None
    return min(1.0, float(threshold) * float(alpha) / float(wealth))


def behaviour_verdicts(
    audit: Mapping[str, Any], behaviour_specs: Mapping[str, Any] | None = None
) -> list[BehaviourVerdict]:
    """One :class:`BehaviourVerdict` per audited behaviour (and per skipped one, saying why)."""
    specs = behaviour_specs or {}
    alpha = audit.get("alpha")
    floors = audit.get("noise_floor") or {}
    pairing = (audit.get("pairing") or {}).get("behaviours") or {}
    out = []
    for name, b in (audit.get("behaviours") or {}).items():
        floor = floors.get(name) if isinstance(floors.get(name), Mapping) else {}
        rejected = b.get("rejected")
        to_prompts, to_pairs = b.get("prompts_to_rejection"), b.get("pairs_to_rejection")
        n_prompts, n_pairs = b.get("n_prompts"), b.get("n_pairs")
        clip_counts = [
            v
            for k, v in (pairing.get(name) or {}).items()
            if k.startswith("n_clipped_") and k != "n_clipped_replicate"
        ]
        out.append(
            BehaviourVerdict(
                name=name,
                rejected=None if rejected is None else bool(rejected),
                eps=_float(b.get("eps")),
                prompts=_int(to_prompts if rejected else n_prompts),
                pairs=_int(to_pairs if rejected else n_pairs),
                prompts_audited=_int(n_prompts),
                pairs_audited=_int(n_pairs),
                n_dropped=_int(b.get("n_dropped")),
                mean_shift=_float(b.get("mean_shift")),
                mean_shift_ci=_ci(b.get("mean_shift_ci")),
                unit=behaviour_unit(
                    b, specs.get(name), sum(int(v) for v in clip_counts) if clip_counts else None
                ),
                distance=Distance.from_dict(floor.get("reference_vs_candidate")),
                noise_floor=_float((floor.get("reference_vs_replicate") or {}).get("upper")),
                noise_ratio=_float(floor.get("candidate_distance_over_noise_floor")),
                max_wealth=_float(b.get("max_wealth")),
                threshold=_float(b.get("threshold")),
                p_value_bound=p_value_bound(b, alpha),
            )
        )
    for name, entry in pairing.items():
        if (
            isinstance(entry, Mapping)
            and entry.get("skipped")
            and name not in (audit.get("behaviours") or {})
        ):
            nothing = {f.name: None for f in fields(BehaviourVerdict)}
            unit = behaviour_unit({}, specs.get(name))
            reason = str(entry["skipped"])
            verdict = {**nothing, "name": name, "unit": unit, "skipped": reason}
            out.append(BehaviourVerdict(**verdict))
    return out


@dataclass(frozen=True)
class AuditVerdict:
    """The combined answer: shifted or not, after how much data, how strong the evidence."""

    rejected: bool | None
    test: str | None
    alpha: float | None
    eps_text: str
    prompts: int | None
    pairs: int | None
    max_wealth: float | None
    threshold: float | None
    p_value_bound: float | None
    n_behaviours: int
    aa_rejected: bool | None
    aa_max_wealth: float | None
    behaviours: list[BehaviourVerdict]
    test_description: str | None = None  # the test in words (audit_result's test_description)

    def headline(self) -> str:
        """ "Behaviour shifted: ..." / "No shift detected: ..." in one sentence."""
        if self.rejected is None:
            return "Verdict n/a: the audit result has no 'rejected' field."
        used = (
            f"{count(self.prompts)} prompts ({count(self.pairs)} pairs)"
            if self.prompts is not None
            else f"{count(self.pairs)} pairs"
        )
        level = f"at alpha = {number(self.alpha)}" if self.alpha is not None else "(alpha n/a)"
        if self.rejected:
            head = f"Behaviour shifted (H0 rejected {level}) after {used}"
        else:
            head = f"No shift detected (H0 not rejected {level}) in {used}"
        tail = (
            f"; combined evidence over {self.n_behaviours} behaviour(s): max wealth "
            f"{number(self.max_wealth)} "
            f"(rejects at {number(self.threshold)}), so p \u2264 {number(self.p_value_bound, 2)}"
        )
        return head + tail + "."

    def aa_text(self) -> str:
        if self.aa_rejected is None:
            return "A/A control (reference vs a re-run of itself with another seed): not run."
        if self.aa_rejected:
            return (
                f"A/A control (reference vs a re-run of itself with another seed): REJECTED "
                f"(max wealth {number(self.aa_max_wealth)}): the "
                "test or the data is off; investigate before "
                "trusting the verdict."
            )
        return (
            "A/A control (reference vs a re-run of itself "
            "with another seed): no shift, as it should be "
            f"(max wealth {number(self.aa_max_wealth)})."
        )


def audit_verdict(
    audit: Mapping[str, Any], behaviour_specs: Mapping[str, Any] | None = None
) -> AuditVerdict:
    """The audit's answer from ``audit_result`` (``behaviour_specs``: ``auditing.behaviours``)."""
    behaviours = behaviour_verdicts(audit, behaviour_specs)
    eps = audit.get("eps")
    eps_values = (
        sorted({float(v) for v in eps.values()})
        if isinstance(eps, Mapping) and eps
        else ([float(eps)] if isinstance(eps, (int, float)) else [])
    )
    if len(eps_values) == 1:
        eps_text = eps_meaning(eps_values[0])
    elif eps_values:
        eps_text = "eps per behaviour: " + ", ".join(f"{k} {number(v)}" for k, v in eps.items())
    else:
        eps_text = "eps n/a"
    if audit.get("eps_source"):
        eps_text += f" ({audit['eps_source']})"
    rejected = audit.get("rejected")
    pairs = audit.get("pairs_used", audit.get("samples_used"))
    aa = audit.get("aa_audit") or {}
    k = sum(1 for b in behaviours if not b.skipped)
    p_bound = audit.get("p_value_bound")
    if p_bound is None and audit.get("max_wealth"):
        p_bound = min(1.0, 1.0 / float(audit["max_wealth"]))
    return AuditVerdict(
        rejected=None if rejected is None else bool(rejected),
        test=audit.get("test"),
        test_description=audit.get("test_description"),
        alpha=_float(audit.get("alpha")),
        eps_text=eps_text,
        prompts=_int(audit.get("prompts_used")),
        pairs=_int(pairs),
        max_wealth=_float(audit.get("max_wealth")),
        threshold=_float(audit.get("threshold")),
        p_value_bound=_float(p_bound),
        n_behaviours=k,
        aa_rejected=None if not aa or aa.get("rejected") is None else bool(aa["rejected"]),
        aa_max_wealth=_float(aa.get("max_wealth")) if aa else None,
        behaviours=behaviours,
    )
