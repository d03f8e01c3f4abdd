"""The coordinator's forms show every problem after one save: the form's own checks and the
services' rules together (issue 21, item 10), and no injection form for a control-arm patient."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patients import services
from patients.models import InjectionSession, Patient
from tests.conftest import make_patient, record_treatment

pytestmark = pytest.mark.django_db


def _assigned(patient, arm, by):
    services.patient_assign_arm_externally(patient=patient, arm=arm, by=by, reason="Test set-up")
    patient.refresh_from_db()
    return patient


@pytest.fixture
def bont_patient(site_a, coordinator_a, bont_arm, data_manager):
    return _assigned(make_patient(site_a, coordinator_a), bont_arm, data_manager)


@pytest.fixture
def control_patient(site_a, coordinator_a, control_arm, data_manager):
    return _assigned(make_patient(site_a, coordinator_a), control_arm, data_manager)


def test_registration_shows_field_and_service_errors_in_one_round(login, coordinator_a, site_a):
    existing = make_patient(site_a, coordinator_a, mrn="MRN-77")
    today = timezone.localdate()
    response = login(coordinator_a).post(
        "/patients/new/",
        {
            "site": site_a.pk,
            # sex missing: the form's own error
            "affected_side": "left",
            "aetiology": "bells_palsy",
            "months_since_onset": "12",
            "baseline_house_brackmann": "3",
            "full_name": "Grace Hopper",
            "date_of_birth": "1980-01-01",
            "medical_record_number": "mrn-77",  # a duplicate: the service's rule
            "consent_date": (today + timedelta(days=2)).isoformat(),  # in the future: the service's rule
            "enrollment_date": (today + timedelta(days=3)).isoformat(),
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "sex" in errors
    assert f"already registered at this site as {existing}" in " ".join(errors["medical_record_number"])
    assert "in the future" in " ".join(errors["consent_date"])
    assert "in the future" in " ".join(errors["enrollment_date"])
    assert Patient.objects.count() == 1


def _injection_post(*rows, **fields):
    data = {
        "date": timezone.localdate().isoformat(),
        "product": "onabotulinumtoxinA",
        "lot_number": "C1",
        "diluent_ml_per_100_units": "2.5",
        "injector": "Dr Test",
        "points-TOTAL_FORMS": str(len(rows)),
        "points-INITIAL_FORMS": "0",
        "points-MIN_NUM_FORMS": "0",
        "points-MAX_NUM_FORMS": "60",
    }
    for index, (muscle, side, units) in enumerate(rows):
        data.update({f"points-{index}-muscle": muscle, f"points-{index}-side": side, f"points-{index}-units": units})
    data.update(fields)
    return data


def test_injection_form_shows_lot_negative_dose_and_ceilings_together(login, coordinator_a, bont_patient):
    # The study allows 10 U per point and 50 U per session (tests/conftest.py).
    rows = [("depressor_anguli_oris", "right", "-2"), ("mentalis", "midline", "12")] + [
        ("zygomaticus_major", "left", "9")
    ] * 5
    response = login(coordinator_a).post(
        f"/patients/{bont_patient.pk}/injections/new/", _injection_post(*rows, lot_number="")
    )
    assert response.status_code == 200
    form, formset = response.context["form"], response.context["formset"]
    assert "lot_number" in form.errors
    assert "units" in formset[0].errors  # the negative dose, the form's own check
    assert "above this study's ceiling of 10 U per point" in " ".join(formset[1].errors["units"])
    assert "above this study's ceiling of 50 U per session" in " ".join(form.non_field_errors())
    assert not InjectionSession.objects.exists()


def test_edit_of_a_session_checks_the_ceilings_with_the_form_errors(login, coordinator_a, bont_patient):
    _, session = record_treatment(bont_patient, coordinator_a)
    data = _injection_post(("depressor_anguli_oris", "right", "12"), reason="")
    data["visit"] = session.visit_id
    response = login(coordinator_a).post(f"/patients/{bont_patient.pk}/injections/{session.pk}/edit/", data)
    form, formset = response.context["form"], response.context["formset"]
    assert "reason" in form.errors
    assert "per point" in " ".join(formset[0].errors["units"])


def test_control_arm_patient_is_not_offered_an_injection(login, coordinator_a, control_patient):
    client = login(coordinator_a)
    page = client.get(f"/patients/{control_patient.pk}/").content.decode()
    assert f"/patients/{control_patient.pk}/injections/new/" not in page
    for response in (
        client.get(f"/patients/{control_patient.pk}/injections/new/"),
        client.post(f"/patients/{control_patient.pk}/injections/new/", _injection_post(("mentalis", "midline", "2"))),
    ):
        assert response.status_code == 409
        body = response.content.decode()
        assert "Control arm, which receives no injections" in body
        assert 'name="lot_number"' not in body
    assert not InjectionSession.objects.exists()


def test_injection_form_carries_the_ceilings_for_the_live_warning(login, coordinator_a, bont_patient):
    page = login(coordinator_a).get(f"/patients/{bont_patient.pk}/injections/new/").content.decode()
    assert 'data-max-units-per-point="10"' in page
    assert 'data-max-units-per-session="50"' in page
    assert 'id="points-ceiling-warning"' in page


def test_visit_form_shows_field_errors_and_the_window_rule_together(login, coordinator_a, bont_patient):
    baseline = bont_patient.study.schedule.get(day_offset=0)
    late = bont_patient.enrollment_date + timedelta(days=10)
    response = login(coordinator_a).post(
        f"/patients/{bont_patient.pk}/visits/new/",
        {"scheduled_visit": baseline.pk, "date_performed": late.isoformat(), "sunnybrook_composite": "140"},
    )
    errors = response.context["form"].errors
    assert "sunnybrook_composite" in errors
    assert "Outside the window" in " ".join(errors["date_performed"])


def test_adverse_event_form_shows_field_errors_and_the_events_rules_together(login, coordinator_a, bont_patient):
    response = login(coordinator_a).post(
        f"/patients/{bont_patient.pk}/adverse-events/new/",
        {
            "term": "other",  # named nowhere: the service's rule
            "onset_date": bont_patient.enrollment_date.isoformat(),
            "serious": "on",  # without its criterion: the service's rule
            # severity, relatedness, action and outcome missing: the form's own checks
        },
    )
    errors = response.context["form"].errors
    assert {"term_other", "seriousness_criterion", "severity", "relatedness", "action_taken", "outcome"} <= set(errors)
