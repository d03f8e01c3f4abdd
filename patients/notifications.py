"""E-mail about serious adverse events: to the study's investigators (whose role covers every site)
and data managers, as soon as the event is committed (a serious event recorded, or an event corrected to
serious).

The mail says what an investigator may read (no free text, no identifiers: the patient's study code,
the term from the pick-list, dates and the assessment) and links to the patient page, where each
reader sees what their role allows. Sent through Django's e-mail backend (console unless
`EMAIL_BACKEND` says otherwise, trialsite/settings.py). A mail server that is down loses no data:
the event is saved first, the failure is logged, and the event is on the dashboards either way.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction

from .adverse_event_models import AdverseEvent
from .models import StudyRole

logger = logging.getLogger(__name__)


def serious_adverse_event_recipients(event: AdverseEvent) -> list[str]:
    """The e-mail addresses to tell: the investigators and data managers of the patient's study (an
    investigator's role covers every site of a study: `StudyRole` gives a site to coordinators only),
    and any address in `SAE_NOTIFY_ALSO`."""
    users = (
        get_user_model()
        .objects.filter(
            study_roles__study_id=event.patient.study_id,
            study_roles__role__in=[StudyRole.Role.INVESTIGATOR, StudyRole.Role.DATA_MANAGER],
            is_active=True,
        )
        .exclude(email="")
    )
    addresses = {user.email for user in users} | set(getattr(settings, "SAE_NOTIFY_ALSO", []))
    return sorted(addresses)


def serious_adverse_event_message(event: AdverseEvent) -> tuple[str, str]:
    patient = event.patient
    # "Other" is named in free text, which investigators never see: the mail says only that it is named.
    term = "Other (named in the record)" if event.is_other else event.get_term_display()
    subject = f"[{patient.study.code}] Serious adverse event: {patient.study_code}, {term}"
    lines = [
        f"A serious adverse event was recorded for {patient.study_code} ({patient.site}).",
        "",
        f"Event: {term}",
        f"Onset: {event.onset_date:%Y-%m-%d}",
        f"Seriousness: {event.get_seriousness_criterion_display()}",
        f"Severity: {event.get_severity_display() or '-'}",
        f"Related to the study drug: {event.get_relatedness_display() or '-'}",
        f"Outcome: {event.get_outcome_display() or '-'}",
        "",
        f"The patient's record: {settings.SITE_ROOT.rstrip('/')}{patient.get_absolute_url()}#adverse-events",
    ]
    return subject, "\n".join(lines)


def serious_adverse_event_notify(event_id: int) -> int:
    """Send the mail now; returns how many were sent (0 when nobody has an address or it failed)."""
    event = AdverseEvent.objects.select_related("patient__study", "patient__site").get(pk=event_id)
    recipients = serious_adverse_event_recipients(event)
    if not recipients:
        logger.warning("Serious adverse event %s: no investigator or data manager has an e-mail address.", event_id)
        return 0
    subject, body = serious_adverse_event_message(event)
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # the mail server's failure must not undo or hide the saved event
        logger.exception("Serious adverse event %s: the notification could not be sent.", event_id)
        return 0


def notify_on_commit(event: AdverseEvent) -> None:
    event_id = event.pk
    transaction.on_commit(lambda: serious_adverse_event_notify(event_id))
