"""A refused upload comes back on the patient page, beside the form, naming each file and its fate."""

import pytest

from measurements.models import Photo
from measurements.views import _fate

from .files import noise_jpeg, upload


def _post(client, visit, files):
    return client.post(f"/patients/{visit.patient_id}/visits/{visit.pk}/photos/", files)


def test_partly_refused_upload_shows_each_file_on_the_patient_page(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    response = _post(
        client,
        visit_a,
        {"photo_rest": upload("rest.jpg", noise_jpeg(11)), "photo_pucker": upload("notes.jpg", b"not an image")},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'class="patient-header' in page  # the patient page, not a bare one
    report = page[page.index('id="upload-report"') : page.index("</div>", page.index('id="upload-report"'))]
    assert "Rest: “rest.jpg” saved" in report
    assert "Pucker (“ooo”): “notes.jpg” not saved: “notes.jpg” is not a JPEG, PNG, WebP or HEIC photo." in report
    assert "already uploaded above" not in page
    assert Photo.objects.get().original_filename == "rest.jpg"
    assert f'id="photos-{visit_a.pk}"' in page


def test_a_duplicate_links_to_the_photo_already_there(client, coordinator_a, patient_a, visit_a, add_photo):
    data = noise_jpeg(12)
    first = add_photo(data, expression="rest")
    client.force_login(coordinator_a)
    page = _post(client, visit_a, {"photo_smile_open": upload("again.jpg", data)}).content.decode()
    assert "“again.jpg” not saved: This exact file was already uploaded" in page
    assert f'href="/photos/{first.pk}/">See the existing photo' in page


def test_an_empty_submission_asks_for_a_photo_on_the_patient_page(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    response = _post(client, visit_a, {})
    assert response.status_code == 400
    assert "Choose at least one photo." in response.content.decode()
    assert 'class="patient-header' in response.content.decode()


def test_the_upload_url_itself_leads_back_to_the_patient_page(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    response = client.get(f"/patients/{patient_a.pk}/visits/{visit_a.pk}/photos/")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient_a.pk}/#photos-{visit_a.pk}"


@pytest.mark.parametrize(
    ("status", "queued", "said"),
    [
        (Photo.Status.SCORED, True, "saved and scored."),
        (Photo.Status.PENDING, True, "saved; scoring has started."),
        (Photo.Status.PENDING, False, "saved; it will be scored as soon as the scoring service is reachable."),
    ],
)
def test_what_is_said_of_a_saved_photo_is_true(add_photo, status, queued, said):
    from django.utils import timezone

    photo = add_photo()
    Photo.objects.filter(pk=photo.pk).update(status=status, queued_at=timezone.now() if queued else None)
    assert _fate(photo) == said


def test_a_photo_that_failed_in_process_says_why(add_photo):
    photo = add_photo()
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.FAILED, failure_reason="No face was found.")
    assert _fate(photo) == "saved, but it failed a quality check: No face was found."
