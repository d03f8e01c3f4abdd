"""A coordinator's photo flow in a real browser: upload a visit's photos, see them scored, replace a failed one."""

import pytest
from playwright.sync_api import expect

from measurements.models import Photo
from patients import services
from tests.conftest import PASSWORD, make_patient
from tests.imaging import astronaut_face, no_face_image, pull_commissure_down, to_jpeg_bytes

pytestmark = pytest.mark.e2e


@pytest.fixture
def files(tmp_path):
    face = astronaut_face()
    paths = {
        "rest": tmp_path / "rest.jpg",
        "smile": tmp_path / "smile_open.jpg",
        "no_face": tmp_path / "pucker.jpg",
        "text": tmp_path / "notes.jpg",
    }
    paths["rest"].write_bytes(to_jpeg_bytes(face))
    paths["smile"].write_bytes(to_jpeg_bytes(pull_commissure_down(face, side="left", mm=3)))
    paths["no_face"].write_bytes(to_jpeg_bytes(no_face_image()))
    paths["text"].write_bytes(b"Patient notes, saved with the wrong extension.")
    return paths


def test_coordinator_uploads_photos_and_sees_them_scored(
    live_server, page, screenshot, coordinator_a, site_a, study, files
):
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=0)
    services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(coordinator_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    photos = page.locator("#photos")
    expect(photos.get_by_text("Upload photos for Baseline")).to_be_visible()
    form = photos.locator("form.photo-upload")
    form.locator("input[name=photo_rest]").set_input_files(files["rest"])
    form.locator("input[name=photo_smile_open]").set_input_files(files["smile"])
    form.locator("input[name=photo_pucker]").set_input_files(files["no_face"])
    form.locator("input[name=photo_lower_lip_depression]").set_input_files(files["text"])
    form.get_by_role("button", name="Upload").click()

    # The wrong file is refused on the patient page, beside the form; the three photos were saved all the same.
    report = page.locator("#upload-report")
    expect(report).to_contain_text("“notes.jpg” not saved: “notes.jpg” is not a JPEG, PNG, WebP or HEIC photo.")
    expect(report).to_contain_text("Rest: “rest.jpg” saved and scored.")  # scored in-process: said as it is
    expect(report).to_contain_text("“pucker.jpg” saved, but it failed a quality check")
    expect(page.locator(".patient-header")).to_be_visible()
    screenshot("01-upload-with-error")
    assert Photo.objects.filter(visit__patient=patient).count() == 3

    photos = page.locator("#photos")
    expect(photos.locator(".badge-scored")).to_have_count(2)
    expect(photos.locator(".badge-failed")).to_have_count(1)
    expect(photos.locator(".photo-slot .failure", has_text="No face was found")).to_be_visible()
    expect(photos.get_by_text("Commissure height deviation")).to_have_count(2)
    photos.scroll_into_view_if_needed()
    screenshot("02-patient-photos")

    # The smile photo's page: the overlay loads and the table shows the measurements.
    smile = Photo.objects.get(visit__patient=patient, expression="smile_open")
    page.goto(f"{live_server.url}/photos/{smile.pk}/")
    overlay = page.locator("img.overlay")
    expect(overlay).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=overlay.element_handle())
    expect(page.get_by_role("rowheader", name="Commissure height (mm)")).to_be_visible()
    screenshot("03-photo-detail")

    # Replace the failed photo with a retake; the old one stays in the record.
    failed = Photo.objects.get(visit__patient=patient, expression="pucker")
    page.goto(f"{live_server.url}/photos/{failed.pk}/")
    expect(page.get_by_text("Quality check failed")).to_be_visible()
    retake = files["rest"].with_name("retake.jpg")
    retake.write_bytes(to_jpeg_bytes(pull_commissure_down(astronaut_face(), side="right", mm=1)))
    page.get_by_label("Retake").set_input_files(retake)
    page.get_by_role("button", name="Upload retake").click()
    expect(page.get_by_text("Retake “retake.jpg” saved and scored.")).to_be_visible()
    expect(page.locator("#photos .badge-scored")).to_have_count(3)
    expect(page.locator("#photos").get_by_text("1 earlier photo kept")).to_be_visible()
    failed.refresh_from_db()
    assert not failed.is_current and failed.replaced_by is not None


def test_an_empty_file_beside_a_good_photo_costs_the_photo_nothing(
    live_server, page, coordinator_a, site_a, study, files, tmp_path
):
    """Once an empty file discarded the good photo beside it; and the refusal page sat at .../photos/,
    scrolled to the top, where a reload sent the files again."""
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=0)
    services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
    )
    empty = tmp_path / "brow_raise.jpg"
    empty.write_bytes(b"")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(coordinator_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    form = page.locator("#photos form.photo-upload")
    form.locator("input[name=photo_brow_raise]").set_input_files(empty)
    form.locator("input[name=photo_rest]").set_input_files(files["rest"])
    form.get_by_role("button", name="Upload").click()

    report = page.locator("#upload-report")
    expect(report).to_contain_text("Upload for Baseline: 1 stored, 1 refused.")
    expect(report).to_contain_text("Rest: “rest.jpg” saved")
    expect(report).to_contain_text("Brow raise: “brow_raise.jpg” not saved: “brow_raise.jpg” is empty (0 bytes).")
    expect(report).to_be_in_viewport()  # the page lands at the report, not at its top
    assert page.url.startswith(f"{live_server.url}/patients/{patient.pk}/?upload=")
    assert page.url.endswith("#upload-report")
    assert Photo.objects.filter(visit__patient=patient).count() == 1

    page.reload()  # a GET of the patient page: nothing is sent again, the report is still there
    expect(page.locator("#upload-report")).to_contain_text("1 stored, 1 refused")
    assert Photo.objects.filter(visit__patient=patient).count() == 1
    assert Photo.objects.get(visit__patient=patient).expression == "rest"
