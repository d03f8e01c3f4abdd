"""The live scoring status stops polling after ten minutes, so that a patient page left open on a
shared workstation lets the session idle out (SESSION_IDLE_MINUTES)."""

import pytest

from measurements import services
from measurements.models import Photo
from tests.conftest import PASSWORD, make_patient
from tests.measurements.conftest import record_baseline
from tests.measurements.files import noise_jpeg

pytestmark = pytest.mark.e2e


def test_status_polling_stops_after_ten_minutes(live_server, page, coordinator_a, site_a):
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=0)
    visit = record_baseline(patient, coordinator_a)
    photo = services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(1), filename="r.jpg", by=coordinator_a
    )
    # Stuck in the queue (a worker that is down): the page would poll for ever.
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING, failure_code="", failure_reason="")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if "/photos/status/" in request.url else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(coordinator_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.clock.install()
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.clock.run_for(1600)
    page.wait_for_timeout(500)  # the real fetch answers; the next poll is scheduled 2 s on
    assert len(polls) == 1, "the page polls while a photo is waiting"

    page.clock.fast_forward("11:00")
    page.clock.run_for(10_000)
    page.wait_for_timeout(500)

    assert len(polls) == 1, f"still polling after ten minutes: {len(polls)} polls"
