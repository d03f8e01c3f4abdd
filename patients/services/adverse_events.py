"""Adverse events: the rules, recording, correcting and voiding one."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..adverse_event_models import RESOLVED_OUTCOMES, AdverseEvent, AdverseEventTerm, accepts_adverse_events
from ..models import Patient, RecordStatus
from ..notifications import notify_on_commit
from .common import require_open_to_corrections, require_reason, require_study_open, save_audited, void_record

ADVERSE_EVENT_FIELDS = (
    "visit",
    "term",
    "term_other",
    "description",
    "onset_date",
    "resolution_date",
    "severity",
    "serious",
    "seriousness_criterion",
    "relatedness",
    "action_taken",
    "outcome",
)
REQUIRED = ("severity", "relatedness", "action_taken", "outcome")


def adverse_event_validate(*, patient: Patient, event: AdverseEvent) -> None:
    """The rules of an adverse event, for the coordinator's form and the admin alike."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    today = timezone.localdate()
    if event.term == AdverseEventTerm.OTHER and not event.term_other.strip():
        add("term_other", "Name the event.")
    if event.term != AdverseEventTerm.OTHER and event.term_other.strip():
        add("term_other", "Only for an event of term Other; choose Other or clear this field.")
    for name in REQUIRED:
        if not getattr(event, name):
            add(name, "Choose one.")
    if event.serious and not event.seriousness_criterion:
        add("seriousness_criterion", "A serious event needs its seriousness criterion.")
    if not event.serious and event.seriousness_criterion:
        add("seriousness_criterion", "Only for a serious event: tick Serious or clear the criterion.")
    onset, resolved = event.onset_date, event.resolution_date
    if onset and onset > today:
        add("onset_date", "This date is in the future.")
    if onset and patient.consent_date and onset < patient.consent_date:
        add("onset_date", f"This date is before the patient's consent on {patient.consent_date:%Y-%m-%d}.")
    if resolved:
        if resolved > today:
            add("resolution_date", "This date is in the future.")
        elif onset and resolved < onset:
            add("resolution_date", "The event cannot resolve before its onset.")
        if event.outcome and event.outcome not in RESOLVED_OUTCOMES:
            add("outcome", "With a resolution date the outcome is recovered (with or without sequelae) or fatal.")
    elif event.outcome in RESOLVED_OUTCOMES:
        add("resolution_date", "Give the date the event resolved (or ended).")
    if event.visit is not None and event.visit.patient_id != patient.pk:
        add("visit", "That visit belongs to another patient.")
    if errors:
        raise ValidationError(errors)


def _require_open(patient: Patient, *, as_data_manager: bool = False) -> None:
    require_study_open(patient.study_id)
    if accepts_adverse_events(patient):
        return
    if patient.status == Patient.Status.WITHDRAWN:
        if as_data_manager:  # a harm learnt of after withdrawal is still reported, by the data manager
            return
        raise ValidationError(f"{patient.study_code} has been withdrawn; ask a data manager to record it.")
    raise ValidationError(f"{patient.study_code} is not enrolled yet; enroll the patient first.")


def _require_correctable(patient: Patient, *, as_data_manager: bool) -> None:
    """A coordinator corrects only a patient not withdrawn; the data manager (the admin) corrects any
    patient's events, with a reason. Nobody corrects a closed study's."""
    if as_data_manager:
        require_study_open(patient.study_id)
    else:
        require_open_to_corrections(patient)


@transaction.atomic
def adverse_event_record(
    *, patient: Patient, by, onset_date: date, term: str, as_data_manager: bool = False, **fields
) -> AdverseEvent:
    unknown = set(fields) - set(ADVERSE_EVENT_FIELDS)
    if unknown:
        raise ValueError(f"adverse_event_record does not take {sorted(unknown)}")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    _require_open(patient, as_data_manager=as_data_manager)
    event = AdverseEvent(patient=patient, created_by=by, onset_date=onset_date, term=term, **fields)
    adverse_event_validate(patient=patient, event=event)
    save_audited(event, by=by, reason="Recorded")
    if event.serious:
        notify_on_commit(event)
    return event


@transaction.atomic
def adverse_event_update(
    *, event: AdverseEvent, by, reason: str, as_data_manager: bool = False, **changes
) -> AdverseEvent:
    """Correct an event, or complete one carried over from free text, with a reason.

    `as_data_manager` is the admin's review: a withdrawn patient's events are open to it too."""
    reason = require_reason(reason)
    unknown = set(changes) - set(ADVERSE_EVENT_FIELDS)
    if unknown:
        raise ValueError(f"adverse_event_update cannot change {sorted(unknown)}")
    event = AdverseEvent.objects.select_for_update(of=("self",)).select_related("patient").get(pk=event.pk)
    if event.status == RecordStatus.VOIDED:
        raise ValidationError("This adverse event has been voided and cannot be edited.")
    _require_correctable(event.patient, as_data_manager=as_data_manager)
    was_serious = event.serious
    for name, value in changes.items():
        setattr(event, name, value)
    adverse_event_validate(patient=event.patient, event=event)
    save_audited(event, by=by, reason=reason)
    if event.serious and not was_serious:
        notify_on_commit(event)
    return event


@transaction.atomic
def adverse_event_void(*, event: AdverseEvent, by, reason: str, as_data_manager: bool = False) -> AdverseEvent:
    return void_record(
        AdverseEvent, pk=event.pk, by=by, reason=reason, what="adverse event", as_data_manager=as_data_manager
    )
