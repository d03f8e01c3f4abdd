"""Head pose reported with every score (docs/metrics.md, "Head pose").

What each test proves:

* roll: turning the photo in its own plane by a known angle is an exact,
  known change of roll, and must leave yaw and pitch where they were;
* mirror: a mirrored photo is the same head turned and tilted the other way,
  so yaw and roll change sign and pitch stays (exactly, because the engine's
  landmarks of a mirrored photo are exactly the mirrored landmarks);
* turned faces: the project's turned faces (``tests.imaging.turned_face``,
  the nose strip shifted sideways as a real turn to the subject's left would
  shift it) give a yaw that grows with the turn, with the stated sign;
* faces turned in depth (``tests.imaging.turn_in_depth``: the face mesh,
  with the model's own depth, turned in 3D and re-rendered) give a yaw that
  follows the known turn in order, sign and size (within a degree), while
  pitch and roll stay put;
* a photo the head-turn gate refuses still carries its pose.
"""

from __future__ import annotations

import numpy as np
import pytest

from measurements.engine import score_array
from tests import imaging

TURNS_DEG = (0, 5, 10, 15, 25)


@pytest.fixture(scope="module")
def turned_results(face):
    return {deg: score_array(imaging.turned_face(face, deg) if deg else face) for deg in TURNS_DEG}


@pytest.mark.parametrize("degrees", [10.0, -10.0])
def test_turning_the_photo_in_its_plane_changes_roll_by_that_angle_alone(face, face_result, degrees):
    turned = score_array(imaging.rotate(face, degrees), expression="smile_open")
    assert turned.status == "scored", turned.reason
    before, after = face_result.pose, turned.pose
    # imaging.rotate turns the picture counter-clockwise for positive degrees, which in a photo
    # (y down) lifts the subject's left eye: roll falls by the angle.
    assert after["roll_deg"] - before["roll_deg"] == pytest.approx(-degrees, abs=0.5)
    assert after["yaw_deg"] == pytest.approx(before["yaw_deg"], abs=0.5)
    assert after["pitch_deg"] == pytest.approx(before["pitch_deg"], abs=0.5)


def test_roll_has_the_sign_of_the_facial_frame(face):
    result = score_array(imaging.rotate(face, -10.0), expression="smile_open")
    assert result.pose["roll_deg"] > 5
    assert result.pose["roll_deg"] == pytest.approx(result.quality["roll_deg"], abs=1.0)


def test_a_mirrored_photo_has_opposite_yaw_and_roll_and_the_same_pitch(face, face_result):
    mirrored = score_array(imaging.mirror(face), expression="smile_open")
    assert mirrored.status == "scored", mirrored.reason
    pose, mirror_pose = face_result.pose, mirrored.pose
    assert set(pose) == {"yaw_deg", "pitch_deg", "roll_deg"}
    assert abs(pose["roll_deg"]) > 1  # the astronaut's head is tilted: the test can fail
    assert mirror_pose["yaw_deg"] == pytest.approx(-pose["yaw_deg"], abs=1e-6)
    assert mirror_pose["roll_deg"] == pytest.approx(-pose["roll_deg"], abs=1e-6)
    assert mirror_pose["pitch_deg"] == pytest.approx(pose["pitch_deg"], abs=1e-6)


def test_yaw_grows_with_a_turn_to_the_subjects_left(turned_results):
    yaws = [turned_results[deg].pose["yaw_deg"] for deg in TURNS_DEG]
    assert all(b > a + 1.0 for a, b in zip(yaws, yaws[1:])), yaws
    # The imitation shifts only the nose strip, not the face outline, so the whole-mesh estimate
    # sees part of the turn; it must still see a good part of it.
    assert yaws[-1] - yaws[0] > 0.3 * TURNS_DEG[-1]


DEPTH_TURNS_DEG = (-10, 0, 5, 10, 15)


@pytest.fixture(scope="module")
def depth_turns(face):
    return {deg: score_array(imaging.turn_in_depth(face, deg)).pose for deg in DEPTH_TURNS_DEG}


def test_yaw_follows_a_turn_rendered_from_the_mesh_in_depth(depth_turns):
    change = {deg: depth_turns[deg]["yaw_deg"] - depth_turns[0]["yaw_deg"] for deg in DEPTH_TURNS_DEG}
    ordered = [change[deg] for deg in DEPTH_TURNS_DEG]
    assert all(b > a + 2.0 for a, b in zip(ordered, ordered[1:])), change
    for deg in DEPTH_TURNS_DEG:
        assert change[deg] == pytest.approx(deg, abs=1.0), change
    slope = float(np.polyfit(DEPTH_TURNS_DEG, ordered, 1)[0])
    assert 0.95 < slope < 1.05, change
    for deg in DEPTH_TURNS_DEG:
        assert depth_turns[deg]["pitch_deg"] == pytest.approx(depth_turns[0]["pitch_deg"], abs=1.5)
        assert depth_turns[deg]["roll_deg"] == pytest.approx(depth_turns[0]["roll_deg"], abs=1.5)


def test_a_photo_refused_for_its_head_turn_still_reports_its_pose(turned_results):
    refused = turned_results[25]
    assert refused.status == "head_turned"
    assert refused.pose["yaw_deg"] > turned_results[0].pose["yaw_deg"]
    assert refused.to_dict(include_landmarks=False)["pose"] == refused.pose


def test_no_face_has_no_pose():
    assert score_array(imaging.no_face_image()).pose == {}
