"""Records over REST beyond visits: register, enroll, randomize; injection sessions; photos.

Through the pages' forms and services: the same messages, the same audit trail; coordinators
at their own sites only, investigators read-only, API clients nowhere.
"""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from measurements.models import Photo
from patients import services
from patients.models import InjectionSession, Patient
from tests.conftest import make_patient
from tests.measurements.files import noise_jpeg


def url(study, path=""):
    return f"/api/v1/studies/{study.code}/patients/{path}"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def coordinator(coordinator_a, study, session_client):
    return session_client(coordinator_a)


@pytest.fixture
def investigator_client(investigator, study, session_client):
    return session_client(investigator)


@pytest.fixture
def api_client(api_client_token, token_client):
    return token_client(api_client_token)


def registration(**overrides):
    today = timezone.localdate()
    return {
        "site": "LON", "sex": "female", "affected_side": "left", "aetiology": "bells_palsy",
        "months_since_onset": 8, "baseline_house_brackmann": 4, "full_name": "Grace Script",
        "date_of_birth": (today - timedelta(days=365 * 45)).isoformat(), "medical_record_number": "MRN-API-1",
        **overrides,
    }  # fmt: skip


# --- Register, enroll, randomize -----------------------------------------------------------------


def test_coordinator_registers_a_patient_at_their_site(coordinator, study):
    response = coordinator.post(url(study), registration(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "screening" and body["site"] == "LON"
    assert body["identifiers"]["full_name"] == "Grace Script"
    patient = Patient.objects.get(pk=body["id"])
    assert patient.history.first().history_user.username == "coord_a"


def test_registration_errors_are_the_forms_messages(coordinator, study):
    response = coordinator.post(url(study), registration(site="MAN", months_since_onset=5000), format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "Select a valid choice" in fields["site"][0]  # not this coordinator's site
    assert "less than or equal to 1200" in fields["months_since_onset"][0]
    assert not Patient.objects.filter(identifiers__full_name="Grace Script").exists()


def test_registration_refuses_a_duplicate_record_number(coordinator, study, patient_a):
    number = patient_a.identifiers.medical_record_number
    response = coordinator.post(url(study), registration(medical_record_number=number), format="json")
    assert response.status_code == 400
    assert "medical_record_number" in response.json()["error"]["fields"]


def test_enroll_then_randomize(coordinator, study, site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)
    today = timezone.localdate().isoformat()
    response = coordinator.post(url(study, f"{patient.pk}/enroll/"), {"consent_date": today, "enrollment_date": today})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "enrolled"
    response = coordinator.post(url(study, f"{patient.pk}/randomize/"))
    assert response.status_code == 200
    assert response.json()["arm"] in {"bont-a", "control"}
    again = coordinator.post(url(study, f"{patient.pk}/randomize/"))
    assert again.status_code == 400 and again.json()["error"]["message"]


def test_enroll_dates_are_checked_by_the_service(coordinator, study, site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)
    today = timezone.localdate()
    body = {"consent_date": today.isoformat(), "enrollment_date": (today - timedelta(days=3)).isoformat()}
    response = coordinator.post(url(study, f"{patient.pk}/enroll/"), body)
    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.enrollment_date is None


# --- Injection sessions --------------------------------------------------------------------------


def session_body(**overrides):
    return {
        "date": timezone.localdate().isoformat(), "product": "onabotulinumtoxinA", "lot_number": "L-42",
        "diluent_ml_per_100_units": "2.5", "injector": "Dr Script",
        "points": [{"muscle": "depressor_anguli_oris", "side": "right", "units": "4"},
                   {"muscle": "zygomaticus_major", "side": "right", "units": "2.5"}],
        **overrides,
    }  # fmt: skip


@pytest.fixture
def treated_patient(site_a, coordinator_a, data_manager, bont_arm):
    patient = make_patient(site_a, coordinator_a)
    return services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Set-up")


def test_coordinator_records_corrects_and_voids_an_injection_session(coordinator, study, treated_patient):
    base = url(study, f"{treated_patient.pk}/injections/")
    response = coordinator.post(base, session_body(), format="json")
    assert response.status_code == 201, response.content
    session = response.json()
    assert [(p["muscle"], p["units"]) for p in session["points"]] == [
        ("depressor_anguli_oris", 4.0),
        ("zygomaticus_major", 2.5),
    ]
    no_reason = coordinator.patch(f"{base}{session['id']}/", {"lot_number": "L-43"}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    fixed = coordinator.patch(
        f"{base}{session['id']}/",
        {"lot_number": "L-43", "points": [{"muscle": "depressor_anguli_oris", "side": "right", "units": "3"}],
         "reason": "Lot number misread"},
        format="json",
    )  # fmt: skip
    assert fixed.status_code == 200, fixed.content
    assert fixed.json()["lot_number"] == "L-43" and len(fixed.json()["points"]) == 1
    stored = InjectionSession.objects.get(pk=session["id"])
    assert stored.history.first().history_change_reason == "Lot number misread"
    assert stored.points.filter(status="voided").count() == 1  # the removed point is kept, voided
    voided = coordinator.post(f"{base}{session['id']}/void/", {"reason": "Wrong patient"})
    assert voided.status_code == 200 and voided.json()["status"] == "voided"


def test_injection_errors_name_the_field_and_the_point(coordinator, study, treated_patient):
    base = url(study, f"{treated_patient.pk}/injections/")
    body = session_body(points=[{"muscle": "depressor_anguli_oris", "side": "right", "units": "4"},
                                {"muscle": "zygomaticus_major", "side": "right", "units": "500"}])  # fmt: skip
    response = coordinator.post(base, body, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["points.1.units"] and "ceiling" in fields["points.1.units"][0]
    response = coordinator.post(base, session_body(points=[{"muscle": "nose", "side": "right"}]), format="json")
    fields = response.json()["error"]["fields"]
    assert "points.0.muscle" in fields and "points.0.units" in fields
    assert not InjectionSession.objects.exists()


def test_investigator_reads_sessions_but_cannot_record(
    coordinator, investigator_client, study, treated_patient, api_client
):
    base = url(study, f"{treated_patient.pk}/injections/")
    coordinator.post(base, session_body(), format="json")
    assert len(investigator_client.get(base).json()["results"]) == 1
    assert investigator_client.post(base, session_body(), format="json").status_code == 403
    assert api_client.get(base).status_code == 403
    assert InjectionSession.objects.count() == 1


# --- Photos --------------------------------------------------------------------------------------


@pytest.fixture
def baseline(patient_a, coordinator_a):
    return services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )


def jpeg(seed, name="photo.jpg"):
    return SimpleUploadedFile(name, noise_jpeg(seed, size=(320, 240)), content_type="image/jpeg")


def test_coordinator_uploads_several_photos_at_once(coordinator, study, patient_a, baseline, investigator_client):
    upload = url(study, f"{patient_a.pk}/visits/{baseline.pk}/photos/")
    response = coordinator.post(upload, {"photo_rest": jpeg(1), "photo_smile_closed": jpeg(2)}, format="multipart")
    assert response.status_code == 201, response.content
    photos = response.json()["photos"]
    assert sorted(p["expression"] for p in photos) == ["rest", "smile_closed"]
    assert {p["status"] for p in photos} == {"pending"}
    listed = investigator_client.get(url(study, f"{patient_a.pk}/photos/"), {"expression": "rest"}).json()
    assert [p["expression"] for p in listed["results"]] == ["rest"]
    assert b"landmarks" not in investigator_client.get(url(study, f"{patient_a.pk}/photos/")).content


def test_a_duplicate_or_broken_file_is_refused_and_the_good_one_kept(coordinator, study, patient_a, baseline):
    upload = url(study, f"{patient_a.pk}/visits/{baseline.pk}/photos/")
    assert coordinator.post(upload, {"photo_rest": jpeg(1)}, format="multipart").status_code == 201
    broken = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    response = coordinator.post(
        upload, {"photo_rest": jpeg(1), "photo_pucker": broken, "photo_smile_open": jpeg(3)}, format="multipart"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error["fields"]) == {"photo_rest", "photo_pucker"}
    assert "already" in error["fields"]["photo_rest"][0].lower()
    assert error["message"].startswith("1 photo(s) stored")
    assert Photo.objects.filter(visit=baseline, expression="smile_open").exists()


def test_an_upload_without_files_or_with_an_unknown_field_is_refused(coordinator, study, patient_a, baseline):
    upload = url(study, f"{patient_a.pk}/visits/{baseline.pk}/photos/")
    assert coordinator.post(upload, {}, format="multipart").status_code == 400
    response = coordinator.post(upload, {"photo_wink": jpeg(4)}, format="multipart")
    assert response.status_code == 400 and "photo_wink" in response.json()["error"]["fields"]


# --- Who may write where -------------------------------------------------------------------------


def test_coordinator_of_another_site_gets_404_everywhere(study, patient_b, coordinator_b, coordinator):
    visit = services.visit_record(
        patient=patient_b, scheduled_visit=study.schedule.get(code="baseline"), by=coordinator_b,
        date_performed=patient_b.enrollment_date,
    )  # fmt: skip
    for path, body, fmt in (
        (f"{patient_b.pk}/enroll/", {}, "json"),
        (f"{patient_b.pk}/randomize/", {}, "json"),
        (f"{patient_b.pk}/injections/", session_body(), "json"),
        (f"{patient_b.pk}/visits/{visit.pk}/photos/", {"photo_rest": jpeg(5)}, "multipart"),
    ):
        assert coordinator.post(url(study, path), body, format=fmt).status_code == 404, path
    assert coordinator.get(url(study, f"{patient_b.pk}/injections/")).status_code == 404
    assert coordinator.get(url(study, f"{patient_b.pk}/photos/")).status_code == 404


def test_investigator_cannot_write_over_the_api_and_api_client_reaches_nothing(
    study, patient_a, baseline, investigator_client, api_client
):
    writes = [
        ("", registration(), "json"),
        (f"{patient_a.pk}/enroll/", {}, "json"),
        (f"{patient_a.pk}/randomize/", {}, "json"),
        (f"{patient_a.pk}/injections/", session_body(), "json"),
        (f"{patient_a.pk}/visits/{baseline.pk}/photos/", {"photo_rest": jpeg(6)}, "multipart"),
    ]
    for path, body, fmt in writes:
        assert investigator_client.post(url(study, path), body, format=fmt).status_code == 403, path
        assert api_client.post(url(study, path), body, format=fmt).status_code == 403, path
    for path in ("", f"{patient_a.pk}/", f"{patient_a.pk}/injections/", f"{patient_a.pk}/photos/"):
        assert api_client.get(url(study, path)).status_code == 403, path
    assert not Photo.objects.exists()


def test_reads_of_sessions_and_photos_carry_an_etag(coordinator, investigator_client, study, patient_a, baseline):
    for path in (f"{patient_a.pk}/injections/", f"{patient_a.pk}/photos/"):
        first = investigator_client.get(url(study, path))
        assert first.status_code == 200 and first["ETag"]
        assert investigator_client.get(url(study, path), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    upload = url(study, f"{patient_a.pk}/visits/{baseline.pk}/photos/")
    etag = investigator_client.get(url(study, f"{patient_a.pk}/photos/"))["ETag"]
    coordinator.post(upload, {"photo_rest": jpeg(7)}, format="multipart")
    assert investigator_client.get(url(study, f"{patient_a.pk}/photos/"), HTTP_IF_NONE_MATCH=etag).status_code == 200
