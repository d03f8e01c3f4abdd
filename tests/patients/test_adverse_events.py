"""Adverse events as records of their own: rules, audit, pages, the dashboard, the harms table,
and the old free-text field carried over without loss."""

import importlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from patients import services
from patients.harms import NOT_GRADED, harms_table
from patients.identifiers import HIDDEN, IDENTIFYING_FIELDS
from patients.models import AdverseEvent, RecordStatus, Visit
from tests.conftest import make_patient, write_old_free_text_adverse_events

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _assign(patient, arm, data_manager):
    services.patient_assign_arm_externally(patient=patient, arm=arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    return patient


def _baseline(patient, by, **fields):
    return services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(day_offset=0),
        by=by,
        date_performed=patient.enrollment_date,
        **fields,
    )


def event_fields(**overrides):
    fields = dict(
        term="eyelid_ptosis",
        onset_date=TODAY - timedelta(days=5),
        severity="mild",
        relatedness="probable",
        action_taken="none",
        outcome="recovering",
    )
    fields.update(overrides)
    return fields


def record(patient, by, **overrides):
    return services.adverse_event_record(patient=patient, by=by, **event_fields(**overrides))


# --- Rules ---------------------------------------------------------------------------------------


def test_an_event_is_recorded_with_its_audit_entry(patient_a, coordinator_a):
    event = record(patient_a, coordinator_a)
    entry = event.history.get()
    assert entry.history_user == coordinator_a and entry.history_change_reason == "Recorded"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"term": "other"}, "term_other"),
        ({"term_other": "Rash"}, "term_other"),  # text without the term Other
        ({"serious": True}, "seriousness_criterion"),
        ({"seriousness_criterion": "hospitalisation"}, "seriousness_criterion"),
        ({"severity": ""}, "severity"),
        ({"relatedness": ""}, "relatedness"),
        ({"onset_date": TODAY + timedelta(days=1)}, "onset_date"),
        ({"resolution_date": TODAY - timedelta(days=9)}, "resolution_date"),  # before onset
        ({"outcome": "recovered"}, "resolution_date"),  # recovered needs the date
        ({"resolution_date": TODAY, "outcome": "not_recovered"}, "outcome"),
    ],
)
def test_refusals_name_the_field(patient_a, coordinator_a, overrides, field):
    with pytest.raises(ValidationError) as error:
        record(patient_a, coordinator_a, **overrides)
    assert field in error.value.message_dict
    assert not AdverseEvent.objects.exists()


def test_not_for_a_withdrawn_patient_but_still_after_completion(patient_a, coordinator_a):
    services.patient_complete(patient=patient_a, by=coordinator_a)
    record(patient_a, coordinator_a)
    other = make_patient(patient_a.site, coordinator_a)
    services.patient_withdraw(patient=other, by=coordinator_a, reason="Moved away", withdrawn_on=TODAY)
    with pytest.raises(ValidationError, match="withdrawn"):
        record(other, coordinator_a)


def test_correction_needs_a_reason_and_void_keeps_the_row(patient_a, coordinator_a):
    event = record(patient_a, coordinator_a)
    with pytest.raises(ValidationError):
        services.adverse_event_update(event=event, by=coordinator_a, reason=" ", severity="severe")
    services.adverse_event_update(event=event, by=coordinator_a, reason="Re-graded", severity="severe")
    services.adverse_event_void(event=event, by=coordinator_a, reason="Wrong patient")
    event.refresh_from_db()
    assert event.status == RecordStatus.VOIDED
    assert [h.history_change_reason for h in event.history.order_by("history_id")] == [
        "Recorded",
        "Re-graded",
        "Voided: Wrong patient",
    ]


def test_free_text_fields_are_registered_as_identifying():
    assert {"term_other", "description"} <= IDENTIFYING_FIELDS[("patients", "adverseevent")]


# --- Pages ---------------------------------------------------------------------------------------


def test_coordinator_records_an_event_from_the_patient_page(login, coordinator_a, patient_a):
    client = login(coordinator_a)
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert f"/patients/{patient_a.pk}/adverse-events/new/" in page
    response = client.post(
        f"/patients/{patient_a.pk}/adverse-events/new/",
        {
            **{k: v for k, v in event_fields().items() if k != "onset_date"},
            "onset_date": (TODAY - timedelta(days=2)).isoformat(),
            "term": "other",
            "term_other": "Metallic taste",
            "serious": "on",
            "seriousness_criterion": "hospitalisation",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "Other: Metallic taste" in page and "Required or prolonged hospitalisation" in page


def test_a_bad_event_comes_back_with_the_error_beside_the_field(login, coordinator_a, patient_a):
    response = login(coordinator_a).post(
        f"/patients/{patient_a.pk}/adverse-events/new/",
        {**event_fields(onset_date=TODAY.isoformat()), "serious": "on"},
    )
    assert response.status_code == 200
    assert "A serious event needs its seriousness criterion." in str(response.context["form"].errors)


def test_visit_link_preselects_the_visit(login, coordinator_a, patient_a):
    visit = _baseline(patient_a, coordinator_a)
    page = login(coordinator_a).get(f"/patients/{patient_a.pk}/adverse-events/new/?visit={visit.pk}").content
    assert f'<option value="{visit.pk}" selected>'.encode() in page


def test_investigator_sees_the_event_but_not_its_free_text(login, coordinator_a, investigator, patient_a):
    record(patient_a, coordinator_a, term="other", term_other="Rash near Mrs Smith's ear", description="Details")
    page = login(investigator).get(f"/patients/{patient_a.pk}/").content.decode()
    assert f"Other: {HIDDEN}" in page  # the one rule's wording (patients/identifiers.py), as for every hidden field
    assert "Mrs Smith" not in page and "Details" not in page
    history = login(investigator).get(f"/patients/{patient_a.pk}/history/").content.decode()
    assert "Mrs Smith" not in history and f"<ins>{HIDDEN}</ins>" in history  # the one rule, as on the page
    assert "Mrs Smith" in login(coordinator_a).get(f"/patients/{patient_a.pk}/history/").content.decode()


def test_serious_events_are_flagged_on_the_data_managers_and_the_sites_coordinators_dashboard(
    client, coordinator_a, coordinator_b, data_manager, patient_a
):
    record(patient_a, coordinator_a, serious=True, seriousness_criterion="hospitalisation", term="dysphagia")
    record(patient_a, coordinator_a, term="headache")
    for user in (data_manager, coordinator_a):
        client.force_login(user)
        board = client.get("/")
        assert [e.get_term_display() for e in board.context["dashboard"].serious_events] == ["Dysphagia"], user
        assert "Serious adverse events" in board.content.decode()
    client.force_login(coordinator_b)  # another site's coordinator: not theirs
    assert client.get("/").context["dashboard"].serious_events == []


# --- Harms per arm --------------------------------------------------------------------------------


def test_harms_table_per_arm(study, site_a, site_b, coordinator_a, coordinator_b, data_manager, bont_arm, control_arm):
    treated = [_assign(make_patient(site_a, coordinator_a), bont_arm, data_manager) for _ in range(3)]
    control = [_assign(make_patient(site_b, coordinator_b), control_arm, data_manager) for _ in range(2)]
    never_randomized = make_patient(site_a, coordinator_a)
    record(treated[0], coordinator_a, term="eyelid_ptosis", severity="moderate")
    record(treated[0], coordinator_a, term="eyelid_ptosis", severity="mild")
    record(treated[1], coordinator_a, term="dysphagia", serious=True, seriousness_criterion="hospitalisation")
    record(treated[2], coordinator_a, term="other", term_other="Secret words")
    voided = record(treated[2], coordinator_a, term="headache")
    services.adverse_event_void(event=voided, by=coordinator_a, reason="Entered twice")
    record(control[0], coordinator_b, term="headache", severity="severe")
    record(never_randomized, coordinator_a, term="headache")

    table = harms_table(study)

    by_arm = {a.arm.code: a for a in table.arms}
    assert (by_arm["bont-a"].patients, by_arm["bont-a"].patients_with_event, by_arm["bont-a"].events) == (3, 3, 4)
    assert by_arm["bont-a"].patients_with_serious_event == 1 and by_arm["bont-a"].serious_events == 1
    assert (by_arm["control"].patients, by_arm["control"].patients_with_event) == (2, 1)
    assert round(by_arm["control"].percent_with_event) == 50
    terms = {row.term: row for row in table.terms}
    assert list(terms) == ["eyelid_ptosis", "dysphagia", "headache", "other"]  # the pick-list's order
    assert terms["eyelid_ptosis"].counts[bont_arm.pk]["Mild"] == 1
    assert terms["eyelid_ptosis"].counts[bont_arm.pk]["Moderate"] == 1
    assert terms["eyelid_ptosis"].cells(table.arms)[0] == [1, 1, 0, 0, 2]
    assert terms["headache"].counts[bont_arm.pk]["total"] == 0  # the voided one is not counted
    assert terms["headache"].counts[control_arm.pk]["Severe"] == 1
    assert [(s.arm, s.term, s.criterion) for s in table.serious] == [
        ("BoNT-A", "Dysphagia", "Required or prolonged hospitalisation")
    ]
    assert "Secret words" not in repr(table)


def test_unreviewed_events_count_as_not_graded(study, site_a, coordinator_a, data_manager, bont_arm):
    patient = _assign(make_patient(site_a, coordinator_a), bont_arm, data_manager)
    AdverseEvent.objects.create(
        patient=patient,
        term="other",
        term_other="Old text",
        onset_date=TODAY,
        from_free_text=True,
        created_by=coordinator_a,
    )
    row = harms_table(study).terms[0]
    assert row.counts[bont_arm.pk][NOT_GRADED] == 1


# --- The old free-text field ----------------------------------------------------------------------


def test_free_text_adverse_events_are_carried_over_without_loss(patient_a, patient_b, coordinator_a, coordinator_b):
    migration = importlib.import_module("patients.migrations.0005_adverse_events_from_visit_free_text")
    long_text = "Left eyelid droop from day 3\nsecond line with detail " + "x" * 300
    kept = _baseline(patient_a, coordinator_a)
    write_old_free_text_adverse_events(kept, long_text, by=coordinator_a)
    nothing = _baseline(patient_b, coordinator_b)
    write_old_free_text_adverse_events(nothing, "None.", by=coordinator_b)
    voided = Visit.objects.create(
        patient=patient_a,
        scheduled_visit=kept.scheduled_visit,
        date_performed=kept.date_performed,
        adverse_events="Bruise",
        status=RecordStatus.VOIDED,
        void_reason="Duplicate",
        created_by=coordinator_a,
    )

    # The models as the migration sees them (no history signals: the migration writes that row itself).
    state_apps = (
        MigrationLoader(connection).project_state(("patients", "0005_adverse_events_from_visit_free_text")).apps
    )
    migration.forwards(state_apps, None)

    event = AdverseEvent.objects.get(visit=kept)
    assert event.description == long_text  # every character
    assert event.term == "other" and event.term_other == "Left eyelid droop from day 3"
    assert event.onset_date == kept.date_performed and event.from_free_text and event.needs_review
    assert event.created_by == coordinator_a
    assert event.history.get().history_change_reason == migration.REASON
    assert not AdverseEvent.objects.filter(visit=nothing).exists()
    assert AdverseEvent.objects.get(visit=voided).status == RecordStatus.VOIDED
    kept.refresh_from_db()
    assert kept.adverse_events == long_text  # the visit keeps its text too

    migration.backwards(state_apps, None)
    assert not AdverseEvent.objects.exists()


def test_a_carried_over_event_is_completed_by_review(patient_a, coordinator_a):
    event = AdverseEvent.objects.create(
        patient=patient_a,
        term="other",
        term_other="Old text",
        onset_date=TODAY,
        from_free_text=True,
        created_by=coordinator_a,
    )
    assert event.needs_review
    with pytest.raises(ValidationError) as error:
        services.adverse_event_update(event=event, by=coordinator_a, reason="Reviewed", term="brow_ptosis")
    assert "severity" in error.value.message_dict
    services.adverse_event_update(
        event=event,
        by=coordinator_a,
        reason="Reviewed",
        term="brow_ptosis",
        term_other="",
        severity="mild",
        relatedness="possible",
        action_taken="none",
        outcome="recovering",
    )
    event.refresh_from_db()
    assert not event.needs_review
