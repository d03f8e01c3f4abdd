"""Visit-aware scoring (docs/metrics.md, "A visit-level frame and scale"): an eye-closure photo takes
its millimetres from the visit's open-eye photo, whichever is uploaded first, follows that photo when
it is retaken, and is never given a guessed scale."""

import pytest

from measurements import engine, selectors, services
from measurements.models import Photo, PhotoScore
from measurements.visit_scale import REFERENCE_ORDER, visit_scale_reference
from tests.imaging import astronaut_face, close_eyes, face_reference, to_jpeg_bytes


@pytest.fixture(scope="module")
def open_face():
    return astronaut_face()


@pytest.fixture(scope="module")
def rest_jpeg(open_face):
    return to_jpeg_bytes(open_face, quality=92)


@pytest.fixture(scope="module")
def retake_jpeg(open_face):
    return to_jpeg_bytes(open_face, quality=80)


@pytest.fixture(scope="module")
def closed_jpeg(open_face):
    return to_jpeg_bytes(close_eyes(open_face, reference=face_reference(open_face)), quality=92)


def _score(photo) -> str:
    outcome = services.photo_score(photo_id=photo.pk)
    photo.refresh_from_db()
    return outcome


def test_rest_is_the_reference_before_the_other_open_eye_photos():
    assert REFERENCE_ORDER[0] == "rest"
    assert not set(REFERENCE_ORDER) & engine.EYE_CLOSURES


def test_a_visit_without_an_open_eye_photo_gives_a_stated_reason_not_millimetres(add_photo, closed_jpeg):
    closed = add_photo(closed_jpeg, expression="full_eye_closure")

    assert _score(closed) == "no_reference"

    assert (closed.status, closed.failure_code) == (Photo.Status.FAILED, "no_reference")
    assert "open-eye photo of the same visit" in closed.failure_reason  # shown on the photo's page
    score = closed.scores.get()
    assert score.metrics == {} and score.mm_per_px is None and score.scale_photo is None
    assert len(score.landmarks) == 478  # what the engine saw is kept and drawn


def test_an_eye_closure_before_its_reference_is_scored_once_the_reference_exists(
    add_photo, closed_jpeg, rest_jpeg, django_capture_on_commit_callbacks
):
    closed = add_photo(closed_jpeg, expression="gentle_eye_closure")
    assert _score(closed) == "no_reference"
    rest = add_photo(rest_jpeg, expression="rest")

    with django_capture_on_commit_callbacks() as queued:
        assert _score(rest) == "scored"

    assert rest.scores.get().scale_photo_id == rest.pk  # on its own irises
    closed.refresh_from_db()
    assert closed.status == Photo.Status.PENDING and queued  # queued again, on commit
    assert closed.history.first().history_change_reason.startswith("Queued for rescoring")
    assert _score(closed) == "scored"
    score = closed.scores.get()  # the same row, now with millimetres
    assert score.scale_photo_id == rest.pk and score.scale_note == "an eye-closure photo"
    assert score.metrics["interpupillary_distance_mm"] == pytest.approx(
        rest.scores.get().metrics["interpupillary_distance_mm"], abs=0.3
    )
    assert "eye_closure_right_pct" in score.metrics
    # The no-reference result it replaced stays in the score's history.
    assert [h.status for h in score.history.order_by("history_date")] == ["no_reference", "scored"]


def test_a_retaken_reference_rescores_the_photos_that_depend_on_it(
    add_photo, closed_jpeg, rest_jpeg, retake_jpeg, django_capture_on_commit_callbacks
):
    rest = add_photo(rest_jpeg, expression="rest")
    assert _score(rest) == "scored"
    closed = add_photo(closed_jpeg, expression="full_eye_closure")
    assert _score(closed) == "scored"
    first = closed.scores.get()
    assert first.scale_photo_id == rest.pk

    retake = add_photo(retake_jpeg, expression="rest")
    with django_capture_on_commit_callbacks():
        assert _score(retake) == "scored"
    closed.refresh_from_db()
    assert closed.status == Photo.Status.PENDING
    assert _score(closed) == "scored"

    score = PhotoScore.objects.get(photo=closed, engine_version=engine.ENGINE_VERSION)  # still one row
    assert score.scale_photo_id == retake.pk
    history = list(score.history.order_by("history_date"))
    assert [h.scale_photo_id for h in history] == [rest.pk, retake.pk]
    assert history[-1].history_change_reason == (
        f"Scored again: scale reference changed from photo {rest.pk} to photo {retake.pk}"
    )
    assert history[0].metrics == first.metrics  # the replaced values are kept
    # Its overlay (the carried-over irises) is drawn again, not served from the old reference.
    assert selectors.derived_image_name(closed, "overlay", first) != selectors.derived_image_name(
        closed, "overlay", score
    )


def test_an_open_eye_photo_scored_later_does_not_disturb_the_dependants(
    add_photo, closed_jpeg, rest_jpeg, retake_jpeg, django_capture_on_commit_callbacks
):
    rest = add_photo(rest_jpeg, expression="rest")
    _score(rest)
    closed = add_photo(closed_jpeg, expression="full_eye_closure")
    _score(closed)
    smile = add_photo(retake_jpeg, expression="smile_open")
    with django_capture_on_commit_callbacks() as queued:
        _score(smile)
    closed.refresh_from_db()
    assert closed.status == Photo.Status.SCORED and not queued
    assert visit_scale_reference(visit_id=rest.visit_id).photo_id == rest.pk


def test_the_photo_page_says_where_the_scale_came_from(client, coordinator_a, add_photo, closed_jpeg, rest_jpeg):
    closed = add_photo(closed_jpeg, expression="full_eye_closure")
    _score(closed)
    client.force_login(coordinator_a)
    page = client.get(closed.get_absolute_url()).content.decode()
    assert "this visit has none that scored" in page  # the stated reason, on the photo

    rest = add_photo(rest_jpeg, expression="rest")
    _score(rest)
    _score(closed)
    page = client.get(closed.get_absolute_url()).content.decode()
    assert 'data-scale-source="reference"' in page and f'href="/photos/{rest.pk}/"' in page
    assert (
        "Frame and millimetre scale from this photo's own irises"
        in client.get(rest.get_absolute_url()).content.decode()
    )
