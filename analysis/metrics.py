"""The outcomes an analysis can be run on, and how a photo's left/right numbers are oriented.

Pure Python and numpy (no Django): the engine's metric table (measurements.engine.METRIC_DEFINITIONS)
plus, for every bilateral measurement, the affected and unaffected side of the patient,
and the clinician grades recorded per visit. docs/analysis.md explains the orientation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from measurements.engine import BILATERAL_MEASURES, METRIC_DEFINITIONS
from measurements.engine.metrics import MIN_RATIO_DENOMINATOR, measure_name

# The clinician grades recorded on the visit form: one value per visit, whatever the expression.
HOUSE_BRACKMANN = "house_brackmann"
SUNNYBROOK = "sunnybrook_composite"


@dataclass(frozen=True)
class AnalysisMetric:
    name: str
    label: str
    unit: str  # "mm", "deg", "%", "ratio", "grade" or "points"
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
        if d.side in ("signed", "ratio"):
            continue  # recomputed below from right and left, so one rule covers both
        out.append(AnalysisMetric(d.name, d.label, d.unit, "photo", is_deviation=d.side == "deviation", allowed="real"))
    for m in BILATERAL_MEASURES:
        right, left = measure_name(m, "right"), measure_name(m, "left")
        for role, label in (("affected", "affected side"), ("unaffected", "unaffected side")):
            out.append(
                AnalysisMetric(
                    measure_name(m, role),
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
                measure_name(m, "signed"),
                f"{m.label}, signed ({m.signed_rule})",
                m.unit,
                "photo",
                needs_side=True,
                orientation=(right, left, m.droop_sign, "signed"),
                allowed="real",
            )
        )
        if m.ratio:
            out.append(
                AnalysisMetric(
                    measure_name(m, "ratio"),
                    f"{m.label}, affected / unaffected",
                    "ratio",
                    "photo",
                    needs_side=True,
                    orientation=(right, left, m.droop_sign, "ratio"),
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


def oriented_values(
    metric: AnalysisMetric, engine_values: Callable[[str], np.ndarray], affected_side: np.ndarray
) -> np.ndarray:
    """The metric's value for each photo; NaN where it cannot be computed (side unknown, value missing).

    `engine_values(key)` gives an engine metric (a key of PhotoScore.metrics) for every photo, as
    floats with NaN where missing; `affected_side` holds each photo's patient's side.
    The signed value follows the engine's rule (docs/metrics.md): affected minus unaffected,
    times the measure's droop sign, so that a drooping affected side is positive for every
    measure. A patient affected on the left and a mirror-image patient affected on the right
    therefore get the same oriented numbers.
    """
    if metric.orientation is None:
        return engine_values(metric.name)
    right_key, left_key, droop_sign, role = metric.orientation
    right, left = engine_values(right_key), engine_values(left_key)
    on_left = affected_side == "left"
    affected, unaffected = np.where(on_left, left, right), np.where(on_left, right, left)
    if role == "affected":
        values = affected
    elif role == "unaffected":
        values = unaffected
    elif role == "ratio":
        # The engine's rule (measurements.engine.metrics): undefined over a near-zero unaffected value.
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(unaffected >= MIN_RATIO_DENOMINATOR, affected / unaffected, np.nan)
    else:
        values = droop_sign * (affected - unaffected)
    return np.where(on_left | (affected_side == "right"), values, np.nan)


STUDY_OUTCOME_PREFIX = "outcome:"


def study_outcome_metric(code: str, name: str, unit: str, min_value, max_value) -> AnalysisMetric:
    """A study-defined outcome (patients.StudyOutcome) as an analysis metric, recorded per visit."""
    return AnalysisMetric(f"{STUDY_OUTCOME_PREFIX}{code}", name, unit, "study", allowed=f"{min_value} to {max_value}")
