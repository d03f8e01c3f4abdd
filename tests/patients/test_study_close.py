"""Closing a study locks its database: every write service refuses, nothing is written, and the
pages offer nothing to record; data managers close and reopen with a reason, in the admin too."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from measurements import services as photo_services
from patients import services
from patients.admin import CLOSE_FIELD, REASON_REQUIRED, REOPEN_FIELD
from patients.models import Study, Visit
from tests.conftest import make_patient, record_treatment
from tests.measurements.files import noise_jpeg
from tests.patients.admin_forms import change_form_data

CLOSED = "is closed (database locked on"


def _close(study, by):
    return services.study_close(study=study, by=by, reason="Last patient's last visit; data cleaned")


# --- The services -----------------------------------------------------------------------------


def test_closing_and_reopening_are_audited_with_who_and_why(study, data_manager):
    closed = _close(study, data_manager)
    assert closed.closed_on == timezone.localdate()
    services.study_reopen(study=study, by=data_manager, reason="A late query on FACE-1 visit dates")
    study.refresh_from_db()
    assert study.closed_on is None
    latest, before = study.history.order_by("-history_id")[:2]
    assert (before.closed_on, before.history_user, before.history_change_reason) == (
        timezone.localdate(),
        data_manager,
        "Closed (database locked): Last patient's last visit; data cleaned",
    )
    assert (latest.closed_on, latest.history_user, latest.history_change_reason) == (
        None,
        data_manager,
        "Reopened (database unlocked): A late query on FACE-1 visit dates",
    )


def test_closing_and_reopening_need_a_reason(study, data_manager):
    with pytest.raises(ValidationError) as error:
        services.study_close(study=study, by=data_manager, reason="  ")
    assert error.value.message_dict == {"reason": [REASON_REQUIRED]}
    _close(study, data_manager)
    with pytest.raises(ValidationError):
        services.study_reopen(study=study, by=data_manager, reason="")
    assert Study.objects.get(pk=study.pk).closed_on is not None


def test_closing_a_closed_study_or_reopening_an_open_one_is_refused_clearly(study, data_manager):
    with pytest.raises(ValidationError, match="FACE-1 is open; only a closed study can be reopened"):
        services.study_reopen(study=study, by=data_manager, reason="Why not")
    _close(study, data_manager)
    rows = study.history.count()
    with pytest.raises(ValidationError, match="FACE-1 is already closed"):
        _close(study, data_manager)
    assert study.history.count() == rows


def test_only_the_study_s_data_managers_close_or_reopen_it(study, coordinator_a, investigator, data_manager):
    other = services.study_set_up(code="OTHER-1", title="Another study", sites=[("OXF", "Oxford")])
    for user in (coordinator_a, investigator):
        with pytest.raises(PermissionDenied):
            _close(study, user)
    with pytest.raises(PermissionDenied):  # a data manager of another study
        _close(other, data_manager)
    assert not Study.objects.filter(closed_on__isnull=False).exists()
    superuser = get_user_model().objects.create_superuser("root", password="x" * 20)
    _close(other, superuser)


# --- The lock: every write service refuses, and writes nothing ---------------------------------


# The adverse event the fixture records and the walk tries to record again.
ADVERSE_EVENT = dict(
    term="injection_site",
    severity="mild",
    serious=False,
    relatedness="possible",
    action_taken="none",
    outcome="recovering",
)


@pytest.fixture
def locked(settings, tmp_path, study, site_a, coordinator_a, data_manager, bont_arm):
    """A patient treated at baseline (visit, session, adverse event, outcome value), one enrolled but
    not randomized, one in screening; then the study is closed."""
    settings.MEDIA_ROOT = tmp_path
    treated = make_patient(site_a, coordinator_a, enrolled_days_ago=20)
    services.patient_assign_arm_externally(patient=treated, arm=bont_arm, by=data_manager, reason="By phone")
    treated.refresh_from_db()
    visit, session = record_treatment(treated, coordinator_a)
    event = services.adverse_event_record(
        patient=treated, by=coordinator_a, onset_date=visit.date_performed, **ADVERSE_EVENT
    )
    outcome = services.study_outcome_define(
        study=study, code="pain", name="Pain", unit="points", min_value=0, max_value=10, by=data_manager
    )
    services.visit_outcomes_record(visit=visit, by=coordinator_a, values={outcome: "3"})
    assessment = services.visit_scale_record(
        visit=visit, scale="sunnybrook", responses={"sb_rest_eye": "narrow"}, by=coordinator_a
    )
    missing = services.missing_item_record(
        visit=visit, item_kind="photo", item_code="brow_raise", code="declined", reason="", by=coordinator_a
    )
    unrandomized = make_patient(site_a, coordinator_a)
    screening = make_patient(site_a, coordinator_a, enroll=False)
    _close(study, data_manager)
    today = timezone.localdate()
    return {
        "treated": treated,
        "visit": visit,
        "session": session,
        "event": event,
        "outcome": outcome,
        "assessment": assessment,
        "missing": missing,
        "unrandomized": unrandomized,
        "screening": screening,
        "today": today,
    }


def _write_paths(locked, *, study, site_a, coordinator_a, data_manager, bont_arm):
    """Every service that writes a patient's data, called as its callers do."""
    t, visit, session, event = locked["treated"], locked["visit"], locked["session"], locked["event"]
    today = locked["today"]
    point = [{"muscle": "risorius", "side": "right", "units": "2"}]
    week_2 = study.schedule.get(code="week-2")
    return {
        "patient_register": lambda: make_patient(site_a, coordinator_a),
        "patient_update": lambda: services.patient_update(
            patient=t, by=coordinator_a, reason="Typo", months_since_onset=13
        ),
        "patient_update as the data manager": lambda: services.patient_update(
            patient=t, by=data_manager, reason="Typo", as_data_manager=True, full_name="Ada Exemple"
        ),
        "patient_enroll": lambda: services.patient_enroll(
            patient=locked["screening"], by=coordinator_a, consent_date=today, enrollment_date=today
        ),
        "patient_randomize": lambda: services.patient_randomize(patient=locked["unrandomized"], by=coordinator_a),
        "patient_assign_arm_externally": lambda: services.patient_assign_arm_externally(
            patient=locked["unrandomized"], arm=bont_arm, by=data_manager, reason="By phone"
        ),
        "patient_withdraw": lambda: services.patient_withdraw(patient=t, by=coordinator_a, reason="Moved away"),
        "patient_complete": lambda: services.patient_complete(patient=t, by=coordinator_a),
        "eligibility_criterion_define": lambda: services.eligibility_criterion_define(
            study=study, kind="inclusion", text="Aged 18 or over", by=data_manager
        ),
        "patient_eligibility_record": lambda: services.patient_eligibility_record(
            patient=locked["unrandomized"], by=coordinator_a, answers={}
        ),
        "visit_record": lambda: services.visit_record(
            patient=t, scheduled_visit=week_2, by=coordinator_a, date_performed=t.enrollment_date + timedelta(14)
        ),
        "visit_update": lambda: services.visit_update(visit=visit, by=coordinator_a, reason="Typo", notes="Late"),
        "visit_void": lambda: services.visit_void(visit=visit, by=coordinator_a, reason="Wrong patient"),
        "visit_scale_record": lambda: services.visit_scale_record(
            visit=visit, scale="eface", responses={"ef_brow_rest": 100}, by=coordinator_a
        ),
        "visit_scale_update": lambda: services.visit_scale_update(
            assessment=locked["assessment"], responses={"sb_rest_eye": "wide"}, by=coordinator_a, reason="Typo"
        ),
        "visit_scale_void": lambda: services.visit_scale_void(
            assessment=locked["assessment"], by=coordinator_a, reason="Wrong visit"
        ),
        "injection_session_record": lambda: services.injection_session_record(
            patient=t, by=coordinator_a, points=point, date=today, product="onabotulinumtoxinA"
        ),
        "injection_session_update": lambda: services.injection_session_update(
            session=session, by=coordinator_a, reason="Typo", points=point, lot_number="C9"
        ),
        "injection_session_void": lambda: services.injection_session_void(
            session=session, by=coordinator_a, reason="Twice"
        ),
        "adverse_event_record": lambda: services.adverse_event_record(
            patient=t, by=coordinator_a, onset_date=today, **ADVERSE_EVENT
        ),
        "adverse_event_update": lambda: services.adverse_event_update(
            event=event, by=coordinator_a, reason="Typo", severity="moderate"
        ),
        "adverse_event_void": lambda: services.adverse_event_void(event=event, by=coordinator_a, reason="Twice"),
        "visit_outcomes_record": lambda: services.visit_outcomes_record(
            visit=visit, by=coordinator_a, values={locked["outcome"]: "4"}, reason="Typo"
        ),
        "outcome_values_import": lambda: services.outcome_values_import(
            study=study,
            rows=[{"study_code": t.study_code, "visit": "baseline", "outcome": "pain", "value": "4"}],
            by=data_manager,
            dry_run=False,
        ),
        "missing_item_record": lambda: services.missing_item_record(
            visit=visit,
            item_kind="grade",
            item_code="sunnybrook_composite",
            code="not_done",
            reason="",
            by=coordinator_a,
        ),
        "missing_item_void": lambda: services.missing_item_void(
            item=locked["missing"], by=coordinator_a, reason="Marked on the wrong visit"
        ),
        "missing_items_clear": lambda: services.missing_items_clear(
            visit=visit, item_kind="photo", item_codes=["brow_raise"], by=coordinator_a
        ),
        "photo_upload": lambda: photo_services.photo_upload(
            visit=visit, expression="rest", data=noise_jpeg(1), filename="rest.jpg", by=coordinator_a
        ),
    }


# What services exports that is no write to a patient's data: rules without a save, constants, the
# study's set-up (not patient data) and the lock itself.
NOT_PATIENT_WRITES = {
    "OUTCOME_IMPORT_COLUMNS",
    "ADVERSE_EVENT_FIELDS",
    "BLOCKS_GENERATED_AT_SET_UP",
    "DEFAULT_ARMS",
    "DEFAULT_SCHEDULE",
    "PATIENT_CLINICAL_FIELDS",
    "PATIENT_IDENTIFIER_FIELDS",
    "SESSION_FIELDS",
    "VISIT_FIELDS",
    "InjectionValidationError",
    "adverse_event_validate",
    "injection_session_validate",
    "patient_update_validate",
    "patient_register_validate",
    "patient_eligibility",
    "require_eligible",
    "visit_validate",
    "visit_expected_items",
    "randomization_block",
    "randomization_list_generate",
    "study_outcome_define",
    "study_set_up",
    "ALLOCATION_FIELDS",
    "SCHEDULE_FIELDS",
    "ScheduleEffect",
    "allocated_patients",
    "schedule_change_effect",
    "study_setting_check",
    "study_setting_save",
    "study_close",
    "study_reopen",
}


def _row_counts() -> dict[str, int]:
    """Rows of every model of the trial's records, their audit trail included."""
    models = [*apps.get_app_config("patients").get_models(), *apps.get_app_config("measurements").get_models()]
    return {model._meta.label: model._base_manager.count() for model in models}


def test_every_write_service_refuses_a_closed_study_and_writes_nothing(
    locked, tmp_path, study, site_a, coordinator_a, data_manager, bont_arm
):
    paths = _write_paths(
        locked, study=study, site_a=site_a, coordinator_a=coordinator_a, data_manager=data_manager, bont_arm=bont_arm
    )
    # A new write service fails here until it is walked (or said not to write a patient's data).
    unclassified = set(services.__all__) - NOT_PATIENT_WRITES - {name.split(" ")[0] for name in paths}
    assert not unclassified, f"walk these write services on a closed study: {sorted(unclassified)}"
    files_before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    before = _row_counts()
    for name, write in paths.items():
        with pytest.raises(ValidationError) as error:
            write()
        message = " ".join(error.value.messages)
        assert f"Study FACE-1 {CLOSED} {locked['today']:%Y-%m-%d}); no data can be entered or corrected." in message
        assert "A data manager can reopen it." in message, name
        assert _row_counts() == before, f"{name} wrote on a closed study"
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == files_before  # the photo's file is gone too


def test_a_reopened_study_takes_data_again(locked, study, coordinator_a, data_manager):
    services.study_reopen(study=study, by=data_manager, reason="A missed week-2 visit found on paper")
    t = locked["treated"]
    week_2 = study.schedule.get(code="week-2")
    services.visit_record(
        patient=t, scheduled_visit=week_2, by=coordinator_a, date_performed=t.enrollment_date + timedelta(14)
    )


def test_the_rest_api_refuses_to_write_on_a_closed_study(client, locked, coordinator_a):
    t = locked["treated"]
    client.force_login(coordinator_a)
    response = client.post(
        f"/api/v1/studies/FACE-1/patients/{t.pk}/visits/",
        {"scheduled_visit": "week-2", "date_performed": str(t.enrollment_date + timedelta(14))},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert CLOSED in response.json()["error"]["message"]
    assert Visit.objects.filter(patient=t).count() == 1


# --- The pages ------------------------------------------------------------------------------------


def test_a_closed_study_s_pages_say_so_and_offer_nothing_to_record(client, locked, coordinator_a):
    t = locked["treated"]
    client.force_login(coordinator_a)
    page = client.get(f"/patients/{t.pk}/").content.decode()
    assert f"Study FACE-1 closed on {locked['today']:%Y-%m-%d}: read only." in page
    for link in ("/visits/new/", "/injections/new/", "/adverse-events/new/", "/edit/", "/void/", "/withdraw/"):
        assert link not in page, link
    assert "photo-upload" not in page
    for url in ("/", "/patients/"):
        body = client.get(url).content.decode()
        assert "read only." in body and "/patients/new/" not in body, url
    assert client.get("/patients/new/").status_code == 403
    photo_page = client.get(f"/patients/{locked['unrandomized'].pk}/").content.decode()
    assert "/randomize/" not in photo_page


def test_an_open_study_s_pages_offer_the_forms(client, patient_a, coordinator_a):
    client.force_login(coordinator_a)
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "read only." not in page and "/randomize/" in page and "/edit/" in page
    assert "/patients/new/" in client.get("/").content.decode()


# --- The admin ------------------------------------------------------------------------------------


def _study_url(study) -> str:
    return f"/admin/patients/study/{study.pk}/change/"


@pytest.fixture
def dm_client(client, data_manager):
    client.force_login(data_manager)
    return client


def test_the_admin_closes_a_study_only_with_a_reason(dm_client, study, data_manager):
    url = _study_url(study)
    rows = study.history.count()
    response = dm_client.post(url, change_form_data(dm_client, url, **{CLOSE_FIELD: "on"}))
    assert response.status_code == 200
    assert REASON_REQUIRED in str(response.context["adminform"].form.errors)
    assert Study.objects.get(pk=study.pk).closed_on is None

    data = change_form_data(dm_client, url, **{CLOSE_FIELD: "on", "change_reason": "Database lock after cleaning"})
    assert dm_client.post(url, data).status_code == 302
    study.refresh_from_db()
    assert study.closed_on == timezone.localdate()
    row = study.history.latest("history_id")
    assert row.history_user == data_manager
    assert row.history_change_reason == "Closed (database locked): Database lock after cleaning"
    assert study.history.count() == rows + 1  # the close: no empty "changed" row besides


def test_the_admin_reopens_a_closed_study_only_with_a_reason(dm_client, study, data_manager):
    _close(study, data_manager)
    url = _study_url(study)
    page = dm_client.get(url).content.decode()
    assert "Reopen the study" in page and "Close the study" not in page
    response = dm_client.post(url, change_form_data(dm_client, url, **{REOPEN_FIELD: "on"}))
    assert REASON_REQUIRED in str(response.context["adminform"].form.errors)
    assert Study.objects.get(pk=study.pk).closed_on is not None
    data = change_form_data(dm_client, url, **{REOPEN_FIELD: "on", "change_reason": "Query on a visit date"})
    assert dm_client.post(url, data).status_code == 302
    study.refresh_from_db()
    assert study.closed_on is None
    assert (
        study.history.latest("history_id").history_change_reason
        == "Reopened (database unlocked): Query on a visit date"
    )


def test_a_close_box_from_a_stale_form_never_reopens(dm_client, study, data_manager):
    url = _study_url(study)
    data = change_form_data(dm_client, url, **{CLOSE_FIELD: "on", "change_reason": "Lock"})
    _close(study, data_manager)  # someone else closed it meanwhile
    assert dm_client.post(url, data).status_code == 302
    assert Study.objects.get(pk=study.pk).closed_on is not None


def test_the_lock_date_is_not_an_editable_field(dm_client, study):
    url = _study_url(study)
    data = change_form_data(dm_client, url, closed_on="2020-01-01", change_reason="Trying")
    dm_client.post(url, data)
    assert Study.objects.get(pk=study.pk).closed_on is None


def test_results_open_to_coordinators_is_toggled_with_a_reason(dm_client, study, data_manager):
    url = _study_url(study)
    response = dm_client.post(url, change_form_data(dm_client, url, results_open_to_coordinators="on"))
    assert REASON_REQUIRED in str(response.context["adminform"].form.errors)
    data = change_form_data(
        dm_client, url, results_open_to_coordinators="on", change_reason="Sites may see the results after the lock"
    )
    assert dm_client.post(url, data).status_code == 302
    study.refresh_from_db()
    assert study.results_open_to_coordinators and study.closed_on is None  # takes effect only once closed
    row = study.history.latest("history_id")
    assert (row.history_user, row.history_change_reason) == (data_manager, "Sites may see the results after the lock")


def test_the_admin_refuses_corrections_of_a_closed_study_s_records(dm_client, locked):
    visit = locked["visit"]
    url = f"/admin/patients/visit/{visit.pk}/change/"
    data = change_form_data(dm_client, url, house_brackmann="2", change_reason="Grade misread")
    response = dm_client.post(url, data)
    assert response.status_code == 200
    assert CLOSED in str(response.context["adminform"].form.errors)
    assert Visit.objects.get(pk=visit.pk).house_brackmann != 2
    patient_url = f"/admin/patients/patient/{locked['treated'].pk}/change/"
    data = change_form_data(dm_client, patient_url, months_since_onset="14", change_reason="Typo")
    assert CLOSED in str(dm_client.post(patient_url, data).context["adminform"].form.errors)


def test_the_admin_units_of_a_closed_study_s_session_are_locked(dm_client, locked):
    session = locked["session"]
    url = f"/admin/patients/injectionsession/{session.pk}/change/"
    data = change_form_data(dm_client, url, **{"points-0-units": "3", "change_reason": "Units misread"})
    response = dm_client.post(url, data)
    assert response.status_code == 200
    errors = " ".join(str(inline.formset.non_form_errors()) for inline in response.context["inline_admin_formsets"])
    assert CLOSED in errors
    assert session.points.get().units == Decimal("4")
