"""The dashboard's scoring progress: how many of a study's photos are scored, and the time left at
the recent pace (measurements.selectors.scoring_progress)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from measurements.models import Photo
from measurements.selectors import scoring_progress
from patients.selectors import access_for

EXPRESSIONS = ("rest", "brow_raise", "gentle_eye_closure", "full_eye_closure", "smile_closed", "smile_open")


def _photos(add_photo):
    return [add_photo(expression=expression) for expression in EXPRESSIONS]


def test_done_of_total_and_the_time_left_at_the_recent_pace(add_photo, coordinator_a):
    photos = _photos(add_photo)
    now = timezone.now()
    # Three photos scored ten seconds apart, the last just now: 10 s a photo, three still to go.
    for seconds_ago, photo in zip((20, 10, 0), photos, strict=False):
        Photo.objects.filter(pk=photo.pk).update(
            status=Photo.Status.SCORED, scored_at=now - timedelta(seconds=seconds_ago)
        )
    Photo.objects.filter(pk=photos[3].pk).update(status=Photo.Status.PROCESSING)

    (progress,) = scoring_progress(access_for(coordinator_a))

    assert (progress.done, progress.total, progress.being_scored) == (3, 6, 1)
    assert progress.counted == "3 of 6"
    assert round(progress.seconds_left) == 30 and progress.time_left == "under a minute"


def test_minutes_left(add_photo, coordinator_a):
    photos = _photos(add_photo)
    now = timezone.now()
    # 60 s a photo, four to go.
    for seconds_ago, photo in zip((60, 0), photos, strict=False):
        Photo.objects.filter(pk=photo.pk).update(
            status=Photo.Status.SCORED, scored_at=now - timedelta(seconds=seconds_ago)
        )

    (progress,) = scoring_progress(access_for(coordinator_a))

    assert progress.time_left == "about 4 min"


def test_no_recent_scoring_gives_no_estimate(add_photo, coordinator_a):
    photos = _photos(add_photo)
    long_ago = timezone.now() - timedelta(hours=2)
    Photo.objects.filter(pk__in=[p.pk for p in photos[:2]]).update(status=Photo.Status.SCORED, scored_at=long_ago)

    (progress,) = scoring_progress(access_for(coordinator_a))

    assert progress.counted == "2 of 6" and progress.seconds_left is None and progress.time_left == ""


def test_nothing_shown_once_every_photo_is_scored_nor_to_a_user_without_the_patients(
    add_photo, coordinator_a, coordinator_b, client
):
    photos = _photos(add_photo)
    assert scoring_progress(access_for(coordinator_b)) == []  # site B sees none of site A's photos
    client.force_login(coordinator_a)
    assert "0 of 6</strong> photos scored" in client.get(reverse("dashboard")).content.decode()

    Photo.objects.filter(pk__in=[p.pk for p in photos]).update(
        status=Photo.Status.FAILED, failure_code="no_face", failure_reason="No face found.", scored_at=timezone.now()
    )

    assert scoring_progress(access_for(coordinator_a)) == []
    assert "Scoring the photos" not in client.get(reverse("dashboard")).content.decode()
