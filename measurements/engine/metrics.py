"""The measurements (docs/metrics.md, "The metrics") and the table that defines them.

Everything is computed once, from the averaged landmarks, in the facial frame
(``frame.FacialFrame``): millimetres, origin between the iris centres, x
towards the subject's left, y down the face. "Right" and "left" are the
subject's. Right-side landmark lists are written out below; the left-side
lists are their mirror images through the pair table, so the two sides are
measured by exactly the same definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, FacialFrame
from .pairs import MIRROR

# --- Landmarks ---------------------------------------------------------------

COMMISSURE_RIGHT = 61
COMMISSURE_LEFT = 291
# Outer and inner lip contours, subject's right commissure to left commissure.
OUTER_LOWER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
OUTER_UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
INNER_LOWER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
INNER_UPPER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
# Upper edge of the brow, lateral to medial.
BROW_RIGHT = (70, 63, 105, 66, 107)
# Eyelid margins, lateral canthus (33) to medial canthus (133); the upper lid
# passes through 159, the lower through 145.
UPPER_LID_RIGHT = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LOWER_LID_RIGHT = (33, 7, 163, 144, 145, 153, 154, 155, 133)


def _mirrored(indices: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(MIRROR[i]) for i in indices)


BROW_LEFT = _mirrored(BROW_RIGHT)  # (300, 293, 334, 296, 336)
UPPER_LID_LEFT = _mirrored(UPPER_LID_RIGHT)  # through 386
LOWER_LID_LEFT = _mirrored(LOWER_LID_RIGHT)  # through 374

# --- Definitions -------------------------------------------------------------


@dataclass(frozen=True)
class MetricDefinition:
    """One reported number. ``name`` is the key in results, JSON and the DB."""

    name: str
    unit: str  # "mm", "deg" or "%"
    label: str
    description: str
    side: str = ""  # "right", "left", "deviation", "signed" or "" (whole face)
    base: str = ""  # the bilateral measurement this belongs to


@dataclass(frozen=True)
class BilateralMeasure:
    """A measurement taken on both sides, which yields right, left, deviation
    and (when the affected side is known) signed values."""

    base: str
    unit: str
    label: str
    description: str
    # +1: signed = affected - unaffected; -1: signed = unaffected - affected.
    # Chosen so that a drooping (lower or weaker-looking) affected side gives a
    # positive signed value; see ``signed_rule``.
    droop_sign: int
    signed_rule: str


BILATERAL_MEASURES: tuple[BilateralMeasure, ...] = (
    BilateralMeasure(
        "commissure_height",
        "mm",
        "Commissure height",
        "Vertical distance of the mouth corner (landmark 61 right, 291 left) "
        "below the interpupillary line. Its deviation is the trial's primary outcome.",
        +1,
        "affected minus unaffected; positive when the affected corner sits lower",
    ),
    BilateralMeasure(
        "commissure_excursion",
        "mm",
        "Commissure excursion",
        "Straight-line distance from the mouth corner to the point where the "
        "outer contour of the lower lip crosses the facial midline.",
        +1,
        "affected minus unaffected; negative when the affected corner is drawn out less",
    ),
    BilateralMeasure(
        "smile_angle",
        "deg",
        "Smile angle",
        "Angle at the lower-lip midline point between the horizontal (parallel "
        "to the interpupillary line) and the mouth corner; positive when the "
        "corner is above that point.",
        -1,
        "unaffected minus affected; positive when the affected corner is lower",
    ),
    BilateralMeasure(
        "lip_aperture",
        "mm",
        "Lip aperture",
        "Vertical distance between the inner upper and inner lower lip, halfway "
        "between the midline and the mouth corner (0 when the lips touch).",
        +1,
        "affected minus unaffected; positive when the affected side opens wider",
    ),
    BilateralMeasure(
        "upper_lip_height",
        "mm",
        "Upper lip height",
        "Vertical position of the outer upper lip below the interpupillary "
        "line, halfway between the midline and the mouth corner.",
        +1,
        "affected minus unaffected; positive when the affected side sits lower",
    ),
    BilateralMeasure(
        "lower_lip_height",
        "mm",
        "Lower lip height",
        "Vertical position of the outer lower lip below the interpupillary "
        "line, halfway between the midline and the mouth corner.",
        +1,
        "affected minus unaffected; positive when the affected side sits lower",
    ),
    BilateralMeasure(
        "brow_height",
        "mm",
        "Brow height",
        "Height of the upper edge of the eyebrow above the interpupillary line, "
        "measured straight above the iris centre.",
        -1,
        "unaffected minus affected; positive when the affected brow is lower",
    ),
    BilateralMeasure(
        "palpebral_fissure",
        "mm",
        "Palpebral fissure",
        "Vertical opening of the eye: distance between the upper and lower lid "
        "margins straight above and below the iris centre.",
        +1,
        "affected minus unaffected; positive when the affected eye is open wider",
    ),
)


def _deviation_name(m: BilateralMeasure) -> str:
    return f"{m.base}_deviation_{m.unit}"


def _side_name(m: BilateralMeasure, side: str) -> str:
    return f"{m.base}_{side}_{m.unit}"


def _signed_name(m: BilateralMeasure) -> str:
    return f"{m.base}_signed_{m.unit}"


def _build_definitions() -> tuple[MetricDefinition, ...]:
    out: list[MetricDefinition] = []
    for m in BILATERAL_MEASURES:
        for side in ("right", "left"):
            out.append(MetricDefinition(_side_name(m, side), m.unit, f"{m.label}, {side}", m.description, side, m.base))
        out.append(
            MetricDefinition(
                _deviation_name(m),
                m.unit,
                f"{m.label} deviation",
                f"|right - left| of {m.label.lower()}.",
                "deviation",
                m.base,
            )
        )
    out.append(
        MetricDefinition(
            "asymmetry_index",
            "%",
            "Asymmetry index",
            "Mean distance between each of the 478 landmarks and its mirror partner "
            "reflected across the midline, as a percentage of the interpupillary "
            "distance. 0 for a perfectly symmetric face.",
        )
    )
    out.append(
        MetricDefinition(
            "interpupillary_distance_mm",
            "mm",
            "Interpupillary distance",
            "Distance between the two iris centres, in millimetres of the iris "
            "scale. A plausibility check: adults measure about 54-74 mm.",
        )
    )
    for m in BILATERAL_MEASURES:
        out.append(
            MetricDefinition(
                _signed_name(m),
                m.unit,
                f"{m.label}, signed",
                f"Only when the affected side is known: {m.signed_rule}.",
                "signed",
                m.base,
            )
        )
    return tuple(out)


METRIC_DEFINITIONS: tuple[MetricDefinition, ...] = _build_definitions()
METRICS_BY_NAME: dict[str, MetricDefinition] = {d.name: d for d in METRIC_DEFINITIONS}
# Names always present in a scored result (signed ones need the affected side).
UNSIGNED_METRIC_NAMES: tuple[str, ...] = tuple(d.name for d in METRIC_DEFINITIONS if d.side != "signed")
SIGNED_METRIC_NAMES: tuple[str, ...] = tuple(d.name for d in METRIC_DEFINITIONS if d.side == "signed")

# --- Geometry helpers --------------------------------------------------------


def y_at_x(polyline: np.ndarray, x: float) -> float:
    """y of a polyline where it crosses the vertical line at ``x``.

    Averages over every crossing (normally one); outside the polyline's span it
    extends the nearest end segment. Independent of the polyline's direction,
    so mirrored contours give mirrored answers.
    """
    xs, ys = polyline[:, 0], polyline[:, 1]
    hits = []
    for i in range(len(xs) - 1):
        x0, x1 = xs[i], xs[i + 1]
        lo, hi = (x0, x1) if x0 <= x1 else (x1, x0)
        if lo <= x <= hi:
            if x1 == x0:
                hits.append(0.5 * (ys[i] + ys[i + 1]))
            else:
                t = (x - x0) / (x1 - x0)
                hits.append(ys[i] + t * (ys[i + 1] - ys[i]))
    if hits:
        return float(np.mean(hits))
    # Outside the span: extrapolate the end segment nearest to x.
    ends = [(0, 1), (len(xs) - 1, len(xs) - 2)]
    i, j = min(ends, key=lambda e: abs(xs[e[0]] - x))
    if xs[i] == xs[j]:
        return float(ys[i])
    t = (x - xs[i]) / (xs[j] - xs[i])
    return float(ys[i] + t * (ys[j] - ys[i]))


def midline_crossing(polyline: np.ndarray) -> np.ndarray:
    """Point where a right-to-left contour crosses x = 0."""
    return np.array([0.0, y_at_x(polyline, 0.0)])


# --- The computation -----------------------------------------------------------


def bilateral_values(pts: np.ndarray) -> dict[str, tuple[float, float]]:
    """(right, left) value of each bilateral measure, from landmarks already in
    the facial frame (mm)."""
    outer_lower = pts[list(OUTER_LOWER_LIP)]
    outer_upper = pts[list(OUTER_UPPER_LIP)]
    inner_lower = pts[list(INNER_LOWER_LIP)]
    inner_upper = pts[list(INNER_UPPER_LIP)]
    lip_mid = midline_crossing(outer_lower)

    values: dict[str, tuple[float, float]] = {}
    commissures = (pts[COMMISSURE_RIGHT], pts[COMMISSURE_LEFT])
    values["commissure_height"] = (float(commissures[0][1]), float(commissures[1][1]))
    values["commissure_excursion"] = tuple(float(np.linalg.norm(c - lip_mid)) for c in commissures)  # type: ignore[assignment]
    values["smile_angle"] = tuple(
        float(np.degrees(np.arctan2(lip_mid[1] - c[1], abs(c[0] - lip_mid[0])))) for c in commissures
    )  # type: ignore[assignment]

    halfway = [0.5 * float(c[0]) for c in commissures]
    values["lip_aperture"] = tuple(max(0.0, y_at_x(inner_lower, x) - y_at_x(inner_upper, x)) for x in halfway)  # type: ignore[assignment]
    values["upper_lip_height"] = tuple(y_at_x(outer_upper, x) for x in halfway)  # type: ignore[assignment]
    values["lower_lip_height"] = tuple(y_at_x(outer_lower, x) for x in halfway)  # type: ignore[assignment]

    iris_x = (float(pts[RIGHT_IRIS_CENTRE][0]), float(pts[LEFT_IRIS_CENTRE][0]))
    brows = (pts[list(BROW_RIGHT)], pts[list(BROW_LEFT)])
    values["brow_height"] = tuple(-y_at_x(b, x) for b, x in zip(brows, iris_x))  # type: ignore[assignment]
    uppers = (pts[list(UPPER_LID_RIGHT)], pts[list(UPPER_LID_LEFT)])
    lowers = (pts[list(LOWER_LID_RIGHT)], pts[list(LOWER_LID_LEFT)])
    values["palpebral_fissure"] = tuple(
        max(0.0, y_at_x(lo, x) - y_at_x(up, x)) for up, lo, x in zip(uppers, lowers, iris_x)
    )  # type: ignore[assignment]
    return values


def asymmetry_index(pts: np.ndarray) -> float:
    """Mean landmark-to-reflected-partner distance, % of interpupillary distance."""
    reflected = pts[MIRROR] * np.array([-1.0, 1.0])
    ipd = float(np.linalg.norm(pts[LEFT_IRIS_CENTRE] - pts[RIGHT_IRIS_CENTRE]))
    return float(np.linalg.norm(pts - reflected, axis=1).mean() / ipd * 100.0)


def compute_metrics(points_px: np.ndarray, frame: FacialFrame, affected_side: str | None = None) -> dict[str, float]:
    """All metrics for one face. ``points_px`` are (478, 2) photo pixels."""
    if affected_side not in (None, "right", "left"):
        raise ValueError(f"affected_side must be 'right', 'left' or None, not {affected_side!r}")
    pts = frame.to_frame_mm(points_px)
    values = bilateral_values(pts)
    out: dict[str, float] = {}
    for m in BILATERAL_MEASURES:
        right, left = values[m.base]
        out[_side_name(m, "right")] = right
        out[_side_name(m, "left")] = left
        out[_deviation_name(m)] = abs(right - left)
    out["asymmetry_index"] = asymmetry_index(pts)
    out["interpupillary_distance_mm"] = float(np.linalg.norm(pts[LEFT_IRIS_CENTRE] - pts[RIGHT_IRIS_CENTRE]))
    if affected_side is not None:
        for m in BILATERAL_MEASURES:
            right, left = values[m.base]
            affected, unaffected = (right, left) if affected_side == "right" else (left, right)
            out[_signed_name(m)] = m.droop_sign * (affected - unaffected)
    return out
