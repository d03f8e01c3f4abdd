"""The coordinator's pages, through the test client: who may open what, and that each form saves.

URLs are hard-coded on purpose: they are public and pinned.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients import services
from patients.models import InjectionSession, Patient, Visit
from tests.conftest import PASSWORD, make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def randomized_a(patient_a, bont_arm, data_manager):
    """Patient A in the BoNT-A arm, recorded as assigned outside the system (deterministic)."""
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient_a.refresh_from_db()
    return patient_a


def _baseline(patient, by):
    scheduled = patient.study.schedule.get(day_offset=0)
    return services.visit_record(
        patient=patient, scheduled_visit=scheduled, by=by, date_performed=patient.enrollment_date, house_brackmann=3
    )


def _session_post(**overrides):
    data = {
        "visit": "",
        "date": timezone.localdate().isoformat(),
        "product": "onabotulinumtoxinA",
        "product_other": "",
        "lot_number": "C1234A",
        "diluent_ml_per_100_units": "2.5",
        "injector": "Dr Test",
        "notes": "",
        "points-TOTAL_FORMS": "4",
        "points-INITIAL_FORMS": "0",
        "points-MIN_NUM_FORMS": "0",
        "points-MAX_NUM_FORMS": "60",
        "points-0-muscle": "depressor_anguli_oris",
        "points-0-side": "right",
        "points-0-units": "4",
        "points-1-muscle": "depressor_labii_inferioris",
        "points-1-side": "right",
        "points-1-units": "2.5",
        "points-2-muscle": "mentalis",
        "points-2-side": "midline",
        "points-2-units": "2",
    }
    data.update(overrides)
    return data


# --- Who may open what ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, patient_a):
    for url in ("/", "/patients/", f"/patients/{patient_a.pk}/", "/patients/new/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_outsider_and_api_client_get_403_everywhere(login, outsider, api_client_user, patient_a):
    for user in (outsider, api_client_user):
        client = login(user)
        for url in (
            "/",
            "/patients/",
            "/patients/new/",
            f"/patients/{patient_a.pk}/",
            f"/patients/{patient_a.pk}/history/",
        ):
            assert client.get(url).status_code == 403, (user, url)


def test_coordinator_cannot_see_other_site(login, coordinator_b, patient_a):
    client = login(coordinator_b)
    for url in (
        f"/patients/{patient_a.pk}/",
        f"/patients/{patient_a.pk}/history/",
        f"/patients/{patient_a.pk}/edit/",
        f"/patients/{patient_a.pk}/injections/new/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Ada Example" not in response.content.decode()
    assert patient_a.study_code not in client.get("/patients/").content.decode()


WRITE_URLS = (
    "edit/",
    "enroll/",
    "randomize/",
    "withdraw/",
    "complete/",
    "visits/new/",
    "injections/new/",
)


def test_investigator_reads_but_never_writes(login, investigator, patient_a):
    client = login(investigator)
    page = client.get(f"/patients/{patient_a.pk}/")
    assert page.status_code == 200
    assert "Ada Example" not in page.content.decode()
    assert f"/patients/{patient_a.pk}/edit/" not in page.content.decode()
    for suffix in (*WRITE_URLS, "assign-arm/"):
        assert client.get(f"/patients/{patient_a.pk}/{suffix}").status_code == 403, suffix
        assert client.post(f"/patients/{patient_a.pk}/{suffix}", {}).status_code == 403, suffix
    assert client.get("/patients/new/").status_code == 403


def test_data_manager_sees_identifiers_and_writes_only_external_arms(login, data_manager, patient_a, bont_arm):
    client = login(data_manager)
    assert "Ada Example" in client.get(f"/patients/{patient_a.pk}/").content.decode()
    for suffix in WRITE_URLS:
        assert client.get(f"/patients/{patient_a.pk}/{suffix}").status_code == 403, suffix
    response = client.post(
        f"/patients/{patient_a.pk}/assign-arm/", {"arm": bont_arm.pk, "reason": "Allocated by phone"}
    )
    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.arm == bont_arm and patient_a.arm_assignment == Patient.ArmAssignment.EXTERNAL


def test_coordinator_cannot_assign_an_external_arm(login, coordinator_a, patient_a):
    assert login(coordinator_a).get(f"/patients/{patient_a.pk}/assign-arm/").status_code == 403


def test_object_of_another_patient_in_the_url_is_404(login, coordinator_a, site_a, randomized_a):
    other = make_patient(site_a, coordinator_a)
    visit = _baseline(randomized_a, coordinator_a)
    client = login(coordinator_a)
    assert client.get(f"/patients/{other.pk}/visits/{visit.pk}/edit/").status_code == 404
    assert client.get(f"/patients/{other.pk}/visits/{visit.pk}/void/").status_code == 404
    client.post(f"/patients/{randomized_a.pk}/injections/new/", _session_post())
    session = InjectionSession.objects.get(patient=randomized_a)
    assert client.get(f"/patients/{other.pk}/injections/{session.pk}/edit/").status_code == 404


# --- Lists and pages ------------------------------------------------------------------------------


def test_list_shows_names_to_coordinator_only(login, coordinator_a, investigator, patient_a):
    assert "Ada Example" in login(coordinator_a).get("/patients/").content.decode()
    page = login(investigator).get("/patients/").content.decode()
    assert patient_a.study_code in page and "Ada Example" not in page


def test_list_filters_and_paginates(login, coordinator_a, site_a):
    for _ in range(27):
        make_patient(site_a, coordinator_a)
    client = login(coordinator_a)
    first = client.get("/patients/?arm=none&status=enrolled")
    assert first.context["page"].paginator.count == 27
    assert len(first.context["rows"]) == 25
    assert "arm=none" in first.content.decode().split('rel="next"')[0].rsplit("href=", 1)[1]
    second = client.get("/patients/?arm=none&status=enrolled&page=2")
    assert len(second.context["rows"]) == 2
    assert client.get("/patients/?q=LON-003").context["page"].paginator.count == 1
    assert client.get("/patients/?status=withdrawn").context["page"].paginator.count == 0
    assert client.get("/patients/?site=nonsense").status_code == 200


def test_dashboard_counts_and_due_visits(
    login, coordinator_a, investigator, data_manager, bont_arm, patient_a, patient_b
):
    for patient in (patient_a, patient_b):
        services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    page = login(coordinator_a).get("/").content.decode()
    assert patient_a.study_code in page  # baseline missed, linked
    assert patient_b.study_code not in page
    page = login(investigator).get("/").content.decode()
    assert patient_a.study_code in page and patient_b.study_code in page


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_pages_use_a_fixed_number_of_queries(login, coordinator_a, site_a, randomized_a):
    client = login(coordinator_a)
    _baseline(randomized_a, coordinator_a)
    client.post(f"/patients/{randomized_a.pk}/injections/new/", _session_post())
    counts = {url: _count_queries(client, url) for url in ("/", "/patients/", f"/patients/{randomized_a.pk}/")}
    history_count = _count_queries(client, f"/patients/{randomized_a.pk}/history/")
    for _ in range(5):
        make_patient(site_a, coordinator_a)
    client.post(f"/patients/{randomized_a.pk}/injections/new/", _session_post())
    scheduled = randomized_a.study.schedule.get(day_offset=14)
    services.visit_record(
        patient=randomized_a,
        scheduled_visit=scheduled,
        by=coordinator_a,
        date_performed=randomized_a.enrollment_date + timedelta(days=14),
    )
    for url, before in counts.items():
        assert _count_queries(client, url) == before, url
    assert _count_queries(client, f"/patients/{randomized_a.pk}/history/") == history_count


# --- Forms ----------------------------------------------------------------------------------------


def test_coordinator_registers_a_patient(login, coordinator_a, site_a):
    client = login(coordinator_a)
    form = client.get("/patients/new/").content.decode()
    assert f'<option value="{site_a.pk}" selected>' in form
    data = {
        "site": site_a.pk,
        "sex": "male",
        "affected_side": "right",
        "aetiology": "trauma",
        "months_since_onset": "14",
        "baseline_house_brackmann": "4",
        "full_name": "Bob Example",
        "date_of_birth": "1970-03-04",
        "medical_record_number": "MRN-NEW-1",
    }
    response = client.post("/patients/new/", data, follow=True)
    patient = Patient.objects.get(identifiers__medical_record_number="MRN-NEW-1")
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    assert f"{patient.study_code} registered" in response.content.decode()
    assert patient.status == Patient.Status.SCREENING

    again = client.post("/patients/new/", data)
    assert again.status_code == 200
    assert "already registered at this site" in again.content.decode()
    assert 'value="Bob Example"' in again.content.decode()


def test_edit_needs_a_reason(login, coordinator_a, patient_a):
    client = login(coordinator_a)
    url = f"/patients/{patient_a.pk}/edit/"
    form = client.get(url).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(months_since_onset="20", reason="")
    response = client.post(url, data)
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    data["reason"] = "Typo in onset"
    assert client.post(url, data).status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.months_since_onset == 20
    assert patient_a.history.first().history_change_reason == "Typo in onset"


def test_enroll_then_randomize_once(login, coordinator_a, site_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)
    client = login(coordinator_a)
    today = timezone.localdate().isoformat()
    assert (
        client.post(f"/patients/{patient.pk}/enroll/", {"consent_date": today, "enrollment_date": today}).status_code
        == 302
    )
    confirm = client.get(f"/patients/{patient.pk}/randomize/")
    assert "This cannot be undone" in confirm.content.decode()
    response = client.post(f"/patients/{patient.pk}/randomize/", follow=True)
    patient.refresh_from_db()
    assert f"randomized to {patient.arm.name}" in response.content.decode()
    again = client.post(f"/patients/{patient.pk}/randomize/")
    assert again.status_code == 200
    assert "never redone" in again.content.decode()
    assert Patient.objects.get(pk=patient.pk).arm_assigned_at == patient.arm_assigned_at


def test_visit_form_preselects_and_reports_window(login, coordinator_a, randomized_a):
    client = login(coordinator_a)
    baseline = randomized_a.study.schedule.get(day_offset=0)
    form = client.get(f"/patients/{randomized_a.pk}/visits/new/?scheduled={baseline.pk}").content.decode()
    assert f'<option value="{baseline.pk}" selected data-earliest=' in form  # with its window, for the script
    late = (randomized_a.enrollment_date + timedelta(days=10)).isoformat()
    response = client.post(
        f"/patients/{randomized_a.pk}/visits/new/", {"scheduled_visit": baseline.pk, "date_performed": late}
    )
    assert response.status_code == 200
    assert "Outside the window" in str(response.context["form"].errors["date_performed"])
    ok = client.post(
        f"/patients/{randomized_a.pk}/visits/new/",
        {"scheduled_visit": baseline.pk, "date_performed": late, "protocol_deviation_reason": "Patient was ill"},
    )
    assert ok.status_code == 302
    visit = Visit.objects.get(patient=randomized_a)
    assert client.post(f"/patients/{randomized_a.pk}/visits/{visit.pk}/void/", {"reason": ""}).status_code == 200
    assert (
        client.post(f"/patients/{randomized_a.pk}/visits/{visit.pk}/void/", {"reason": "Wrong patient"}).status_code
        == 302
    )
    page = client.get(f"/patients/{randomized_a.pk}/").content.decode()
    assert "Wrong patient" in page and "<s>" in page


def test_injection_session_with_three_points_shows_total(login, coordinator_a, randomized_a):
    client = login(coordinator_a)
    response = client.post(f"/patients/{randomized_a.pk}/injections/new/", _session_post(), follow=True)
    assert response.redirect_chain
    session = InjectionSession.objects.get(patient=randomized_a)
    assert session.points.count() == 3  # the fourth, empty row was ignored
    assert "8.5 U" in response.content.decode()


def test_injection_errors_land_on_their_rows(login, coordinator_a, randomized_a):
    client = login(coordinator_a)
    response = client.post(
        f"/patients/{randomized_a.pk}/injections/new/",
        _session_post(**{"points-1-units": "12", "points-2-muscle": "other", "date": "2001-01-01"}),
    )
    assert response.status_code == 200
    rows = response.context["formset"].forms
    assert "ceiling" in rows[1].errors["units"][0]
    assert rows[2].errors["muscle_other"] == ["Name the muscle."]
    assert "before the patient's enrollment" in response.context["form"].errors["date"][0]
    assert 'value="C1234A"' in response.content.decode()  # nothing typed is lost
    assert not InjectionSession.objects.exists()


def test_injection_refused_before_randomization_shows_at_top(login, coordinator_a, patient_a):
    response = login(coordinator_a).post(f"/patients/{patient_a.pk}/injections/new/", _session_post())
    assert response.status_code == 409  # no form is offered: nothing typed there could be saved
    assert f"Randomize {patient_a.study_code} before recording an injection session." in response.content.decode()
    assert not InjectionSession.objects.exists()


def test_injection_form_adds_rows_without_javascript(login, coordinator_a, randomized_a):
    client = login(coordinator_a)
    assert len(client.get(f"/patients/{randomized_a.pk}/injections/new/?rows=6").context["formset"].forms) == 6
    response = client.post(f"/patients/{randomized_a.pk}/injections/new/", _session_post(add_rows="1"))
    formset = response.context["formset"]
    assert len(formset.forms) == 6  # the three typed rows, and three more
    assert not response.context["form"].errors
    assert formset.forms[1].initial["units"] == "2.5"
    assert not InjectionSession.objects.exists()


def test_injection_edit_is_prefilled_and_needs_a_reason(login, coordinator_a, randomized_a):
    client = login(coordinator_a)
    client.post(f"/patients/{randomized_a.pk}/injections/new/", _session_post())
    session = InjectionSession.objects.get()
    url = f"/patients/{randomized_a.pk}/injections/{session.pk}/edit/"
    formset = client.get(url).context["formset"]
    assert [f.initial.get("muscle") for f in formset.forms[:3]] == [
        "depressor_anguli_oris",
        "depressor_labii_inferioris",
        "mentalis",
    ]
    data = _session_post(**{"points-2-units": "3", "points-INITIAL_FORMS": "3"})  # 4 + 2.5 + 3
    assert "reason" in client.post(url, data).context["form"].errors
    data["reason"] = "Mentalis dose misread"
    assert client.post(url, data).status_code == 302
    assert "9.5 U" in client.get(f"/patients/{randomized_a.pk}/").content.decode()


def test_history_hides_identifiers_from_investigator(login, coordinator_a, investigator, patient_a):
    client = login(coordinator_a)
    data = {"months_since_onset": "13", "reason": "Corrected onset"}
    form = client.get(f"/patients/{patient_a.pk}/edit/").context["form"]
    client.post(f"/patients/{patient_a.pk}/edit/", {**{n: form[n].value() or "" for n in form.fields}, **data})
    page = client.get(f"/patients/{patient_a.pk}/history/").content.decode()
    assert "Corrected onset" in page and "Ada Example" in page
    page = login(investigator).get(f"/patients/{patient_a.pk}/history/").content.decode()
    assert "Corrected onset" in page and "Ada Example" not in page


def test_lock_out_after_repeated_failures(client, coordinator_a, settings):
    settings.AXES_ENABLED = True
    for _ in range(5):
        client.post("/accounts/login/", {"username": coordinator_a.username, "password": "wrong-password"})
    response = client.post("/accounts/login/", {"username": coordinator_a.username, "password": PASSWORD})
    assert response.status_code in (403, 429)
    assert (
        "Too many failed sign-in attempts; try again in 30 minutes or ask your data manager"
        in response.content.decode()
    )
