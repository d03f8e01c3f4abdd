"""Head pose stored with every score and shown on the photo page (docs/metrics.md, "Head pose")."""

import pytest

from measurements import services
from tests.imaging import astronaut_face, mirror, to_jpeg_bytes, turned_face


@pytest.fixture(scope="module")
def face():
    return astronaut_face()


def _scored(add_photo, data, expression="rest"):
    photo = add_photo(data, expression=expression)
    services.photo_score(photo_id=photo.pk)
    photo.refresh_from_db()
    return photo, photo.scores.get()


def test_every_score_stores_the_pose_and_a_mirrored_photo_has_the_opposite_turn_and_tilt(add_photo, face):
    _, score = _scored(add_photo, to_jpeg_bytes(face, quality=92))
    _, mirrored = _scored(add_photo, to_jpeg_bytes(mirror(face), quality=92), expression="smile_open")
    assert score.status == mirrored.status == "scored"
    assert None not in (score.yaw_deg, score.pitch_deg, score.roll_deg)
    assert abs(score.roll_deg) > 1  # the portrait's head is tilted, so the sign test can fail
    # JPEG noise differs between the photo and its mirror image: equal and opposite, not exact.
    assert mirrored.yaw_deg == pytest.approx(-score.yaw_deg, abs=0.5)
    assert mirrored.roll_deg == pytest.approx(-score.roll_deg, abs=0.3)
    assert mirrored.pitch_deg == pytest.approx(score.pitch_deg, abs=0.5)


def test_a_photo_refused_for_its_head_turn_keeps_its_pose_and_the_page_shows_it(client, coordinator_a, add_photo, face):
    photo, score = _scored(add_photo, to_jpeg_bytes(turned_face(face, 25), quality=92))
    assert photo.failure_code == "head_turned"
    assert score.yaw_deg is not None and score.yaw_deg > 5  # turned to the patient's left: positive
    client.force_login(coordinator_a)
    page = client.get(photo.get_absolute_url()).content.decode()
    assert "data-head-pose" in page
    assert f'<span data-pose="yaw">{score.yaw_deg:.1f}</span>°' in page


def test_a_photo_without_a_face_has_no_pose_and_the_page_claims_none(client, coordinator_a, add_photo):
    from tests.imaging import gradient_image

    photo, score = _scored(add_photo, to_jpeg_bytes(gradient_image()))
    assert (score.yaw_deg, score.pitch_deg, score.roll_deg) == (None, None, None)
    client.force_login(coordinator_a)
    assert "data-head-pose" not in client.get(photo.get_absolute_url()).content.decode()


def test_the_photos_api_gives_every_scores_pose(client, investigator, add_photo, face):
    photo, score = _scored(add_photo, to_jpeg_bytes(face, quality=92))
    client.force_login(investigator)
    study_code = photo.patient.study.code
    body = client.get(f"/api/v1/studies/{study_code}/patients/{photo.patient_id}/photos/").json()
    (listed,) = [p for p in body["results"] if p["id"] == photo.pk]
    (given,) = listed["scores"]
    assert (given["yaw_deg"], given["pitch_deg"], given["roll_deg"]) == (score.yaw_deg, score.pitch_deg, score.roll_deg)
    assert given["yaw_deg"] is not None
