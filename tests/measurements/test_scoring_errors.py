"""When the scoring service gives up on a photo, a data manager is told for real and can retry it.

The photo is listed on the data manager's dashboard with its error and a "Retry scoring" button;
the retry puts it back in the queue with a fresh count of attempts, and the history records who
retried it and the error. The coordinator is told the truth: no need to upload it again.
"""

import pytest

from measurements import engine, services
from measurements.models import Photo
from patients import services as patient_services
from patients.models import StudyRole
from tests.conftest import _persona


@pytest.fixture
def gave_up(add_photo, monkeypatch):
    """A photo that crashed the scoring task until the sweep gave up, as a storage outage or a bug would."""
    photo = add_photo()

    def crash(*args, **kwargs):
        raise OSError("storage unreachable: connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "score_image_bytes", crash)
        for _ in range(services.MAX_ATTEMPTS + 1):
            services.photos_sweep()
            Photo.objects.filter(pk=photo.pk, status=Photo.Status.PENDING).update(queued_at=None)
    photo.refresh_from_db()
    assert (photo.status, photo.failure_code) == (Photo.Status.FAILED, Photo.SCORING_ERROR)
    return photo


def test_the_coordinator_is_told_the_truth(gave_up):
    assert "notified" not in gave_up.failure_reason
    assert "upload" in gave_up.failure_reason and "no need to upload it again" in gave_up.failure_reason
    assert "data manager's dashboard" in gave_up.failure_reason


def test_the_error_is_kept(gave_up):
    assert "storage unreachable: connection refused" in gave_up.last_error


def test_the_data_managers_dashboard_lists_the_photo_with_its_error_and_a_retry_button(client, data_manager, gave_up):
    client.force_login(data_manager)

    page = client.get("/").content.decode()

    assert "Photos the scoring service could not score" in page
    assert f'href="/photos/{gave_up.pk}/"' in page
    assert "storage unreachable: connection refused" in page
    assert f'action="/photos/{gave_up.pk}/retry-scoring/"' in page
    assert "Retry scoring" in page


def test_coordinators_and_investigators_do_not_get_the_list(client, coordinator_a, investigator, gave_up):
    for user in (coordinator_a, investigator):
        client.force_login(user)
        assert "Retry scoring" not in client.get("/").content.decode()


def test_retry_requeues_the_photo_scores_it_and_is_audited(
    client, data_manager, gave_up, django_capture_on_commit_callbacks
):
    client.force_login(data_manager)

    with django_capture_on_commit_callbacks(execute=True):  # tasks in-process: the retry really scores
        response = client.post(f"/photos/{gave_up.pk}/retry-scoring/", follow=True)

    assert response.status_code == 200
    assert "is back in the scoring queue" in response.content.decode()
    gave_up.refresh_from_db()
    # Test noise has no face: scored, and failed the quality gate, not the service.
    assert gave_up.status == Photo.Status.FAILED
    assert gave_up.failure_code != Photo.SCORING_ERROR
    assert gave_up.attempts == 1
    assert gave_up.scores.count() == 1
    retried = gave_up.history.filter(history_change_reason__startswith="Scoring retried").get()
    assert retried.history_user == data_manager
    assert "storage unreachable" in retried.last_error
    assert retried.status == Photo.Status.PENDING
    assert "Photos the scoring service could not score" not in client.get("/").content.decode()


def test_only_the_studys_data_managers_may_retry(client, coordinator_a, investigator, gave_up):
    for user in (coordinator_a, investigator):
        client.force_login(user)
        assert client.post(f"/photos/{gave_up.pk}/retry-scoring/").status_code == 403
    gave_up.refresh_from_db()
    assert gave_up.status == Photo.Status.FAILED


def test_a_data_manager_of_another_study_cannot_see_the_photo(client, gave_up):
    other = patient_services.study_set_up(code="OTHER-1", title="Other", sites=[("OXF", "Oxford")])
    stranger = _persona(other, "dm_other", StudyRole.Role.DATA_MANAGER, is_staff=True)
    client.force_login(stranger)

    assert client.post(f"/photos/{gave_up.pk}/retry-scoring/").status_code == 404
    assert "Retry scoring" not in client.get("/").content.decode()


def test_a_photo_that_failed_a_quality_check_is_not_retried(client, data_manager, add_photo):
    photo = add_photo()
    services.photo_score(photo_id=photo.pk)  # noise: no face
    client.force_login(data_manager)

    response = client.post(f"/photos/{photo.pk}/retry-scoring/", follow=True)

    assert "Only a photo whose scoring failed with a service error can be retried" in response.content.decode()
    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
