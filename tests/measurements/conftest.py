"""Photos of a visit: a private storage directory per test, visits to attach photos to.

Nothing here scores a photo: on_commit callbacks do not fire inside a test's
transaction, so an upload stays `pending` unless a test scores it on purpose
(photo_score, or django_capture_on_commit_callbacks(execute=True) with Celery eager).
"""

import pytest

from measurements import services
from measurements.models import Photo
from patients import services as patient_services
from tests.conftest import make_patient

from .files import noise_jpeg


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    # FileSystemStorage re-reads MEDIA_ROOT on setting_changed, so default_storage follows.
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def record_baseline(patient, by):
    return patient_services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(code="baseline"),
        by=by,
        date_performed=patient.enrollment_date,
    )


@pytest.fixture
def visit_a(patient_a, coordinator_a):
    """The recorded baseline visit of an enrolled patient at site A."""
    return record_baseline(patient_a, coordinator_a)


@pytest.fixture
def visit_b(patient_b, coordinator_b):
    return record_baseline(patient_b, coordinator_b)


@pytest.fixture
def add_photo(visit_a, coordinator_a):
    """Upload a photo through the service (not scored); distinct bytes unless `data` is given."""
    counter = iter(range(1_000_000, 2_000_000))  # seeds no test uses by hand

    def _add(data=None, *, expression="rest", visit=None, by=None, filename="photo.jpg"):
        return services.photo_upload(
            visit=visit or visit_a,
            expression=expression,
            data=data if data is not None else noise_jpeg(seed=next(counter)),
            filename=filename,
            by=by or coordinator_a,
        )

    return _add


@pytest.fixture
def another_patient_a(site_a, coordinator_a):
    return make_patient(site_a, coordinator_a)


def as_if_the_worker_finished(photo):
    """Do what the worker does after scoring, without running the engine: a photo that failed
    scoring (no face in test noise) still gets its preview and thumbnail."""
    Photo.objects.filter(pk=photo.pk, status=Photo.Status.PENDING).update(
        status=Photo.Status.FAILED, failure_code="no_face", failure_reason="No face found (test photo)."
    )
    photo.refresh_from_db()
    return services.photo_derive_images(photo_id=photo.pk)
