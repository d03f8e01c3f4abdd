"""The typed-in Sunnybrook composite takes its whole published range, −15 to 100, and nothing outside it:
through the service (full_clean), the database's check constraint, the page's form and the API."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patients import services
from patients.models import Visit

OUTSIDE_MESSAGES = {
    -16: "Ensure this value is greater than or equal to -15.",
    101: "Ensure this value is less than or equal to 100.",
}


def visits_url(study, patient):
    return f"/api/v1/studies/{study.code}/patients/{patient.pk}/visits/"


def record(patient, by, **fields):
    return services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(code="baseline"),
        by=by,
        date_performed=patient.enrollment_date,
        **fields,
    )


@pytest.mark.parametrize("composite", [-15, 0, 100])
def test_the_service_records_every_composite_in_range(patient_a, coordinator_a, composite):
    visit = record(patient_a, coordinator_a, sunnybrook_composite=composite)
    visit.refresh_from_db()
    assert visit.sunnybrook_composite == composite
    assert visit.history.get().sunnybrook_composite == composite


@pytest.mark.parametrize("composite", [-16, 101])
def test_the_service_refuses_a_composite_outside_and_saves_nothing(patient_a, coordinator_a, composite):
    with pytest.raises(ValidationError) as refusal:
        record(patient_a, coordinator_a, sunnybrook_composite=composite)
    assert refusal.value.message_dict == {"sunnybrook_composite": [OUTSIDE_MESSAGES[composite]]}
    assert not Visit.objects.exists() and not Visit.history.exists()


def test_a_correction_to_minus_15_is_kept_and_to_minus_16_refused(patient_a, coordinator_a):
    visit = record(patient_a, coordinator_a, sunnybrook_composite=40)
    services.visit_update(visit=visit, by=coordinator_a, reason="Transcription", sunnybrook_composite=-15)
    with pytest.raises(ValidationError):
        services.visit_update(visit=visit, by=coordinator_a, reason="Transcription", sunnybrook_composite=-16)
    visit.refresh_from_db()
    assert visit.sunnybrook_composite == -15


def test_the_database_itself_holds_the_range(patient_a, coordinator_a):
    visit = record(patient_a, coordinator_a)
    Visit.objects.filter(pk=visit.pk).update(sunnybrook_composite=-15)
    for outside in (-16, 101):
        with pytest.raises(IntegrityError), transaction.atomic():
            Visit.objects.filter(pk=visit.pk).update(sunnybrook_composite=outside)
    visit.refresh_from_db()
    assert visit.sunnybrook_composite == -15


def test_the_visit_form_accepts_minus_15_and_refuses_outside(patient_a):
    from patients.forms import VisitForm

    field = VisitForm.base_fields["sunnybrook_composite"]
    assert field.clean("-15") == -15 and field.clean("100") == 100
    for outside in ("-16", "101"):
        with pytest.raises(ValidationError):
            field.clean(outside)


@pytest.mark.parametrize("composite", [-15, 100])
def test_the_api_records_the_extremes(coordinator_a, study, patient_a, session_client, composite):
    client = session_client(coordinator_a)
    body = {
        "scheduled_visit": "baseline",
        "date_performed": patient_a.enrollment_date.isoformat(),
        "sunnybrook_composite": composite,
    }
    response = client.post(visits_url(study, patient_a), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["sunnybrook_composite"] == composite
    assert patient_a.visits.get().sunnybrook_composite == composite


@pytest.mark.parametrize("composite", [-16, 101])
def test_the_api_refuses_outside_and_saves_nothing(coordinator_a, study, patient_a, session_client, composite):
    client = session_client(coordinator_a)
    body = {
        "scheduled_visit": "baseline",
        "date_performed": patient_a.enrollment_date.isoformat(),
        "sunnybrook_composite": composite,
    }
    response = client.post(visits_url(study, patient_a), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["sunnybrook_composite"]
    assert not patient_a.visits.exists()


def test_the_api_corrects_to_minus_15_and_refuses_101(coordinator_a, study, patient_a, session_client):
    visit = record(patient_a, coordinator_a, sunnybrook_composite=30)
    client = session_client(coordinator_a)
    url = f"{visits_url(study, patient_a)}{visit.pk}/"
    ok = client.patch(url, {"sunnybrook_composite": -15, "reason": "Regraded from the items"}, format="json")
    assert ok.status_code == 200 and ok.json()["sunnybrook_composite"] == -15
    refused = client.patch(url, {"sunnybrook_composite": 101, "reason": "Typo"}, format="json")
    assert refused.status_code == 400 and "sunnybrook_composite" in refused.json()["error"]["fields"]
    visit.refresh_from_db()
    assert visit.sunnybrook_composite == -15
