"""The facial frame (roll removed, origin between the irises) and the scale."""

import numpy as np
import pytest

from measurements.engine import IRIS_DIAMETER_MM, FacialFrame, score_array
from measurements.engine.frame import iris_diameters_px
from tests import imaging


@pytest.fixture(scope="module")
def rotated_result(face):
    result = score_array(imaging.rotate(face, 8.0), expression="smile_open")
    assert result.status == "scored", result.reason
    return result


def test_interpupillary_line_is_the_x_axis(rotated_result):
    frame = FacialFrame.from_landmarks(rotated_result.landmarks)
    irises = frame.to_frame_mm(rotated_result.landmarks[[468, 473]])
    assert irises[:, 1] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert irises[0, 0] == pytest.approx(-irises[1, 0])
    assert irises[0, 0] < 0 < irises[1, 0]  # subject's right iris at negative x


def test_rotating_the_photo_8_degrees_changes_only_the_roll(face_result, rotated_result):
    # rotate() turns the photo counter-clockwise as seen; with y pointing down
    # that makes the interpupillary line's angle 8 degrees more negative.
    assert rotated_result.quality["roll_deg"] - face_result.quality["roll_deg"] == pytest.approx(-8.0, abs=0.5)
    base = FacialFrame.from_landmarks(face_result.landmarks).to_frame_mm(face_result.landmarks)
    rotated = FacialFrame.from_landmarks(rotated_result.landmarks).to_frame_mm(rotated_result.landmarks)
    # Landmarks in the frame agree to well under a millimetre: roll is removed.
    assert np.median(np.linalg.norm(base - rotated, axis=1)) < 0.3
    for idx in (61, 291, 1, 17):
        assert np.linalg.norm(base[idx] - rotated[idx]) < 0.6


def test_mm_per_px_is_iris_diameter_over_11_77(face_result):
    iris = np.mean(iris_diameters_px(face_result.landmarks))
    assert face_result.mm_per_px == pytest.approx(IRIS_DIAMETER_MM / iris)
    # The astronaut's iris is about 25 px at scale 3.
    assert 22 < iris < 28


def test_mm_per_px_follows_the_photo_size(face, face_result):
    half = score_array(imaging.halve(face), expression="smile_open")
    assert half.status == "scored", half.reason
    assert half.mm_per_px == pytest.approx(2 * face_result.mm_per_px, rel=0.03)
    # Millimetres do not depend on the resolution.
    assert half.metrics["interpupillary_distance_mm"] == pytest.approx(
        face_result.metrics["interpupillary_distance_mm"], abs=0.5
    )
    assert 54 < face_result.metrics["interpupillary_distance_mm"] < 70


def test_frame_round_trip(face_result):
    frame = FacialFrame.from_landmarks(face_result.landmarks)
    back = frame.to_photo_px(frame.to_frame_mm(face_result.landmarks))
    assert np.allclose(back, face_result.landmarks)
