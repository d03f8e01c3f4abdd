"""The outcomes an analysis can be run on, and how a photo's left/right numbers are oriented.

Pure Python (no Django): the engine's metric table (measurements.engine.METRIC_DEFINITIONS)
plus, for every bilateral measurement, the affected and unaffected side of the patient,
and the clinician grades recorded per visit. docs/analysis.md explains the orientation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from measurements.engine import BILATERAL_MEASURES, METRIC_DEFINITIONS

# The clinician grades recorded on the visit form: one value per visit, whatever the expression.
HOUSE_BRACKMANN = "house_brackmann"
SUNNYBROOK = "sunnybrook_composite"


@dataclass(frozen=True)
class AnalysisMetric:
    name: str
    label: str
    unit: str  # "mm", "deg", "%", "grade" or "points"
    # "photo": from the photo's score; "grade": from the visit form.
    source: str
    # Needs the patient's affected side (affected, unaffected, signed).
    needs_side: bool = False
    # A deviation: smaller is better, so a percent correction means something.
    is_deviation: bool = False
    # Ordinal (House-Brackmann): rank statistics only.
    ordinal: bool = False
    # For oriented metrics: (right engine metric, left engine metric, droop_sign, role).
    orientation: tuple[str, str, int, str] | None = None
    allowed: str = ""


def _build() -> tuple[AnalysisMetric, ...]:
    out: list[AnalysisMetric] = []
    for d in METRIC_DEFINITIONS:
        if d.side == "signed":
            continue  # recomputed below from right and left, so one rule covers both
        out.append(AnalysisMetric(d.name, d.label, d.unit, "photo", is_deviation=d.side == "deviation", allowed="real"))
    for m in BILATERAL_MEASURES:
        right, left = f"{m.base}_right_{m.unit}", f"{m.base}_left_{m.unit}"
        for role, label in (("affected", "affected side"), ("unaffected", "unaffected side")):
            out.append(
                AnalysisMetric(
                    f"{m.base}_{role}_{m.unit}",
                    f"{m.label}, {label}",
                    m.unit,
                    "photo",
                    needs_side=True,
                    orientation=(right, left, m.droop_sign, role),
                    allowed="real",
                )
            )
        out.append(
            AnalysisMetric(
                f"{m.base}_signed_{m.unit}",
                f"{m.label}, signed ({m.signed_rule})",
                m.unit,
                "photo",
                needs_side=True,
                orientation=(right, left, m.droop_sign, "signed"),
                allowed="real",
            )
        )
    out.append(AnalysisMetric(HOUSE_BRACKMANN, "House-Brackmann grade", "grade", "grade", ordinal=True, allowed="1-6"))
    out.append(AnalysisMetric(SUNNYBROOK, "Sunnybrook composite score", "points", "grade", allowed="0-100"))
    return tuple(out)


ANALYSIS_METRICS: tuple[AnalysisMetric, ...] = _build()
ANALYSIS_METRICS_BY_NAME: dict[str, AnalysisMetric] = {m.name: m for m in ANALYSIS_METRICS}
PHOTO_METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in ANALYSIS_METRICS if m.source == "photo")
GRADE_METRIC_NAMES: tuple[str, ...] = (HOUSE_BRACKMANN, SUNNYBROOK)


def engine_inputs(names) -> list[str]:
    """The engine metrics (keys of PhotoScore.metrics) that the given analysis metrics read."""
    needed: list[str] = []
    for name in names:
        metric = ANALYSIS_METRICS_BY_NAME.get(name)
        if metric is None or metric.source != "photo":
            continue
        keys = metric.orientation[:2] if metric.orientation else (metric.name,)
        for key in keys:
            if key not in needed:
                needed.append(key)
    return needed


def _number(value) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def oriented_value(metric: AnalysisMetric, engine_metrics: dict, affected_side: str) -> float:
    """The metric's value for one photo; NaN when it cannot be computed (side unknown, value missing).

    The signed value follows the engine's rule (docs/metrics.md): affected minus unaffected,
    times the measure's droop sign, so that a drooping affected side is positive for every
    measure. A patient affected on the left and a mirror-image patient affected on the right
    therefore get the same oriented numbers.
    """
    if metric.orientation is None:
        return _number(engine_metrics.get(metric.name))
    if affected_side not in ("left", "right"):
        return math.nan
    right_key, left_key, droop_sign, role = metric.orientation
    right, left = _number(engine_metrics.get(right_key)), _number(engine_metrics.get(left_key))
    affected, unaffected = (left, right) if affected_side == "left" else (right, left)
    if role == "affected":
        return affected
    if role == "unaffected":
        return unaffected
    return droop_sign * (affected - unaffected)


STUDY_OUTCOME_PREFIX = "outcome:"


def study_outcome_metric(code: str, name: str, unit: str, min_value, max_value) -> AnalysisMetric:
    """A study-defined outcome (patients.StudyOutcome) as an analysis metric, recorded per visit."""
    return AnalysisMetric(f"{STUDY_OUTCOME_PREFIX}{code}", name, unit, "study", allowed=f"{min_value} to {max_value}")
