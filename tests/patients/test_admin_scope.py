"""The admin reaches only the data manager's own studies; staff status and model permissions alone
reach nothing; users are deactivated, never deleted; groups are read-only for data managers.

Study B (ROMA) is run by another data manager; the data manager of FACE-1 must not reach any
of its records: lists, change forms, simple-history's views, popups and lookups.
"""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import ProtectedError
from simple_history.admin import SimpleHistoryAdmin

from analysis.models import AnalysisDownload
from measurements import services as photo_services
from measurements.models import Photo, PhotoScore
from patients import services
from patients.admin_scope import STUDY_LOOKUPS, ScopedAdminMixin
from patients.eligibility_models import EligibilityCriterion
from patients.models import (
    AdverseEvent,
    InjectionPoint,
    InjectionSession,
    Patient,
    RandomizationSlot,
    RandomizationStratum,
    ScheduledVisit,
    Site,
    Study,
    StudyRole,
    TreatmentArm,
    Visit,
)
from tests.conftest import _persona, make_patient, record_treatment
from tests.measurements.files import noise_jpeg

# Registered admins that hold no study's records, and why each is safe.
NOT_STUDY_DATA = {
    "auth.group": "read-only for data managers (test_data_manager_cannot_change_groups)",
    # Axes: lock-outs are listed for data managers (test_login_lockout.py); the logs need model
    # permissions no role's group grants.
    "axes.accesslog": "superusers only",
    "axes.accessfailurelog": "superusers only",
    "axes.accessattempt": "lock-outs by user name, for unlocking (tests/patients/test_login_lockout.py)",
}


@pytest.fixture
def other_study(db, settings, tmp_path):
    """Study B with one of everything, run by its own data manager."""
    settings.MEDIA_ROOT = tmp_path
    study = services.study_set_up(
        code="ROMA",
        title="Another study",
        sites=[("ROM", "Rome")],
        max_units_per_point=Decimal("10"),
        max_units_per_session=Decimal("50"),
    )
    coordinator = _persona(study, "coord_rome", StudyRole.Role.COORDINATOR, "ROM")
    manager = _persona(study, "dm_rome", StudyRole.Role.DATA_MANAGER, is_staff=True)
    criterion = services.eligibility_criterion_define(study=study, kind="inclusion", text="Aged 18 or over", by=manager)
    patient = make_patient(study.sites.get(), coordinator, mrn="ROMA-1")
    services.patient_eligibility_record(patient=patient, by=coordinator, answers={criterion.pk: True})
    services.patient_randomize(patient=patient, by=coordinator)
    patient.refresh_from_db()
    arm = patient.arm
    if not arm.receives_injections:
        patient = make_patient(study.sites.get(), coordinator, mrn="ROMA-2")
        services.patient_assign_arm_externally(
            patient=patient, arm=study.arms.get(code="bont-a"), by=manager, reason="Allocated by phone"
        )
        patient.refresh_from_db()
    visit, session = record_treatment(patient, coordinator)
    services.adverse_event_record(
        patient=patient,
        by=coordinator,
        visit=visit,
        term="injection_site",
        onset_date=visit.date_performed,
        severity="mild",
        relatedness="possible",
        action_taken="none",
        outcome="recovering",
    )
    photo = photo_services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(3), filename="rest.jpg", by=coordinator
    )
    # What the download views write (analysis/views.py): the audit of a statistician's download.
    AnalysisDownload.objects.create(
        user=manager, study=study, what="outcomes", file_format="csv", file_name="roma-outcomes.csv"
    )
    return {
        "study": study,
        "coordinator": coordinator,
        "manager": manager,
        "patient": patient,
        "visit": visit,
        "session": session,
        "photo": photo,
    }


def _records_of(study: Study) -> dict:
    """Every row of `study`, by model."""
    return {
        Study: [study],
        Site: list(study.sites.all()),
        TreatmentArm: list(study.arms.all()),
        ScheduledVisit: list(study.schedule.all()),
        Patient: list(study.patients.all()),
        Visit: list(Visit.objects.filter(patient__study=study)),
        InjectionSession: list(InjectionSession.objects.filter(patient__study=study)),
        InjectionPoint: list(InjectionPoint.objects.filter(session__patient__study=study)),
        StudyRole: list(study.roles.all()),
        RandomizationStratum: list(study.strata.all()),
        RandomizationSlot: list(RandomizationSlot.objects.filter(stratum__study=study)),
        Photo: list(Photo.objects.filter(patient__study=study)),
        PhotoScore: list(PhotoScore.objects.filter(photo__patient__study=study)),
        get_user_model(): [role.user for role in study.roles.select_related("user")],
        AnalysisDownload: list(AnalysisDownload.objects.filter(study=study)),
        EligibilityCriterion: list(study.eligibility_criteria.all()),
        AdverseEvent: list(AdverseEvent.objects.filter(patient__study=study)),
    }


def _url(obj, view="change", *args) -> str:
    meta = obj._meta
    suffix = "/".join(str(a) for a in args)
    return f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/{view}/" + (f"{suffix}/" if suffix else "")


def test_every_registered_admin_is_scoped_or_holds_no_study_data(study, other_study):
    """A new admin (the API's tokens, an analysis model) fails here until it says how its rows
    belong to a study, or why it holds none."""
    covered = set(_records_of(other_study["study"]))
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower in NOT_STUDY_DATA:
            continue
        assert isinstance(model_admin, ScopedAdminMixin), model
        assert model in covered or model._meta.label_lower in STUDY_LOOKUPS, model


def test_data_manager_reaches_no_record_of_another_study(client, study, data_manager, other_study):
    client.force_login(data_manager)
    for model, records in _records_of(other_study["study"]).items():
        model_admin = admin.site._registry.get(model)
        if model_admin is None:
            continue  # inlines only (points, scores): reached through their parent
        assert records, model
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = client.get(changelist)
        assert response.status_code == 200, changelist
        listed = {obj.pk for obj in response.context["cl"].result_list}
        body = response.content.decode()
        assert "ROMA" not in body and "Rome" not in body, f"{changelist} names the other study"
        for record in records:
            assert record.pk not in listed, (model, record)
            assert client.get(_url(record)).status_code == 404, _url(record)
            assert client.get(_url(record, "history")).status_code == 404, _url(record, "history")
            if isinstance(model_admin, SimpleHistoryAdmin):  # its view of one past version
                version = model.history.filter(**{model._meta.pk.attname: record.pk}).first()
                if version is not None:
                    url = _url(record, "history", version.history_id)
                    assert client.get(url).status_code == 404, url
        # A popup opened from a raw-id box is the same list, with the field to return.
        popup = client.get(changelist + "?_to_field=id&_popup=1")
        assert {obj.pk for obj in popup.context["cl"].result_list}.isdisjoint({r.pk for r in records})


def test_no_audited_admin_brings_back_a_past_version(client, other_study):
    """Every history page is read-only: posting the version page (simple-history's "revert") would save
    an old version past the services' rules, so it is refused and nothing is written."""
    client.force_login(other_study["manager"])
    walked = 0
    for model, records in _records_of(other_study["study"]).items():
        model_admin = admin.site._registry.get(model)
        if not isinstance(model_admin, SimpleHistoryAdmin):
            continue
        for record in records:
            versions = model.history.filter(**{model._meta.pk.attname: record.pk})
            version = versions.latest("history_id")
            url = _url(record, "history", version.history_id)
            before = versions.count()
            assert client.get(url).status_code == 200, url
            assert b"Revert" not in client.get(url).content, url
            assert client.post(url, {"change_reason": "Back to the first version"}).status_code == 403, url
            assert versions.count() == before, url
            walked += 1
    assert walked >= 8


def test_data_manager_still_reaches_their_own_study(client, data_manager, patient_a, other_study):
    client.force_login(data_manager)
    response = client.get("/admin/patients/patient/")
    assert [p.pk for p in response.context["cl"].result_list] == [patient_a.pk]
    assert client.get(_url(patient_a)).status_code == 200
    assert client.get(_url(patient_a, "history")).status_code == 200


def test_a_raw_id_box_does_not_accept_another_study_s_record(
    client, data_manager, coordinator_a, patient_a, bont_arm, other_study
):
    # A visit's patient is read-only in the admin (a fact of the record), so the box tried here is
    # an injection session's visit, which stays correctable.
    from tests.patients.admin_forms import change_form_data

    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=coordinator_a, reason="Phone")
    _, session = record_treatment(patient_a, coordinator_a)
    client.force_login(data_manager)
    url = _url(session)
    data = change_form_data(
        client, url, visit=str(other_study["visit"].pk), change_reason="Moving the session to another visit"
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "visit" in response.context["adminform"].form.errors
    session.refresh_from_db()
    assert session.visit.patient_id == patient_a.pk


def test_a_visit_s_patient_cannot_be_changed_in_the_admin(client, data_manager, coordinator_a, patient_a, other_study):
    from tests.patients.admin_forms import change_form_data

    visit, _ = record_treatment_or_baseline(patient_a, coordinator_a)
    client.force_login(data_manager)
    url = _url(visit)
    assert "patient" not in client.get(url).context["adminform"].form.fields
    data = change_form_data(
        client, url, patient=str(other_study["patient"].pk), change_reason="Moving the visit to another patient"
    )
    client.post(url, data)
    visit.refresh_from_db()
    assert visit.patient_id == patient_a.pk


def record_treatment_or_baseline(patient, coordinator):
    visit = services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(day_offset=0),
        by=coordinator,
        date_performed=patient.enrollment_date,
    )
    return visit, None


@pytest.mark.parametrize("persona", ["staff_coordinator", "staff_with_every_permission", "investigator"])
def test_staff_status_and_permissions_without_the_role_reach_nothing(client, study, coordinator_a, persona, patient_a):
    from patients.demo import data_managers_group

    user = get_user_model().objects.create_user("staffer", password="x-password-123", is_staff=True)
    user.groups.add(data_managers_group())
    if persona == "staff_coordinator":
        StudyRole.objects.create(user=user, study=study, role=StudyRole.Role.COORDINATOR, site=patient_a.site)
    elif persona == "investigator":
        StudyRole.objects.create(user=user, study=study, role=StudyRole.Role.INVESTIGATOR)
    client.force_login(user)
    for url in ("/admin/", "/admin/patients/patient/", _url(patient_a), "/admin/auth/user/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_nobody_but_a_superuser_deletes_a_user(client, data_manager, coordinator_a, patient_a):
    client.force_login(data_manager)
    assert client.get(_url(coordinator_a, "delete")).status_code == 403
    response = client.post(
        "/admin/auth/user/", {"action": "delete_selected", "_selected_action": [coordinator_a.pk], "post": "yes"}
    )
    assert get_user_model().objects.filter(pk=coordinator_a.pk).exists()
    assert response.status_code in (200, 302)


def test_a_user_who_wrote_history_cannot_be_deleted_even_by_a_superuser(client, coordinator_a, patient_a):
    with pytest.raises(ProtectedError), transaction.atomic():
        coordinator_a.delete()
    assert Patient.history.filter(history_user=coordinator_a).exists()
    root = get_user_model().objects.create_superuser("root", password="root-password-123")
    client.force_login(root)
    response = client.get(_url(coordinator_a, "delete"))
    assert response.status_code == 200
    assert "audit trail" in response.content.decode()
    assert response.context["protected"]


def test_a_user_without_history_can_be_deleted_by_a_superuser(db):
    get_user_model().objects.create_user("typo", password="x-password-123").delete()


def test_data_manager_cannot_change_groups(client, data_manager):
    group = data_manager.groups.get()
    client.force_login(data_manager)
    assert client.get(f"/admin/auth/group/{group.pk}/change/").status_code == 200  # read-only view
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": group.name, "permissions": []})
    assert response.status_code == 403
    assert group.permissions.exists()
    assert client.get("/admin/auth/group/add/").status_code == 403


def test_a_data_manager_does_not_add_studies(client, data_manager):
    # A study they added would lie outside their own scope; studies are set up by a superuser.
    client.force_login(data_manager)
    assert client.get("/admin/patients/study/add/").status_code == 403
