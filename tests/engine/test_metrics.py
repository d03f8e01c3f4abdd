"""Metric definitions on landmark arrays with known geometry (no model)."""

import numpy as np
import pytest

from measurements.engine import (
    METRIC_DEFINITIONS,
    RATIO_METRIC_NAMES,
    REFERENCE_METRIC_NAMES,
    SIGNED_METRIC_NAMES,
    UNSIGNED_METRIC_NAMES,
)
from measurements.engine.frame import IRIS_DIAMETER_MM, FacialFrame
from measurements.engine.metrics import compute_metrics, y_at_x
from measurements.engine.pairs import MIRROR, mirror_landmarks

REQUIRED_NAMES = [
    f"{base}_{side}_{unit}"
    for base, unit in [
        ("commissure_height", "mm"),
        ("commissure_excursion", "mm"),
        ("smile_angle", "deg"),
        ("lip_aperture", "mm"),
        ("upper_lip_height", "mm"),
        ("lower_lip_height", "mm"),
        ("brow_height", "mm"),
        ("palpebral_fissure", "mm"),
        ("residual_aperture", "mm"),
    ]
    for side in ("right", "left", "deviation")
] + ["asymmetry_index", "interpupillary_distance_mm"]


def symmetric_face(face_result) -> np.ndarray:
    """The astronaut's landmarks made exactly symmetric about the midline, in
    a photo frame with no roll, 10 px to the mm (iris 117.7 px)."""
    frame = FacialFrame.from_landmarks(face_result.landmarks)
    mm = frame.to_frame_mm(face_result.landmarks)
    sym = 0.5 * (mm + mm[MIRROR] * np.array([-1.0, 1.0]))
    # Force a 11.77 mm iris on both sides so that 1 mm = 10 px.
    for centre, ring in ((468, (469, 470, 471, 472)), (473, (474, 475, 476, 477))):
        c = sym[centre]
        sym[list(ring)] = c + np.array([[1, 0], [0, -1], [-1, 0], [0, 1]]) * IRIS_DIAMETER_MM / 2
    return sym * 10.0 + np.array([500.0, 400.0])


def test_metric_names_are_the_agreed_ones():
    names = [d.name for d in METRIC_DEFINITIONS]
    assert len(names) == len(set(names))
    for name in REQUIRED_NAMES:
        assert name in UNSIGNED_METRIC_NAMES
    assert set(UNSIGNED_METRIC_NAMES) == set(REQUIRED_NAMES)
    assert "commissure_height_signed_mm" in SIGNED_METRIC_NAMES
    assert all(d.description and d.unit in ("mm", "deg", "%", "ratio") for d in METRIC_DEFINITIONS)
    # Only with a reference photo (eye closures): the closure percentage and its ratio.
    assert set(REFERENCE_METRIC_NAMES) == {
        "eye_closure_right_pct", "eye_closure_left_pct", "eye_closure_deviation_pct", "eye_closure_signed_pct",
        "eye_closure_ratio",
    }  # fmt: skip
    assert set(RATIO_METRIC_NAMES) == {"palpebral_fissure_ratio", "eye_closure_ratio"}


def test_scale_is_iris_based():
    pts = symmetric_face_from_scratch()
    frame = FacialFrame.from_landmarks(pts)
    assert frame.mm_per_px == pytest.approx(0.1)
    assert frame.iris_diameter_px == pytest.approx(117.7)


def symmetric_face_from_scratch() -> np.ndarray:
    pts = np.zeros((478, 2))
    pts[468] = (-300, 0)
    pts[473] = (300, 0)
    for centre, ring in ((468, (469, 470, 471, 472)), (473, (474, 475, 476, 477))):
        pts[list(ring)] = pts[centre] + np.array([[1, 0], [0, -1], [-1, 0], [0, 1]]) * 58.85
    return pts + 1000.0


def test_symmetric_face_has_no_deviation(face_result):
    pts = symmetric_face(face_result)
    m = compute_metrics(pts, FacialFrame.from_landmarks(pts))
    for name, value in m.items():
        if "deviation" in name:
            assert value == pytest.approx(0.0, abs=1e-9), name
    assert m["asymmetry_index"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("affected", ["right", "left"])
def test_signed_values_make_droop_positive(face_result, affected):
    pts = symmetric_face(face_result)
    frame = FacialFrame.from_landmarks(pts)
    corner = 61 if affected == "right" else 291
    brow = [70, 63, 105, 66, 107] if affected == "right" else [300, 293, 334, 296, 336]
    drooped = pts.copy()
    drooped[corner, 1] += 20.0  # 2 mm lower (image y points down)
    drooped[brow, 1] += 30.0  # brow 3 mm lower
    m = compute_metrics(drooped, frame, affected_side=affected)
    assert m["commissure_height_deviation_mm"] == pytest.approx(2.0)
    assert m["commissure_height_signed_mm"] == pytest.approx(2.0)
    assert (
        m[f"commissure_height_{affected}_mm"] > m[f"commissure_height_{'left' if affected == 'right' else 'right'}_mm"]
    )
    assert m["brow_height_deviation_mm"] == pytest.approx(3.0)
    assert m["brow_height_signed_mm"] == pytest.approx(3.0)
    assert m["smile_angle_signed_deg"] > 0
    # The same photo with the other side named as affected reads as negative.
    other = "left" if affected == "right" else "right"
    m_other = compute_metrics(drooped, frame, affected_side=other)
    assert m_other["commissure_height_signed_mm"] == pytest.approx(-2.0)


def test_metrics_swap_sides_on_mirrored_landmarks(face_result):
    pts = face_result.landmarks
    width = 1536.0
    m = compute_metrics(pts, FacialFrame.from_landmarks(pts))
    mirrored = mirror_landmarks(pts, width)
    mm = compute_metrics(mirrored, FacialFrame.from_landmarks(mirrored))
    for name, value in m.items():
        swapped = name.replace("_right_", "_TMP_").replace("_left_", "_right_").replace("_TMP_", "_left_")
        assert mm[swapped] == pytest.approx(value, abs=1e-9), name


def test_roll_does_not_change_metrics(face_result):
    pts = face_result.landmarks
    angle = np.radians(8.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    rotated = (pts - 700.0) @ rot.T + 700.0
    m = compute_metrics(pts, FacialFrame.from_landmarks(pts))
    mr = compute_metrics(rotated, FacialFrame.from_landmarks(rotated))
    for name, value in m.items():
        assert mr[name] == pytest.approx(value, abs=1e-9), name


def test_y_at_x_interpolates_and_extrapolates():
    line = np.array([[0.0, 0.0], [10.0, 10.0], [20.0, 10.0]])
    assert y_at_x(line, 5.0) == pytest.approx(5.0)
    assert y_at_x(line[::-1], 5.0) == pytest.approx(5.0)
    assert y_at_x(line, 15.0) == pytest.approx(10.0)
    assert y_at_x(line, -5.0) == pytest.approx(-5.0)


def test_unknown_affected_side_is_refused(face_result):
    pts = face_result.landmarks
    with pytest.raises(ValueError):
        compute_metrics(pts, FacialFrame.from_landmarks(pts), affected_side="both")
