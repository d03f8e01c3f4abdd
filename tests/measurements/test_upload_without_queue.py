"""An upload the caller scores itself (queue=False, the demo's parallel scoring) is never lost."""

from measurements import services
from measurements.models import Photo

from .files import noise_jpeg


def test_an_unqueued_upload_stays_pending_and_the_sweep_queues_it(
    visit_a, coordinator_a, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.photo_upload(
            visit=visit_a, expression="rest", data=noise_jpeg(41), filename="a.jpg", by=coordinator_a, queue=False
        )
    assert queued == [], "not queued at upload"
    photo.refresh_from_db()
    assert (photo.status, photo.queued_at) == (Photo.Status.PENDING, None)

    services.photos_sweep()

    assert queued == [photo.pk], "the sweep queues what its uploader never scored"


def test_a_queued_upload_is_queued_on_commit(visit_a, coordinator_a, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(services, "_enqueue", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.photo_upload(
            visit=visit_a, expression="rest", data=noise_jpeg(42), filename="b.jpg", by=coordinator_a
        )
    assert queued == [photo.pk]
