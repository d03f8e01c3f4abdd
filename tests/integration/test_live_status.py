"""The patient page follows scoring live: a real worker scores, the open page updates by itself."""

import pytest
from playwright.sync_api import expect

from patients import services as patient_services
from tests.conftest import PASSWORD, make_patient
from tests.imaging import astronaut_face, to_jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_open_patient_page_shows_the_score_when_the_worker_finishes(
    live_server,
    page,
    worker_factory,
    site_a,
    coordinator_a,
    study,
    tmp_path,
):
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=0)
    patient_services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
    )
    photo_file = tmp_path / "rest.jpg"
    photo_file.write_bytes(to_jpeg_bytes(astronaut_face()))

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(coordinator_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.locator("#photos form.photo-upload input[name=photo_rest]").set_input_files(photo_file)
    page.locator("#photos form.photo-upload").get_by_role("button", name="Upload").click()

    # No worker yet: the photo waits in the queue and the page says so.
    expect(page.locator("#photos .badge-pending")).to_have_text("Queued for scoring")

    worker_factory()
    # Nobody touches the page: its script polls the status and shows the result.
    expect(page.locator("#photos .badge-scored")).to_be_visible(timeout=120_000)
    expect(page.locator("#photos").get_by_text("Commissure height deviation")).to_be_visible()
