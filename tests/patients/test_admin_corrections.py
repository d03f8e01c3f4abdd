"""The data manager's corrections in the admin obey the coordinator's rules: a reason for every
change (inlines included), patients corrected through `patient_update`, nobody un-withdrawn,
a randomized patient's stratum fixed, and no patient added outside `patient_register`."""

from datetime import timedelta
from decimal import Decimal

import pytest

from patients import services
from patients.admin import REASON_REQUIRED
from patients.models import InjectionPoint, Patient, PatientIdentifiers
from tests.conftest import record_treatment
from tests.patients.admin_forms import change_form_data


def _patient_url(patient) -> str:
    return f"/admin/patients/patient/{patient.pk}/change/"


@pytest.fixture
def dm_client(client, data_manager):
    client.force_login(data_manager)
    return client


def _errors(response) -> str:
    """Every error the admin page shows, form, inlines and non-field."""
    assert response.status_code == 200, response.status_code
    parts = [str(response.context["adminform"].form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        parts += [str(inline.formset.non_form_errors()), str(inline.formset.errors)]
    return " ".join(parts)


def test_an_identifier_changed_only_in_its_inline_needs_a_reason(dm_client, patient_a):
    url = _patient_url(patient_a)
    response = dm_client.post(url, change_form_data(dm_client, url, **{"identifiers-0-full_name": "Eve Other"}))
    assert REASON_REQUIRED in _errors(response)
    assert PatientIdentifiers.objects.get(pk=patient_a.pk).full_name == "Ada Example"


def test_the_admin_and_the_coordinator_s_form_refuse_a_missing_reason_in_the_same_words(
    login, dm_client, patient_a, coordinator_a
):
    coordinator = login(coordinator_a)
    form = coordinator.get(f"/patients/{patient_a.pk}/edit/").context["form"]
    data = {**{n: form[n].value() or "" for n in form.fields}, "months_since_onset": "13", "reason": ""}
    page = coordinator.post(f"/patients/{patient_a.pk}/edit/", data)
    assert page.context["form"].errors["reason"] == [REASON_REQUIRED]


def test_an_identifier_changed_with_a_reason_is_saved_through_the_service(dm_client, patient_a, data_manager):
    url = _patient_url(patient_a)
    data = change_form_data(
        dm_client, url, change_reason="Name misspelt at registration", **{"identifiers-0-full_name": "Ada Exemple"}
    )
    assert dm_client.post(url, data).status_code == 302
    identifiers = PatientIdentifiers.objects.get(pk=patient_a.pk)
    assert identifiers.full_name == "Ada Exemple"
    last = identifiers.history.first()
    assert (last.history_user, last.history_change_reason) == (data_manager, "Name misspelt at registration")


def test_a_point_s_units_changed_only_in_the_inline_need_a_reason(dm_client, patient_a, coordinator_a, bont_arm):
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=coordinator_a, reason="Phone")
    _, session = record_treatment(Patient.objects.get(pk=patient_a.pk), coordinator_a)
    url = f"/admin/patients/injectionsession/{session.pk}/change/"
    response = dm_client.post(url, change_form_data(dm_client, url, **{"points-0-units": "5"}))
    assert REASON_REQUIRED in _errors(response)
    assert InjectionPoint.objects.get(session=session).units == Decimal("4")


def test_a_point_added_only_in_the_inline_needs_a_reason(dm_client, patient_a, coordinator_a, bont_arm):
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=coordinator_a, reason="Phone")
    _, session = record_treatment(Patient.objects.get(pk=patient_a.pk), coordinator_a)
    url = f"/admin/patients/injectionsession/{session.pk}/change/"
    data = change_form_data(dm_client, url)
    data.update(
        {
            "points-TOTAL_FORMS": "2",
            "points-1-session": str(session.pk),
            "points-1-muscle": "mentalis",
            "points-1-side": "left",
            "points-1-units": "1",
            "points-1-status": "recorded",
        }
    )
    response = dm_client.post(url, data)
    assert REASON_REQUIRED in _errors(response)
    assert InjectionPoint.objects.filter(session=session).count() == 1


def test_an_enrollment_date_that_recorded_visits_no_longer_fit_is_refused(dm_client, patient_a, coordinator_a):
    services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    url = _patient_url(patient_a)
    moved = patient_a.enrollment_date + timedelta(days=10)
    data = change_form_data(dm_client, url, enrollment_date=str(moved), change_reason="Typo")
    response = dm_client.post(url, data)
    assert "recorded visits no longer fit" in _errors(response)
    assert Patient.objects.get(pk=patient_a.pk).enrollment_date == patient_a.enrollment_date


def test_a_clinical_correction_is_saved_with_its_reason(dm_client, patient_a, data_manager):
    url = _patient_url(patient_a)
    data = change_form_data(dm_client, url, months_since_onset="14", change_reason="Source document says 14")
    assert dm_client.post(url, data).status_code == 302
    patient = Patient.objects.get(pk=patient_a.pk)
    assert patient.months_since_onset == 14
    assert patient.history.first().history_change_reason == "Source document says 14"


def test_a_withdrawn_patient_cannot_be_un_withdrawn(dm_client, patient_a, coordinator_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved abroad")
    url = _patient_url(patient_a)
    data = change_form_data(dm_client, url, status="enrolled", withdrawal_reason="", change_reason="Undo")
    dm_client.post(url, data)
    patient = Patient.objects.get(pk=patient_a.pk)
    assert (patient.status, patient.withdrawal_reason) == (Patient.Status.WITHDRAWN, "Moved abroad")
    assert "status" not in dm_client.get(url).context["adminform"].form.fields


def test_a_withdrawn_patient_s_record_is_still_corrected_by_the_data_manager(dm_client, patient_a, coordinator_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved abroad")
    url = _patient_url(patient_a)
    data = change_form_data(dm_client, url, months_since_onset="15", change_reason="Source document")
    assert dm_client.post(url, data).status_code == 302
    assert Patient.objects.get(pk=patient_a.pk).months_since_onset == 15


def test_a_randomized_patient_s_stratum_fields_arm_study_and_site_are_read_only(
    dm_client, patient_a, coordinator_a, site_b
):
    services.patient_randomize(patient=patient_a, by=coordinator_a)
    url = _patient_url(patient_a)
    page = dm_client.get(url)
    fields = page.context["adminform"].form.fields
    for name in ("baseline_house_brackmann", "site", "study", "arm", "status"):
        assert name not in fields, name
    assert "re-stratification note" in page.content.decode()
    data = change_form_data(dm_client, url, baseline_house_brackmann="6", site=str(site_b.pk), change_reason="Regrade")
    dm_client.post(url, data)
    patient = Patient.objects.get(pk=patient_a.pk)
    assert (patient.baseline_house_brackmann, patient.site_id) == (3, patient_a.site_id)


def test_patients_are_not_added_in_the_admin(dm_client):
    assert dm_client.get("/admin/patients/patient/add/").status_code == 403


def test_a_voided_visit_is_not_restored_in_the_admin(dm_client, patient_a, coordinator_a):
    visit = services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    services.visit_void(visit=visit, by=coordinator_a, reason="Entered twice")
    url = f"/admin/patients/visit/{visit.pk}/change/"
    fields = dm_client.get(url).context["adminform"].form.fields
    assert "status" not in fields and "void_reason" not in fields
    data = change_form_data(dm_client, url, status="recorded", void_reason="", change_reason="Restore")
    dm_client.post(url, data)
    visit.refresh_from_db()
    assert (visit.status, visit.void_reason) == ("voided", "Entered twice")


def test_a_voided_point_is_not_restored_in_the_admin(dm_client, patient_a, coordinator_a, bont_arm):
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=coordinator_a, reason="Phone")
    points = [
        {"muscle": "risorius", "side": "left", "units": "2"},
        {"muscle": "mentalis", "side": "left", "units": "1"},
    ]
    _, session = record_treatment(Patient.objects.get(pk=patient_a.pk), coordinator_a, points=points)
    services.injection_session_update(session=session, by=coordinator_a, reason="One too many", points=points[:1])
    voided = InjectionPoint.objects.get(session=session, status="voided")
    url = f"/admin/patients/injectionsession/{session.pk}/change/"
    data = change_form_data(dm_client, url, change_reason="Restore")
    index = next(k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == str(voided.pk))
    data[f"points-{index}-status"] = "recorded"
    response = dm_client.post(url, data)
    assert "stays voided" in _errors(response)
    assert InjectionPoint.objects.get(pk=voided.pk).status == "voided"
