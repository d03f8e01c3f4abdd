"""Patients and visits over REST: the browser's access rules, identifiers only where the pages show them."""

import pytest

from patients import services
from patients.services.common import REASON_REQUIRED
from tests.api.conftest import subjects_url


def patients_url(study):
    return f"/api/v1/studies/{study.code}/patients/"


def test_coordinator_lists_own_site_with_identifiers(login, coordinator_a, study, patient_a, patient_b):
    rows = login(coordinator_a).get(patients_url(study)).json()["results"]
    assert [r["study_code"] for r in rows] == [patient_a.study_code]
    assert rows[0]["identifiers"]["full_name"] == "Ada Example"


def test_coordinator_cannot_reach_another_sites_patient(coordinator_a, study, patient_b, session_client):
    client = session_client(coordinator_a)
    assert client.get(f"{patients_url(study)}{patient_b.pk}/").status_code == 404


def test_investigator_reads_every_site_without_identifiers(login, investigator, study, patient_a, patient_b):
    rows = login(investigator).get(patients_url(study)).json()["results"]
    assert len(rows) == 2
    assert all(r["identifiers"] is None for r in rows)
    assert b"Ada Example" not in login(investigator).get(f"{patients_url(study)}{patient_a.pk}/").content


def test_api_client_token_cannot_read_records(api_client_token, token_client, study, patient_a):
    client = token_client(api_client_token)
    assert client.get(patients_url(study)).status_code == 403
    assert client.get(f"{patients_url(study)}{patient_a.pk}/").status_code == 403
    assert client.get(subjects_url(study)).status_code == 200  # its dataset, still


def test_investigator_cannot_write(login, investigator, study, patient_a):
    response = login(investigator).post(patients_url(study), {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_filters_by_site_and_status(login, investigator, study, patient_a, patient_b):
    client = login(investigator)
    assert [r["site"] for r in client.get(patients_url(study), {"site": "MAN"}).json()["results"]] == ["MAN"]
    assert client.get(patients_url(study), {"status": "withdrawn"}).json()["results"] == []
    bad = client.get(patients_url(study), {"status": "lost"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_reads_carry_an_etag_and_answer_304(login, investigator, study, patient_a):
    client = login(investigator)
    url = f"{patients_url(study)}{patient_a.pk}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    patient_a.months_since_onset = 13
    patient_a.save()
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200


def visits_url(study, patient):
    return f"{patients_url(study)}{patient.pk}/visits/"


def test_coordinator_records_a_visit_through_the_service(coordinator_a, study, patient_a, session_client):
    client = session_client(coordinator_a)
    body = {"scheduled_visit": "baseline", "date_performed": patient_a.enrollment_date.isoformat(), "notes": "ok"}
    response = client.post(visits_url(study, patient_a), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["scheduled_visit"] == "baseline"
    visit = patient_a.visits.get()
    record = visit.history.get()
    assert (record.history_user, record.history_change_reason) == (coordinator_a, "Recorded")


def test_visit_errors_are_the_forms_messages(coordinator_a, study, patient_a, session_client):
    client = session_client(coordinator_a)
    follow_up = {"scheduled_visit": "week-2", "date_performed": patient_a.enrollment_date.isoformat()}
    response = client.post(visits_url(study, patient_a), follow_up, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["scheduled_visit"] == ["Record the baseline visit before any follow-up."]
    missing = client.post(visits_url(study, patient_a), {"scheduled_visit": "baseline"}, format="json")
    assert missing.json()["error"]["fields"] == {"date_performed": ["This field is required."]}
    assert not patient_a.visits.exists()


def test_the_old_adverse_event_text_is_refused_not_dropped(coordinator_a, study, patient_a, session_client):
    # Adverse events are records of their own; a script sending the visit's old free-text field is told so.
    client = session_client(coordinator_a)
    body = {"scheduled_visit": "baseline", "date_performed": patient_a.enrollment_date.isoformat(),
            "adverse_events": "Mild ptosis"}  # fmt: skip
    response = client.post(visits_url(study, patient_a), body, format="json")
    assert response.status_code == 400
    assert "record each one on the patient's page" in response.json()["error"]["fields"]["adverse_events"][0]
    assert not patient_a.visits.exists()
    visit = client.post(visits_url(study, patient_a), {**body, "adverse_events": ""}, format="json")
    assert visit.status_code == 400  # present at all, even empty: the field is gone
    del body["adverse_events"]
    created = client.post(visits_url(study, patient_a), body, format="json").json()
    assert "adverse_events" not in created
    url = f"{visits_url(study, patient_a)}{created['id']}/"
    patched = client.patch(url, {"adverse_events": "Mild ptosis", "reason": "Late entry"}, format="json")
    assert patched.status_code == 400 and patient_a.visits.get().history.count() == 1


def test_coordinator_cannot_record_at_another_site(coordinator_a, study, patient_b, session_client):
    client = session_client(coordinator_a)
    body = {"scheduled_visit": "baseline", "date_performed": patient_b.enrollment_date.isoformat()}
    assert client.post(visits_url(study, patient_b), body, format="json").status_code == 404


def test_investigator_cannot_write_over_the_api(investigator, study, patient_a, session_client):
    client = session_client(investigator)
    body = {"scheduled_visit": "baseline", "date_performed": patient_a.enrollment_date.isoformat()}
    assert client.post(visits_url(study, patient_a), body, format="json").status_code == 403
    assert not patient_a.visits.exists()


@pytest.fixture
def baseline(patient_a, coordinator_a, study):
    return services.visit_record(
        patient=patient_a,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )


def test_correction_needs_a_reason_and_is_audited(coordinator_a, study, patient_a, baseline, session_client):
    client = session_client(coordinator_a)
    url = f"{visits_url(study, patient_a)}{baseline.pk}/"
    refused = client.patch(url, {"notes": "late entry"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"reason": [REASON_REQUIRED]}  # the page's form's message
    response = client.patch(url, {"notes": "late entry", "reason": "Transcription"}, format="json")
    assert response.status_code == 200 and response.json()["notes"] == "late entry"
    record = baseline.history.latest("history_date")
    assert (record.history_user, record.history_change_reason, record.notes) == (
        coordinator_a,
        "Transcription",
        "late entry",
    )


def test_void_keeps_the_visit_with_its_reason(coordinator_a, study, patient_a, baseline, session_client):
    client = session_client(coordinator_a)
    url = f"{visits_url(study, patient_a)}{baseline.pk}/void/"
    assert client.post(url, {}, format="json").status_code == 400
    assert client.post(url, {"reason": "Wrong patient"}, format="json").json()["status"] == "voided"
    baseline.refresh_from_db()
    assert (baseline.status, baseline.void_reason) == ("voided", "Wrong patient")


def test_coordinator_cannot_correct_another_sites_visit(coordinator_b, study, patient_a, baseline, session_client):
    client = session_client(coordinator_b)
    url = f"{visits_url(study, patient_a)}{baseline.pk}/"
    assert client.patch(url, {"notes": "x", "reason": "y"}, format="json").status_code == 404


def test_a_void_without_a_reason_gets_the_forms_message(coordinator_a, study, patient_a, baseline, session_client):
    from patients.services.common import REASON_REQUIRED

    client = session_client(coordinator_a)
    url = f"{visits_url(study, patient_a)}{baseline.pk}/void/"
    for body in ({}, {"reason": ""}):
        response = client.post(url, body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["fields"]["reason"] == [REASON_REQUIRED]
    baseline.refresh_from_db()
    assert baseline.status == "recorded", "nothing voided"
