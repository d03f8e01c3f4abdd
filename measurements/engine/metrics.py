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
from typing import TYPE_CHECKING

import numpy as np

from .frame import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, FacialFrame
from .pairs import MIRROR

if TYPE_CHECKING:
    from .reference import ReferenceGeometry

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
    unit: str  # "mm", "deg", "%" or "ratio"
    label: str
    description: str
    side: str = ""  # "right", "left", "deviation", "signed", "ratio" or "" (whole face)
    base: str = ""  # the bilateral measurement this belongs to
    # Reported only on a photo framed and scaled from its visit's reference.
    needs_reference: bool = False


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
    # Also reported as affected / unaffected (``<base>_ratio``), the form of
    # the eFACE items; omitted where the unaffected value is under
    # MIN_RATIO_DENOMINATOR (a closed unaffected eye has no fissure to divide by).
    ratio: bool = False
    # Only on a photo framed and scaled from its visit's reference (it needs
    # the reference's open eyes).
    needs_reference: bool = False


# Smallest unaffected value a ratio divides by, in the measure's unit.
MIN_RATIO_DENOMINATOR = 0.5


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
        ratio=True,
    ),
    BilateralMeasure(
        "residual_aperture",
        "mm",
        "Residual eye aperture",
        "Largest distance between the upper and lower lid margins anywhere "
        "between the canthi (0 when the lids meet). On the eye-closure photos "
        "this is the gap left at gentle or full closure (lagophthalmos).",
        +1,
        "affected minus unaffected; positive when the affected eye closes less",
    ),
    BilateralMeasure(
        "eye_closure",
        "%",
        "Eye closure",
        "How far the eye closes: 100 x (1 - residual aperture on this photo / "
        "the same eye's residual aperture on the visit's open-eye reference "
        "photo). 100 % when the lids meet; only on photos framed from a reference.",
        -1,
        "unaffected minus affected; positive when the affected eye closes less",
        ratio=True,
        needs_reference=True,
    ),
)


def measure_name(m: BilateralMeasure, side: str) -> str:
    """The metric name of a bilateral measure's ``side`` ("right", "left",
    "deviation", "signed" or "ratio"): ``<base>_<side>_<unit>`` (a percentage
    spelled ``pct``), ``<base>_ratio``."""
    if side == "ratio":
        return f"{m.base}_ratio"
    return f"{m.base}_{side}_{'pct' if m.unit == '%' else m.unit}"


def _deviation_name(m: BilateralMeasure) -> str:
    return measure_name(m, "deviation")


def _side_name(m: BilateralMeasure, side: str) -> str:
    return measure_name(m, side)


def _signed_name(m: BilateralMeasure) -> str:
    return measure_name(m, "signed")


def ratio_name(m: BilateralMeasure) -> str:
    return measure_name(m, "ratio")


def _build_definitions() -> tuple[MetricDefinition, ...]:
    out: list[MetricDefinition] = []
    for m in BILATERAL_MEASURES:
        for side in ("right", "left"):
            out.append(
                MetricDefinition(
                    _side_name(m, side), m.unit, f"{m.label}, {side}", m.description, side, m.base, m.needs_reference
                )
            )
        out.append(
            MetricDefinition(
                _deviation_name(m),
                m.unit,
                f"{m.label} deviation",
                f"|right - left| of {m.label.lower()}.",
                "deviation",
                m.base,
                m.needs_reference,
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
                m.needs_reference,
            )
        )
    for m in BILATERAL_MEASURES:
        if m.ratio:
            out.append(
                MetricDefinition(
                    ratio_name(m),
                    "ratio",
                    f"{m.label}, affected / unaffected",
                    f"Only when the affected side is known: {m.label.lower()} of the affected side divided "
                    "by the unaffected side's (1 = symmetric, below 1 = less on the affected side); "
                    f"omitted when the unaffected value is under {MIN_RATIO_DENOMINATOR} {m.unit}.",
                    "ratio",
                    m.base,
                    m.needs_reference,
                )
            )
    return tuple(out)


METRIC_DEFINITIONS: tuple[MetricDefinition, ...] = _build_definitions()
METRICS_BY_NAME: dict[str, MetricDefinition] = {d.name: d for d in METRIC_DEFINITIONS}
# Names always present in a scored result (signed ones and ratios need the affected side, some
# measures a reference photo).
UNSIGNED_METRIC_NAMES: tuple[str, ...] = tuple(
    d.name for d in METRIC_DEFINITIONS if d.side not in ("signed", "ratio") and not d.needs_reference
)
SIGNED_METRIC_NAMES: tuple[str, ...] = tuple(d.name for d in METRIC_DEFINITIONS if d.side == "signed")
RATIO_METRIC_NAMES: tuple[str, ...] = tuple(d.name for d in METRIC_DEFINITIONS if d.side == "ratio")
REFERENCE_METRIC_NAMES: tuple[str, ...] = tuple(d.name for d in METRIC_DEFINITIONS if d.needs_reference)

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


# Where along the eye the residual aperture is looked for: this many vertical
# lines evenly between the canthi, the outermost a tenth of the eye's width in
# from each canthus (at the canthi themselves the lids always meet).
APERTURE_SAMPLES = 9


def largest_lid_gap(upper: np.ndarray, lower: np.ndarray) -> float:
    """Largest lower-minus-upper lid distance over the eye (>= 0); contours
    canthus to canthus, in the facial frame. Sampled at positions symmetric
    between the canthi, so a mirrored eye gives the same answer."""
    x0, x1 = float(upper[0][0]), float(upper[-1][0])
    gaps = [y_at_x(lower, x) - y_at_x(upper, x) for x in x0 + (x1 - x0) * np.linspace(0.1, 0.9, APERTURE_SAMPLES)]
    return max(0.0, float(max(gaps)))


def midline_crossing(polyline: np.ndarray) -> np.ndarray:
    """Point where a right-to-left contour crosses x = 0."""
    return np.array([0.0, y_at_x(polyline, 0.0)])


# --- The computation -----------------------------------------------------------


def bilateral_values(pts: np.ndarray, reference: ReferenceGeometry | None = None) -> dict[str, tuple[float, float]]:
    """(right, left) value of each bilateral measure, from landmarks already in
    the facial frame (mm); the measures that need a reference only with one."""
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
    values["residual_aperture"] = tuple(largest_lid_gap(up, lo) for up, lo in zip(uppers, lowers))  # type: ignore[assignment]
    if reference is not None:
        values["eye_closure"] = tuple(
            100.0 * (1.0 - gap / open_gap) if open_gap > 0 else float("nan")
            for gap, open_gap in zip(values["residual_aperture"], reference.aperture_mm)
        )  # type: ignore[assignment]
    return values


def asymmetry_index(pts: np.ndarray) -> float:
    """Mean landmark-to-reflected-partner distance, % of interpupillary distance."""
    reflected = pts[MIRROR] * np.array([-1.0, 1.0])
    ipd = float(np.linalg.norm(pts[LEFT_IRIS_CENTRE] - pts[RIGHT_IRIS_CENTRE]))
    return float(np.linalg.norm(pts - reflected, axis=1).mean() / ipd * 100.0)


def compute_metrics(
    points_px: np.ndarray,
    frame: FacialFrame,
    affected_side: str | None = None,
    reference: ReferenceGeometry | None = None,
) -> dict[str, float]:
    """All metrics for one face. ``points_px`` are (478, 2) photo pixels;
    ``reference`` is the visit's reference when this photo was framed from it."""
    if affected_side not in (None, "right", "left"):
        raise ValueError(f"affected_side must be 'right', 'left' or None, not {affected_side!r}")
    pts = frame.to_frame_mm(points_px)
    values = bilateral_values(pts, reference)
    measures = [m for m in BILATERAL_MEASURES if m.base in values]
    out: dict[str, float] = {}
    for m in measures:
        right, left = values[m.base]
        out[_side_name(m, "right")] = right
        out[_side_name(m, "left")] = left
        out[_deviation_name(m)] = abs(right - left)
    out["asymmetry_index"] = asymmetry_index(pts)
    out["interpupillary_distance_mm"] = float(np.linalg.norm(pts[LEFT_IRIS_CENTRE] - pts[RIGHT_IRIS_CENTRE]))
    if affected_side is not None:
        for m in measures:
            right, left = values[m.base]
            affected, unaffected = (right, left) if affected_side == "right" else (left, right)
            out[_signed_name(m)] = m.droop_sign * (affected - unaffected)
            if m.ratio and unaffected >= MIN_RATIO_DENOMINATOR:
                out[ratio_name(m)] = affected / unaffected
    return out
