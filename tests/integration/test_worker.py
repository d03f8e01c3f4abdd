"""The scoring worker as deployed: a real `celery worker` process on a real Redis."""

import time

import pytest

from measurements import services
from measurements.models import Photo, PhotoScore
from patients import services as patient_services
from tests.conftest import make_patient
from tests.imaging import astronaut_face, large_photo_jpeg, to_jpeg_bytes

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DONE = (Photo.Status.SCORED, Photo.Status.FAILED)


@pytest.fixture
def baseline_visit(site_a, coordinator_a, study):
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=0)
    return patient_services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
    )


def _status(photo_id):
    return Photo.objects.values_list("status", flat=True).get(pk=photo_id)


def test_uploaded_photo_is_scored_by_a_real_worker(worker_factory, baseline_visit, coordinator_a):
    worker = worker_factory()
    photo = services.photo_upload(
        visit=baseline_visit,
        expression="rest",
        data=to_jpeg_bytes(astronaut_face()),
        filename="rest.jpg",
        by=coordinator_a,
    )
    wait_for(lambda: _status(photo.pk) in DONE, timeout=120, what=lambda: f"the photo to be scored\n{worker.log()}")
    photo.refresh_from_db()
    assert photo.status == Photo.Status.SCORED, photo.failure_reason
    score = photo.scores.get()
    assert score.metrics["commissure_height_deviation_mm"] >= 0
    assert len(score.landmarks) == 478
    assert score.image_width and score.image_height, "the overlay is drawn from these on demand"


def test_worker_killed_mid_task_is_back_within_two_minutes_and_scores_every_photo_exactly_once(
    worker_factory, baseline_visit, coordinator_a
):
    # A queue of photos keeps the worker busy, so that the kill lands in the middle of a task
    # however fast one photo is scored.
    photos = [
        services.photo_upload(
            visit=baseline_visit,
            expression=expression,
            data=large_photo_jpeg(variant=i + 1),
            filename=f"{expression}.jpg",
            by=coordinator_a,
        )
        for i, expression in enumerate(["rest", "brow_raise", "smile_closed", "smile_open", "pucker"])
    ]
    ids = [p.pk for p in photos]
    first = worker_factory()

    def busy_mid_queue():
        statuses = dict(Photo.objects.filter(pk__in=ids).values_list("pk", "status"))
        processing = [pk for pk, status in statuses.items() if status == Photo.Status.PROCESSING]
        return processing[0] if processing and Photo.Status.SCORED in statuses.values() else None

    killed = wait_for(busy_mid_queue, timeout=120, interval=0.005, what=lambda: f"a photo in process\n{first.log()}")
    first.kill9()
    killed_at = time.monotonic()
    assert _status(killed) == Photo.Status.PROCESSING
    assert not PhotoScore.objects.filter(photo_id=killed).exists(), "killed before it could write a score"

    # Nothing but the deployment's own machinery: a worker with beat, which runs the sweep every
    # PHOTO_SWEEP_SECONDS; the claim goes stale once older than the task's hard time limit.
    second = worker_factory(beat=True)
    wait_for(
        lambda: _status(killed) == Photo.Status.SCORED,
        timeout=120,
        interval=0.5,
        what=lambda: f"the killed worker's photo to be scored again within two minutes\n{second.log()}",
    )
    assert time.monotonic() - killed_at < 120
    wait_for(
        lambda: set(Photo.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Photo.Status.SCORED},
        timeout=180,
        what=lambda: f"the new worker to score every photo\n{second.log()}",
    )
    # The killed worker's unacknowledged messages are redelivered after the visibility timeout;
    # they must find their photos done and write nothing.
    time.sleep(8)
    for photo in Photo.objects.filter(pk__in=ids):
        assert photo.status == Photo.Status.SCORED, photo.failure_reason
        assert photo.scores.count() == 1, photo
    assert Photo.objects.get(pk=killed).attempts == 2


def test_upload_while_redis_is_down_is_kept_and_scored_after_it_returns(
    worker_factory, broker, baseline_visit, coordinator_a
):
    worker = worker_factory()
    broker.stop()
    started = time.monotonic()
    photo = services.photo_upload(
        visit=baseline_visit,
        expression="rest",
        data=to_jpeg_bytes(astronaut_face()),
        filename="rest.jpg",
        by=coordinator_a,
    )
    assert time.monotonic() - started < 15, "a dead broker must not hang the upload"
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PENDING
    assert photo.queued_at is None, "not queued: the sweep must pick it up"
    assert photo.original.storage.exists(photo.original.name), "the original is stored whatever the broker"

    broker.start()
    assert services.photos_sweep()["queued"] == 1
    wait_for(lambda: _status(photo.pk) in DONE, timeout=120, what=lambda: f"the photo to be scored\n{worker.log()}")
    assert _status(photo.pk) == Photo.Status.SCORED
    assert PhotoScore.objects.filter(photo=photo).count() == 1
