"""Completing the study from the patient page: a confirmed, audited status change that closes the record."""

from patients import services
from patients.models import Patient


def test_coordinator_completes_an_enrolled_patient_from_the_patient_page(login, coordinator_a, patient_a):
    client = login(coordinator_a)
    url = f"/patients/{patient_a.pk}/complete/"
    assert url in client.get(f"/patients/{patient_a.pk}/").content.decode()

    response = client.post(url, {"confirm": "on"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/patients/{patient_a.pk}/"
    assert f"{patient_a.study_code} completed the study." in response.content.decode()
    patient_a.refresh_from_db()
    assert patient_a.status == Patient.Status.COMPLETED
    latest = patient_a.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Completed the study")
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert url not in page
    assert f"/patients/{patient_a.pk}/visits/new/" not in page


def test_completion_needs_the_confirmation_and_saves_nothing_without_it(login, coordinator_a, patient_a):
    client = login(coordinator_a)
    rows = patient_a.history.count()

    response = client.post(f"/patients/{patient_a.pk}/complete/", {})

    assert response.status_code == 200
    assert "Tick the box to confirm that the patient has finished the study." in response.content.decode()
    patient_a.refresh_from_db()
    assert (patient_a.status, patient_a.history.count()) == (Patient.Status.ENROLLED, rows)


def test_the_completion_page_names_the_visits_not_recorded(login, coordinator_a, patient_a):
    services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    missing = [s.name for s in patient_a.study.schedule.exclude(day_offset=0)]

    page = login(coordinator_a).get(f"/patients/{patient_a.pk}/complete/").content.decode()

    sentence = page.split("Not recorded: ")[1].split(".")[0]
    assert sentence == ", ".join(missing)


def test_only_an_enrolled_patient_completes(login, coordinator_a, patient_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved abroad")
    client = login(coordinator_a)
    assert f"/patients/{patient_a.pk}/complete/" not in client.get(f"/patients/{patient_a.pk}/").content.decode()

    response = client.post(f"/patients/{patient_a.pk}/complete/", {"confirm": "on"})

    assert response.status_code == 200
    assert (
        f"Only an enrolled patient can complete the study; {patient_a.study_code} is withdrawn."
        in response.content.decode()
    )
    patient_a.refresh_from_db()
    assert patient_a.status == Patient.Status.WITHDRAWN
