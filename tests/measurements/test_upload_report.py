"""A refused upload comes back on the patient page, beside the form, naming each file and its fate."""

import re

import pytest

from measurements.models import Photo
from measurements.views import _fate

from .files import noise_jpeg, reported, upload


def _post(client, visit, files):
    return client.post(f"/patients/{visit.patient_id}/visits/{visit.pk}/photos/", files, follow=True)


def _report(page: str) -> str:
    start = page.index('id="upload-report"')
    return page[start : page.index("</div>", start)]


def test_each_file_of_an_upload_is_judged_on_its_own(client, coordinator_a, patient_a, visit_a, add_photo, media_root):
    """An empty file once made the whole form invalid: the good photo beside it was neither stored nor
    mentioned. Now every file is stored or refused by itself, and the report names each one."""
    earlier = add_photo(noise_jpeg(13), expression="rest")
    client.force_login(coordinator_a)
    page = reported(
        _post(
            client,
            visit_a,
            {
                "photo_brow_raise": upload("empty.jpg", b""),
                "photo_pucker": upload("pucker.jpg", noise_jpeg(14)),
                "photo_smile_open": upload("again.jpg", noise_jpeg(13)),
                "photo_smile_closed": upload("notes.jpg", b"Visit notes, saved as .jpg by mistake."),
            },
        )
    )
    report = _report(page)
    pucker = Photo.objects.get(expression="pucker")
    assert pucker.original_filename == "pucker.jpg" and pucker.is_current
    with pucker.original.open("rb") as stored:
        assert stored.read() == noise_jpeg(14)
    assert set(Photo.objects.values_list("pk", flat=True)) == {earlier.pk, pucker.pk}
    assert "Upload for Baseline: 1 stored, 1 duplicate, 2 refused." in report
    assert "Files that passed were stored all the same." in report
    fates = re.findall(r'data-fate="(\w+)"><strong>(\w+)</strong> — ([^:]+): “([^”]+)”', report)
    assert sorted(fates) == sorted(
        [
            ("refused", "Refused", "Brow raise", "empty.jpg"),
            ("stored", "Stored", "Pucker (“ooo”)", "pucker.jpg"),
            ("duplicate", "Duplicate", "Broad smile (teeth showing)", "again.jpg"),
            ("refused", "Refused", "Closed-lip smile", "notes.jpg"),
        ]
    )
    assert "“empty.jpg” not saved: “empty.jpg” is empty (0 bytes)." in report
    assert "“notes.jpg” not saved: “notes.jpg” is not a JPEG, PNG, WebP or HEIC photo." in report
    assert "“again.jpg” not saved: This exact file was already uploaded for" in report
    assert f'href="/photos/{earlier.pk}/">See the existing photo' in report
    assert f'href="/photos/{pucker.pk}/">See the photo' in report


def test_partly_refused_upload_shows_each_file_on_the_patient_page(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    response = _post(
        client,
        visit_a,
        {"photo_rest": upload("rest.jpg", noise_jpeg(11)), "photo_pucker": upload("notes.jpg", b"not an image")},
    )
    page = reported(response)
    assert 'class="patient-header' in page  # the patient page, not a bare one
    report = _report(page)
    assert "Rest: “rest.jpg” saved" in report
    assert "Pucker (“ooo”): “notes.jpg” not saved: “notes.jpg” is not a JPEG, PNG, WebP or HEIC photo." in report
    assert "already uploaded above" not in page
    assert Photo.objects.get().original_filename == "rest.jpg"
    assert f'id="photos-{visit_a.pk}"' in page


def test_the_upload_redirects_so_a_reload_never_resubmits(client, coordinator_a, patient_a, visit_a):
    """POST/redirect/GET: the address after an upload is the patient page at the report; loading it again
    shows the same report and stores nothing more."""
    client.force_login(coordinator_a)
    response = client.post(
        f"/patients/{patient_a.pk}/visits/{visit_a.pk}/photos/",
        {"photo_rest": upload("rest.jpg", noise_jpeg(15)), "photo_pucker": upload("empty.jpg", b"")},
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"/patients/{patient_a.pk}/?upload=") and location.endswith("#upload-report")
    for _ in range(2):  # a reload (the live status script reloads when scoring finishes)
        report = _report(client.get(location).content.decode())
        assert "“rest.jpg” saved" in report and "“empty.jpg” not saved" in report
    assert Photo.objects.count() == 1


def test_a_report_is_shown_only_in_its_own_session_and_for_its_patient(
    client, coordinator_a, patient_a, visit_a, another_patient_a
):
    client.force_login(coordinator_a)
    location = client.post(
        f"/patients/{patient_a.pk}/visits/{visit_a.pk}/photos/", {"photo_rest": upload("empty.jpg", b"")}
    )["Location"]
    key = location.split("upload=")[1].split("#")[0]
    assert 'id="upload-report"' not in client.get(f"/patients/{another_patient_a.pk}/?upload={key}").content.decode()
    client.logout()
    client.force_login(coordinator_a)  # a new session
    assert 'id="upload-report"' not in client.get(location).content.decode()


def test_a_fully_stored_upload_reports_each_file_too(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    page = reported(_post(client, visit_a, {"photo_rest": upload("rest.jpg", noise_jpeg(16))}))
    report = _report(page)
    assert 'role="status"' in page[page.index('id="upload-report"') - 200 : page.index('id="upload-report"')]
    assert "Upload for Baseline: 1 stored." in report and "Rest: “rest.jpg” saved" in report
    assert "form-errors" not in page[page.index('id="upload-report"') - 200 : page.index('id="upload-report"')]


def test_a_duplicate_links_to_the_photo_already_there(client, coordinator_a, patient_a, visit_a, add_photo):
    data = noise_jpeg(12)
    first = add_photo(data, expression="rest")
    client.force_login(coordinator_a)
    page = reported(_post(client, visit_a, {"photo_smile_open": upload("again.jpg", data)}))
    assert "“again.jpg” not saved: This exact file was already uploaded" in page
    assert f'href="/photos/{first.pk}/">See the existing photo' in page


def test_an_empty_submission_asks_for_a_photo_on_the_patient_page(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    page = reported(_post(client, visit_a, {}))
    assert "Choose at least one photo." in page
    assert 'class="patient-header' in page


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
