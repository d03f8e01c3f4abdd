"""Voiding is a correction, and a coordinator's corrections follow one rule: a withdrawn patient's
record is closed to them (edits and voids alike), a completed patient's is not. The data manager
corrects a withdrawn patient's record in the admin, with a reason (docs/security.md)."""

import pytest
from django.core.exceptions import ValidationError

from patients import services
from patients.models import InjectionSession, RecordStatus, Visit
from tests.conftest import record_treatment


@pytest.fixture
def treated(patient_a, coordinator_a, data_manager, bont_arm):
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=data_manager, reason="By phone")
    patient_a.refresh_from_db()
    visit, session = record_treatment(patient_a, coordinator_a)
    return patient_a, visit, session


def test_a_withdrawn_patient_s_visit_and_session_cannot_be_voided(treated, coordinator_a):
    patient, visit, session = treated
    services.patient_withdraw(patient=patient, by=coordinator_a, reason="Moved away")
    with pytest.raises(ValidationError, match="withdrawn; ask a data manager"):
        services.visit_void(visit=visit, by=coordinator_a, reason="Wrong patient")
    with pytest.raises(ValidationError, match="withdrawn; ask a data manager"):
        services.injection_session_void(session=session, by=coordinator_a, reason="Wrong patient")
    assert Visit.objects.get(pk=visit.pk).status == RecordStatus.RECORDED
    assert InjectionSession.objects.get(pk=session.pk).status == RecordStatus.RECORDED


def test_the_void_pages_of_a_withdrawn_patient_refuse_and_the_links_are_gone(login, treated, coordinator_a):
    patient, visit, session = treated
    services.patient_withdraw(patient=patient, by=coordinator_a, reason="Moved away")
    client = login(coordinator_a)
    page = client.get(f"/patients/{patient.pk}/").content.decode()
    assert f"/visits/{visit.pk}/void/" not in page
    assert f"/injections/{session.pk}/void/" not in page
    response = client.post(f"/patients/{patient.pk}/visits/{visit.pk}/void/", {"reason": "Wrong patient"})
    assert response.status_code == 200
    assert "withdrawn; ask a data manager" in response.content.decode()
    assert Visit.objects.get(pk=visit.pk).status == RecordStatus.RECORDED


def test_a_completed_patient_s_records_can_still_be_corrected_and_voided(treated, coordinator_a):
    patient, visit, session = treated
    services.patient_complete(patient=patient, by=coordinator_a)
    services.injection_session_void(session=session, by=coordinator_a, reason="Entered twice")
    services.visit_void(visit=visit, by=coordinator_a, reason="Entered for the wrong patient")
    assert Visit.objects.get(pk=visit.pk).void_reason == "Entered for the wrong patient"
