"""Dashboard, patient list and patient page cost the same number of queries at 3 and at 30 patients.

Ten times the patients is enough to show a query per row (it would add 27 at least); more only
makes the test slow.
"""

from datetime import timedelta
from decimal import Decimal

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


def _populate(study, site, coordinator, data_manager, bont_arm, count):
    week2 = study.schedule.get(code="week-2")
    patients = []
    for i in range(count):
        patient = make_patient(site, coordinator, enrolled_days_ago=20 + i % 30, mrn=f"QC-{site.code}-{i}-{count}")
        services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Query test")
        record_treatment(
            patient,
            coordinator,
            lot_number="L1",
            injector="Dr Q",
            points=[
                {"muscle": "depressor_anguli_oris", "side": "right", "units": "4"},
                {"muscle": "mentalis", "side": "midline", "units": "2"},
            ],
        )
        if i % 3 == 0:
            services.visit_record(
                patient=patient,
                scheduled_visit=week2,
                by=coordinator,
                date_performed=patient.enrollment_date + timedelta(days=week2.day_offset),
            )
        patients.append(patient)
    return patients


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator"])
def test_pages_use_a_fixed_number_of_queries(
    request, persona, login, study, site_a, coordinator_a, data_manager, bont_arm
):
    user = request.getfixturevalue(persona)
    client = login(user)
    first = _populate(study, site_a, coordinator_a, data_manager, bont_arm, 3)[0]
    urls = ["/", "/patients/", f"/patients/{first.pk}/"]
    few = {url: _queries(client, url) for url in urls}

    _populate(study, site_a, coordinator_a, data_manager, bont_arm, 27)
    # The first patient also gets more visits and sessions, so the patient page grows too.
    services.injection_session_record(
        patient=first,
        by=coordinator_a,
        date=first.enrollment_date,
        product="incobotulinumtoxinA",
        lot_number="L2",
        diluent_ml_per_100_units=Decimal("2"),
        injector="Dr Q",
        points=[{"muscle": "risorius", "side": "left", "units": "1"}] * 3,
    )
    many = {url: _queries(client, url) for url in urls}
    assert many == few
