"""The data manager's admin pages cost the same number of queries however large the study grows.

A drop-down whose options follow foreign keys (an injection session's visit: patient and
scheduled visit) costs queries per option; a changelist column that follows one costs them per row.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients import services
from tests.conftest import make_patient, record_treatment


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def _treated_patient(site, coordinator, data_manager, arm, number):
    patient = make_patient(site, coordinator, enrolled_days_ago=40, mrn=f"ADM-{number}")
    services.patient_assign_arm_externally(patient=patient, arm=arm, by=data_manager, reason="Admin query test")
    visit, session = record_treatment(patient, coordinator)
    services.adverse_event_record(
        patient=patient,
        by=coordinator,
        visit=visit,
        onset_date=visit.date_performed,
        term="headache",
        severity="mild",
        relatedness="unlikely",
        action_taken="none",
        outcome="recovering",
    )
    return patient, visit, session


def _grow(study, site, coordinator, data_manager, arm, patient, count):
    """More visits for the patient (follow-ups in their windows) and more treated patients."""
    for code in ("week-2", "week-4"):
        scheduled = study.schedule.get(code=code)
        services.visit_record(
            patient=patient,
            scheduled_visit=scheduled,
            by=coordinator,
            date_performed=patient.enrollment_date + timedelta(days=scheduled.day_offset),
        )
    for number in range(count):
        _treated_patient(site, coordinator, data_manager, arm, f"more-{number}")


@pytest.mark.parametrize("user", ["data_manager", "superuser"])
def test_admin_pages_use_a_fixed_number_of_queries(
    request, client, django_user_model, study, site_a, coordinator_a, data_manager, bont_arm, user
):
    if user == "superuser":
        client.force_login(django_user_model.objects.create_superuser("root", password="root-password-123"))
    else:
        client.force_login(data_manager)
    patient, visit, session = _treated_patient(site_a, coordinator_a, data_manager, bont_arm, "first")
    urls = [
        f"/admin/patients/patient/{patient.pk}/change/",
        f"/admin/patients/visit/{visit.pk}/change/",
        f"/admin/patients/injectionsession/{session.pk}/change/",
        "/admin/patients/patient/",
        "/admin/patients/visit/",
        "/admin/patients/injectionsession/",
        "/admin/patients/studyrole/",
        "/admin/patients/randomizationslot/",
        f"/admin/patients/adverseevent/{patient.adverse_events.get().pk}/change/",
        "/admin/patients/adverseevent/",
    ]
    for url in urls:  # the first visit fills per-process caches (content types), not a cost per row
        client.get(url)
    few = {url: _queries(client, url) for url in urls}

    _grow(study, site_a, coordinator_a, data_manager, bont_arm, patient, count=5)
    many = {url: _queries(client, url) for url in urls}

    assert many == few
