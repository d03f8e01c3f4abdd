"""What every service shares: the audited save, the reason for an edit, and the rules on dates and
on a patient's status that more than one kind of record obeys."""

from datetime import date

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone

from ..audit import set_history_reason, set_history_user
from ..models import Patient, RecordStatus


def save_audited(instance: Model, *, by: User | None, reason: str) -> None:
    instance.full_clean()
    set_history_user(instance, by)
    set_history_reason(instance, reason)
    instance.save()


# What every form says when a change has no reason: the coordinator's pages, the admin, the services.
REASON_REQUIRED = "Give a reason for this change; it is kept in the audit trail."


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_REQUIRED})
    return reason


def require_not_future(value: date | None, field: str) -> None:
    if value and value > timezone.localdate():
        raise ValidationError({field: "This date is in the future."})


def require_consent_not_after_enrollment(consent_date: date | None, enrollment_date: date | None) -> None:
    if consent_date and enrollment_date and consent_date > enrollment_date:
        raise ValidationError({"consent_date": "Consent must be given on or before the enrollment date."})


def require_accepts_data(patient: Patient) -> None:
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; no new data can be recorded.")
    if patient.status == Patient.Status.COMPLETED:
        raise ValidationError(f"{patient.study_code} has completed the study; no new data can be recorded.")
    if patient.status != Patient.Status.ENROLLED:
        raise ValidationError(f"{patient.study_code} is not enrolled yet; enroll the patient first.")


def require_open_to_corrections(patient: Patient) -> None:
    """The one rule for a coordinator's corrections (edits and voids alike): a withdrawn patient's
    record is closed; the data manager corrects it in the admin, with a reason. A completed
    patient's records can still be corrected: completing closes the record to new data only."""
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; ask a data manager for corrections.")


def void_record(model, *, pk: int, by: User, reason: str, what: str):
    """Void instead of delete: the record stays, marked, with the reason, in the audit trail.
    Voiding is a correction: refused, like an edit, once the patient is withdrawn."""
    reason = require_reason(reason)
    record = model.objects.select_for_update(of=("self",)).select_related("patient").get(pk=pk)
    require_open_to_corrections(record.patient)
    if record.status == RecordStatus.VOIDED:
        raise ValidationError(f"This {what} is already voided.")
    record.status = RecordStatus.VOIDED
    record.void_reason = reason
    save_audited(record, by=by, reason=f"Voided: {reason}")
    return record
