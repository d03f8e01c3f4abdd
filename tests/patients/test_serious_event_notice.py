"""A serious adverse event is e-mailed, once it is committed, to the study's investigators and data
managers, without free text or identifiers (issue 21)."""

import pytest
from django.core import mail

from patients import services
from patients.models import StudyRole
from tests.conftest import _persona

pytestmark = pytest.mark.django_db

SERIOUS = dict(
    term="other",
    term_other="Rash behind Mrs Smith's ear",
    description="Admitted overnight",
    severity="severe",
    serious=True,
    seriousness_criterion="hospitalisation",
    relatedness="possible",
    action_taken="treated",
    outcome="recovering",
)


@pytest.fixture
def readers(study, investigator, data_manager, coordinator_a):
    investigator.email, data_manager.email, coordinator_a.email = "inv@example.org", "dm@example.org", "co@example.org"
    for user in (investigator, data_manager, coordinator_a):
        user.save()
    other_study = services.study_set_up(code="ROMA", title="Another study", sites=[("ROM", "Rome")])
    elsewhere = _persona(other_study, "inv_roma", StudyRole.Role.INVESTIGATOR)
    elsewhere.email = "inv.roma@example.org"
    elsewhere.save()
    return investigator, data_manager


def test_a_serious_event_is_mailed_on_commit(django_capture_on_commit_callbacks, readers, patient_a, coordinator_a):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = services.adverse_event_record(
            patient=patient_a, by=coordinator_a, onset_date=patient_a.enrollment_date, **SERIOUS
        )
        assert mail.outbox == []  # not before the event is committed
    assert len(callbacks) == 1
    (message,) = mail.outbox
    # Not the reporting coordinator, nor another study's investigator.
    assert sorted(message.to) == ["dm@example.org", "inv@example.org"]
    assert patient_a.study_code in message.subject and "Serious adverse event" in message.subject
    assert "Required or prolonged hospitalisation" in message.body
    assert f"/patients/{patient_a.pk}/#adverse-events" in message.body
    for secret in ("Mrs Smith", "Admitted overnight", "Ada Example"):
        assert secret not in message.subject + message.body
    assert event.pk


def test_an_event_corrected_to_serious_is_mailed_and_a_mild_one_is_not(
    django_capture_on_commit_callbacks, readers, patient_a, coordinator_a
):
    mild = {**SERIOUS, "serious": False, "seriousness_criterion": "", "severity": "mild"}
    with django_capture_on_commit_callbacks(execute=True):
        event = services.adverse_event_record(
            patient=patient_a, by=coordinator_a, onset_date=patient_a.enrollment_date, **mild
        )
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        services.adverse_event_update(
            event=event, by=coordinator_a, reason="Admitted", serious=True, seriousness_criterion="hospitalisation"
        )
    assert len(mail.outbox) == 1


def test_a_mail_server_that_fails_loses_no_event(
    django_capture_on_commit_callbacks, readers, patient_a, coordinator_a, settings
):
    settings.EMAIL_BACKEND = "tests.patients.test_serious_event_notice.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        event = services.adverse_event_record(
            patient=patient_a, by=coordinator_a, onset_date=patient_a.enrollment_date, **SERIOUS
        )
    event.refresh_from_db()
    assert event.serious


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no mail server")
