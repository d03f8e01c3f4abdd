"""Visits: the study's rules for a visit, recording, correcting and voiding one."""

from datetime import date

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..missing_codes import GRADE_ITEMS, ItemKind
from ..models import Patient, RecordStatus, ScheduledVisit, Visit
from .common import require_accepts_data, require_open_to_corrections, require_reason, save_audited, void_record
from .missing_codes import missing_items_clear

VISIT_FIELDS = (
    "date_performed",
    "house_brackmann",
    "sunnybrook_composite",
    # Not "adverse_events": the old free text is read only (models.Visit); events are AdverseEvent records.
    "notes",
    "protocol_deviation_reason",
)


def visit_validate(*, patient: Patient, scheduled_visit: ScheduledVisit, visit: Visit) -> None:
    """The study's rules for a visit (dates, window, one per schedule slot, baseline first); raises ValidationError."""
    errors: dict[str, list[str]] = {}
    if scheduled_visit.study_id != patient.study_id:
        errors.setdefault("scheduled_visit", []).append("That visit belongs to another study's schedule.")
    performed = visit.date_performed
    if performed:
        if performed > timezone.localdate():
            errors.setdefault("date_performed", []).append("This date is in the future.")
        elif patient.enrollment_date and performed < patient.enrollment_date:
            errors.setdefault("date_performed", []).append(
                f"This date is before the patient's enrollment on {patient.enrollment_date:%Y-%m-%d}."
            )
        elif patient.enrollment_date:
            earliest, _, latest = scheduled_visit.window_for(patient.enrollment_date)
            if not earliest <= performed <= latest and not visit.protocol_deviation_reason.strip():
                message = (
                    f"Outside the window for {scheduled_visit.name} ({earliest:%Y-%m-%d} to {latest:%Y-%m-%d}). "
                    "To record it anyway, give a protocol-deviation reason."
                )
                errors.setdefault("date_performed", []).append(message)
                errors.setdefault("protocol_deviation_reason", []).append("Required: the date is outside the window.")
    others = Visit.objects.filter(patient=patient, status=RecordStatus.RECORDED).exclude(pk=visit.pk)
    duplicate = others.filter(scheduled_visit=scheduled_visit).first()
    if duplicate:
        errors.setdefault("scheduled_visit", []).append(
            f"{scheduled_visit.name} was already recorded on {duplicate.date_performed:%Y-%m-%d}."
        )
    if not scheduled_visit.is_baseline and not others.filter(scheduled_visit__day_offset=0).exists():
        errors.setdefault("scheduled_visit", []).append("Record the baseline visit before any follow-up.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def visit_record(
    *, patient: Patient, scheduled_visit: ScheduledVisit, by: User, date_performed: date, **fields
) -> Visit:
    unknown = set(fields) - set(VISIT_FIELDS)
    if unknown:
        raise ValueError(f"visit_record does not take {sorted(unknown)}")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    require_accepts_data(patient)
    visit = Visit(
        patient=patient, scheduled_visit=scheduled_visit, date_performed=date_performed, created_by=by, **fields
    )
    visit_validate(patient=patient, scheduled_visit=scheduled_visit, visit=visit)
    save_audited(visit, by=by, reason="Recorded")
    return visit


@transaction.atomic
def visit_update(*, visit: Visit, by: User, reason: str, **changes) -> Visit:
    reason = require_reason(reason)
    unknown = set(changes) - set(VISIT_FIELDS)
    if unknown:
        raise ValueError(f"visit_update cannot change {sorted(unknown)}")
    visit = Visit.objects.select_for_update(of=("self",)).select_related("patient", "scheduled_visit").get(pk=visit.pk)
    if visit.status == RecordStatus.VOIDED:
        raise ValidationError("This visit has been voided and cannot be edited.")
    require_open_to_corrections(visit.patient)
    for k, v in changes.items():
        setattr(visit, k, v)
    visit_validate(patient=visit.patient, scheduled_visit=visit.scheduled_visit, visit=visit)
    save_audited(visit, by=by, reason=reason)
    graded = [name for name in GRADE_ITEMS if getattr(visit, name) is not None]
    missing_items_clear(visit=visit, item_kind=ItemKind.GRADE, item_codes=graded, by=by)
    return visit


@transaction.atomic
def visit_void(*, visit: Visit, by: User, reason: str) -> Visit:
    return void_record(Visit, pk=visit.pk, by=by, reason=reason, what="visit")
