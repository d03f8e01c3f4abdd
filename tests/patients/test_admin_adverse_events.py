"""The admin's adverse events: the old free-text box on a visit is written by nothing any more, and a
data manager reviews, completes, corrects and voids events with a reason on their own page, through
the coordinator's services; a closed study's events are read only there and on the coordinator's pages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patients import services
from patients.admin import REASON_REQUIRED
from patients.admin_adverse_events import VOID_FIELD
from patients.models import AdverseEvent, RecordStatus, Visit
from tests.conftest import write_old_free_text_adverse_events
from tests.patients.admin_forms import change_form_data

TODAY = timezone.localdate()
EVENT = dict(
    term="eyelid_ptosis",
    onset_date=TODAY - timedelta(days=5),
    severity="mild",
    relatedness="probable",
    action_taken="none",
    outcome="recovering",
)


@pytest.fixture
def dm_client(client, data_manager):
    client.force_login(data_manager)
    return client


@pytest.fixture
def baseline(patient_a, coordinator_a):
    return services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )


@pytest.fixture
def carried_over(baseline, coordinator_a):
    """An event as migration 0005 made it from a visit's free text: to be completed by review."""
    write_old_free_text_adverse_events(baseline, "severe drooling", by=coordinator_a)
    return AdverseEvent.objects.create(
        patient=baseline.patient,
        visit=baseline,
        term="other",
        term_other="severe drooling",
        description="severe drooling",
        onset_date=baseline.date_performed,
        from_free_text=True,
        created_by=coordinator_a,
    )


def _url(event, view="change") -> str:
    return f"/admin/patients/adverseevent/{event.pk}/{view}/"


# --- The old free-text box -------------------------------------------------------------------------


def test_the_visit_admin_no_longer_offers_the_free_text_adverse_events(dm_client, baseline):
    url = f"/admin/patients/visit/{baseline.pk}/change/"
    form = dm_client.get(url).context["adminform"].form
    assert "adverse_events" not in form.fields
    data = change_form_data(dm_client, url, adverse_events="severe drooling", notes="Seen", change_reason="Typo")
    assert dm_client.post(url, data).status_code == 302
    assert Visit.objects.get(pk=baseline.pk).adverse_events == ""  # text typed there reached only the history


def test_no_service_writes_the_free_text_adverse_events(baseline, coordinator_a):
    assert "adverse_events" not in services.VISIT_FIELDS
    with pytest.raises(ValueError, match="adverse_events"):
        services.visit_update(visit=baseline, by=coordinator_a, reason="Typo", adverse_events="Rash")


def test_the_old_free_text_is_kept_with_its_history(carried_over, baseline):
    # Kept, not dropped: its text was carried into the event, and the column keeps what the site wrote.
    assert Visit.objects.get(pk=baseline.pk).adverse_events == "severe drooling"
    assert baseline.history.latest("history_id").adverse_events == "severe drooling"


# --- The adverse-event page ------------------------------------------------------------------------


def test_a_data_manager_finds_the_events_to_review(dm_client, carried_over, patient_a, coordinator_a):
    complete = services.adverse_event_record(patient=patient_a, by=coordinator_a, **EVENT)
    listed = dm_client.get("/admin/patients/adverseevent/?review=needed").context["cl"].result_list
    assert [event.pk for event in listed] == [carried_over.pk]
    everything = {event.pk for event in dm_client.get("/admin/patients/adverseevent/").context["cl"].result_list}
    assert everything == {carried_over.pk, complete.pk}
    assert "/admin/patients/adverseevent/" in dm_client.get("/admin/").content.decode()


def test_a_data_manager_completes_a_carried_over_event_with_a_reason(dm_client, carried_over, data_manager):
    url = _url(carried_over)
    review = {"severity": "severe", "relatedness": "probable", "action_taken": "treated", "outcome": "recovering"}
    response = dm_client.post(url, change_form_data(dm_client, url, **review))
    assert REASON_REQUIRED in str(response.context["adminform"].form.errors)
    assert AdverseEvent.objects.get(pk=carried_over.pk).severity == ""

    data = change_form_data(dm_client, url, **review, change_reason="Reviewed with the site's notes")
    assert dm_client.post(url, data).status_code == 302
    event = AdverseEvent.objects.get(pk=carried_over.pk)
    assert (event.severity, event.relatedness, event.outcome) == ("severe", "probable", "recovering")
    assert not event.needs_review
    row = event.history.latest("history_id")
    assert (row.history_user, row.history_change_reason) == (data_manager, "Reviewed with the site's notes")


def test_the_admin_applies_the_coordinator_s_rules_beside_the_field(dm_client, patient_a, coordinator_a):
    event = services.adverse_event_record(patient=patient_a, by=coordinator_a, **EVENT)
    url = _url(event)
    before = str(event.onset_date - timedelta(days=1))
    data = change_form_data(dm_client, url, resolution_date=before, outcome="recovered", change_reason="Resolved")
    errors = dm_client.post(url, data).context["adminform"].form.errors
    assert "The event cannot resolve before its onset." in str(errors["resolution_date"])
    assert AdverseEvent.objects.get(pk=event.pk).resolution_date is None


def test_a_data_manager_corrects_and_records_a_withdrawn_patient_s_events(
    dm_client, patient_a, coordinator_a, data_manager
):
    event = services.adverse_event_record(patient=patient_a, by=coordinator_a, **EVENT)
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved away")
    url = _url(event)
    data = change_form_data(dm_client, url, severity="moderate", change_reason="Site letter after withdrawal")
    assert dm_client.post(url, data).status_code == 302
    assert AdverseEvent.objects.get(pk=event.pk).severity == "moderate"

    add = {
        "patient": str(patient_a.pk),
        **{name: str(value) for name, value in EVENT.items()},
        "term": "drooling",
        "change_reason": "",
    }
    assert dm_client.post("/admin/patients/adverseevent/add/", add).status_code == 302
    added = AdverseEvent.objects.get(term="drooling")
    assert (added.patient, added.created_by) == (patient_a, data_manager)
    assert added.history.get().history_change_reason == "Recorded"


def test_a_data_manager_voids_an_event_with_a_reason(dm_client, patient_a, coordinator_a):
    event = services.adverse_event_record(patient=patient_a, by=coordinator_a, **EVENT)
    url = _url(event)
    response = dm_client.post(url, change_form_data(dm_client, url, **{VOID_FIELD: "on"}))
    assert REASON_REQUIRED in str(response.context["adminform"].form.errors)
    both = change_form_data(dm_client, url, **{VOID_FIELD: "on", "severity": "severe", "change_reason": "Twice"})
    assert "not both" in str(dm_client.post(url, both).context["adminform"].form.errors)

    data = change_form_data(dm_client, url, **{VOID_FIELD: "on", "change_reason": "Entered twice"})
    assert dm_client.post(url, data).status_code == 302
    event.refresh_from_db()
    assert (event.status, event.void_reason) == (RecordStatus.VOIDED, "Entered twice")
    assert event.history.latest("history_id").history_change_reason == "Voided: Entered twice"
    assert dm_client.get(url).context["has_change_permission"] is False  # a voided event stays voided


def test_a_closed_study_s_adverse_events_are_read_only(dm_client, client, patient_a, coordinator_a, data_manager):
    event = services.adverse_event_record(patient=patient_a, by=coordinator_a, **EVENT)
    services.study_close(study=patient_a.study, by=data_manager, reason="Database lock")
    url = _url(event)
    page = dm_client.get(url)
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    assert 'name="_save"' not in page.content.decode()
    assert 'name="severity"' not in page.content.decode()
    response = dm_client.post(url, {"severity": "severe", "change_reason": "Trying"})
    assert response.status_code == 403
    assert AdverseEvent.objects.get(pk=event.pk).severity == "mild"

    client.force_login(coordinator_a)
    for path in (f"{event.pk}/edit/", f"{event.pk}/void/", "new/"):
        response = client.get(f"/patients/{patient_a.pk}/adverse-events/{path}")
        assert response.status_code == 403, path


def test_an_event_s_old_version_is_read_not_brought_back(dm_client, patient_a, coordinator_a):
    event = services.adverse_event_record(patient=patient_a, by=coordinator_a, **EVENT)
    services.adverse_event_update(event=event, by=coordinator_a, reason="Worse", severity="severe")
    version = event.history.earliest("history_id")
    url = f"/admin/patients/adverseevent/{event.pk}/history/{version.history_id}/"
    assert dm_client.get(url).status_code == 200
    assert dm_client.post(url, {"severity": "mild", "change_reason": "Back"}).status_code == 403
    assert AdverseEvent.objects.get(pk=event.pk).severity == "severe"
