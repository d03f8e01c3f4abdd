"""The visit-level frame and scale (docs/metrics.md, "A visit-level frame and scale"): an eye-closure
photo takes its frame and millimetres from the visit's open-eye photo, through the face outline."""

import numpy as np
import pytest

from measurements.engine import EYE_CLOSURES, ReferenceGeometry, score_array
from measurements.engine.pairs import MIRROR
from measurements.engine.reference import STABLE_POINTS, iris_problem, similarity_fit, with_reference_irises
from tests import imaging

PULL_MM = 2.0


def _swap(name: str) -> str:
    return name.replace("_right_", "_TMP_").replace("_left_", "_right_").replace("_TMP_", "_left_")


@pytest.fixture(scope="module")
def visit(face, face_reference, lower_corner_side):
    """One visit: the rest photo and, taken a little tilted and closer, the same face with the eyes
    shut and the lower mouth corner pulled down by PULL_MM more (so the true change is known)."""
    side = lower_corner_side
    rest = imaging.pull_commissure_down(face, side, 0.0, reference=face_reference)
    pulled = imaging.pull_commissure_down(face, side, PULL_MM, reference=face_reference)
    closed = imaging.close_eyes(pulled, reference=face_reference)
    closed = imaging.rotate(closed, 2.5)
    rest_result = score_array(rest, expression="rest", affected_side=side)
    assert rest_result.status == "scored" and rest_result.scale_source == "own"
    return {
        "side": side,
        "rest": rest_result,
        # The same pulled face with its eyes open: what the eye-closure photo should measure.
        "pulled_open": score_array(pulled, expression="rest", affected_side=side),
        "closed": closed,
        "reference": ReferenceGeometry.from_landmarks(rest_result.landmarks, label="rest-photo"),
    }


@pytest.fixture(scope="module")
def closed_scored(visit):
    return score_array(
        visit["closed"], expression="full_eye_closure", affected_side=visit["side"], reference=visit["reference"]
    )


def test_the_face_outline_is_its_own_mirror_image():
    assert sorted(int(i) for i in MIRROR[list(STABLE_POINTS)]) == sorted(STABLE_POINTS)


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(3)
    source = rng.normal(size=(36, 2)) * 40
    angle = np.radians(7.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = 1.7 * source @ rotation.T + np.array([300.0, -20.0])
    scale, fitted, shift = similarity_fit(source, target)
    assert scale == pytest.approx(1.7)
    assert fitted == pytest.approx(rotation)
    assert shift == pytest.approx([300.0, -20.0])


def test_an_eye_closure_without_a_reference_gets_no_millimetres_and_says_why(visit):
    for expression in sorted(EYE_CLOSURES):
        result = score_array(visit["closed"], expression=expression, affected_side=visit["side"])
        assert result.status == "no_reference"
        assert "open-eye photo of the same visit" in result.reason and "scored again automatically" in result.reason
        assert result.metrics == {}
        assert result.landmarks is not None  # what the engine saw is still shown


def test_an_eye_closure_takes_its_frame_from_the_reference(visit, closed_scored):
    result = closed_scored
    assert result.status == "scored", result.reason
    assert (result.scale_source, result.reference_label) == ("reference", "rest-photo")
    assert result.scale_note == "an eye-closure photo"
    # The same face with its eyes open measures the same droop; and the corner was pulled PULL_MM
    # further than on the rest photo (a 2 mm pull reads about 1.8 mm on this face with open eyes too).
    signed = result.metrics["commissure_height_signed_mm"]
    assert signed == pytest.approx(visit["pulled_open"].metrics["commissure_height_signed_mm"], abs=0.25)
    assert signed - visit["rest"].metrics["commissure_height_signed_mm"] == pytest.approx(PULL_MM, abs=0.5)
    # The interpupillary distance is the reference's, carried over (the photo's own irises are hidden).
    assert result.metrics["interpupillary_distance_mm"] == pytest.approx(
        visit["rest"].metrics["interpupillary_distance_mm"], abs=0.3
    )
    # Closed eyes: little left of the aperture, most of the closure.
    for side in ("right", "left"):
        assert result.metrics[f"residual_aperture_{side}_mm"] < 2.0
        assert result.metrics[f"eye_closure_{side}_pct"] > 75.0
    assert "eye_closure_ratio" in result.metrics


def test_the_same_photo_on_its_own_irises_misses_the_droop(visit, closed_scored):
    """What engine 1.1 did, and why 1.2 borrows the frame: the model's guess at the hidden irises."""
    from measurements.engine import FacialFrame
    from measurements.engine.metrics import compute_metrics

    own = score_array(visit["closed"], expression="full_eye_closure", affected_side=visit["side"])
    points = own.landmarks
    on_own_irises = compute_metrics(points, FacialFrame.from_landmarks(points), visit["side"])
    truth = visit["pulled_open"].metrics["commissure_height_signed_mm"]
    own_error = abs(on_own_irises["commissure_height_signed_mm"] - truth)
    borrowed_error = abs(closed_scored.metrics["commissure_height_signed_mm"] - truth)
    print(f"error on its own irises {own_error:.3f} mm, on the reference's {borrowed_error:.3f} mm")
    assert borrowed_error < own_error


def test_mirrored_eye_closure_swaps_sides_and_keeps_signs_exactly(visit, face, closed_scored):
    side = visit["side"]
    other = "left" if side == "right" else "right"
    # The mirrored rest photo's landmarks are the rest photo's mirrored (the engine is mirror-exact,
    # tests/engine/test_precision.py), so the mirrored reference is the rest photo's, mirrored.
    from measurements.engine.pairs import mirror_landmarks

    width = face.shape[1]
    reference = ReferenceGeometry.from_landmarks(mirror_landmarks(visit["rest"].landmarks, width))
    mirrored = score_array(
        imaging.mirror(visit["closed"]), expression="full_eye_closure", affected_side=other, reference=reference
    )
    assert mirrored.status == "scored"
    for name, value in closed_scored.metrics.items():
        # Right and left swap; signed values and ratios (affected against unaffected) stay as they are.
        assert mirrored.metrics[_swap(name)] == pytest.approx(value, abs=1e-6), name


def test_an_open_eye_photo_keeps_its_own_irises_when_it_can(visit, face):
    with_reference = score_array(face, expression="smile_open", reference=visit["reference"])
    alone = score_array(face, expression="smile_open")
    assert with_reference.scale_source == "own" and with_reference.scale_note == ""
    assert with_reference.metrics == alone.metrics


def test_doubtful_irises_are_recognised(face_result):
    points = face_result.landmarks
    assert iris_problem(points, (0.75, 0.75)) == ""
    assert "nearly closed" in iris_problem(points, (0.75, 0.3))
    shrunk = points.copy()
    centre = shrunk[473]
    shrunk[474:478] = centre + (shrunk[474:478] - centre) * 0.7
    assert "differ in size" in iris_problem(shrunk, (0.75, 0.75))


def test_reference_irises_follow_the_face_outline(visit):
    """The reference's landmarks seen again turned, larger and moved, with the irises lost (as under
    closed lids): the carried-over irises land where that transform puts the reference's."""
    landmarks = visit["rest"].landmarks
    angle = np.radians(-4.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    seen = 1.3 * landmarks @ rotation.T + np.array([40.0, 25.0])
    lost = seen.copy()
    lost[468:] = lost[468:] + np.array([3.0, 5.0])  # the model's guess under the lids
    carried = with_reference_irises(lost, visit["reference"])
    assert np.array_equal(carried[:468], lost[:468])
    assert carried[468:] == pytest.approx(seen[468:], abs=1e-6)
