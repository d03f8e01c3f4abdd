"""What every service shares: the audited save, the reason for an edit, the lock of a closed study,
and the rules on dates and on a patient's status that more than one kind of record obeys."""

from datetime import date

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from ..audit import set_history_reason, set_history_user
from ..models import Patient, RecordStatus, Study


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


def study_closed_message(code: str, closed_on: date) -> str:
    return (
        f"Study {code} is closed (database locked on {closed_on:%Y-%m-%d}); no data can be entered or corrected. "
        "A data manager can reopen it."
    )


def require_study_open(study: Study | int) -> None:
    """The one rule of the database lock: nothing is written to a closed study's records, by anyone
    (coordinators, the API, the data manager's corrections and imports), until a data manager reopens it.

    `study` is the study or its id (a patient's `study_id`, without loading the study). The state is
    read from the database, not from the caller's copy. On PostgreSQL the row is read FOR SHARE:
    writers do not wait for each other, but `study_close` (FOR UPDATE) waits for the writes already
    under way to commit, and a write that starts while the study is being closed waits for the close
    and then sees it. Called inside the writer's transaction, the lock lasts until that ends.
    Scoring workers still score photos uploaded before the close: scoring is not data entry."""
    study_id = study if isinstance(study, int) else study.pk
    # Raw SQL: the ORM has FOR UPDATE but not FOR SHARE, and FOR UPDATE would queue every writer
    # of the study behind each other. SQLite (the demo) locks the whole database on a write anyway.
    sql = f"SELECT code, closed_on FROM {Study._meta.db_table} WHERE id = %s"
    if connection.vendor == "postgresql":
        sql += " FOR SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [study_id])
        row = cursor.fetchone()
    if row is not None and row[1] is not None:
        closed_on = Study._meta.get_field("closed_on").to_python(row[1])  # SQLite returns the text
        raise ValidationError(study_closed_message(row[0], closed_on), code="study_closed")


def require_accepts_data(patient: Patient) -> None:
    require_study_open(patient.study_id)
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; no new data can be recorded.")
    if patient.status == Patient.Status.COMPLETED:
        raise ValidationError(f"{patient.study_code} has completed the study; no new data can be recorded.")
    if patient.status != Patient.Status.ENROLLED:
        raise ValidationError(f"{patient.study_code} is not enrolled yet; enroll the patient first.")


def require_open_to_corrections(patient: Patient) -> None:
    """The one rule for a coordinator's corrections (edits and voids alike): a withdrawn patient's
    record is closed; the data manager corrects it in the admin, with a reason. A completed
    patient's records can still be corrected: completing closes the record to new data only.
    Nothing of a closed study is corrected, by anyone (`require_study_open`)."""
    require_study_open(patient.study_id)
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; ask a data manager for corrections.")


def void_record(model, *, pk: int, by: User, reason: str, what: str, as_data_manager: bool = False):
    """Void instead of delete: the record stays, marked, with the reason, in the audit trail.
    Voiding is a correction: refused, like a coordinator's edit, once the patient is withdrawn; the data
    manager (`as_data_manager`, the admin) may still void a withdrawn patient's record. Never on a closed study."""
    reason = require_reason(reason)
    record = model.objects.select_for_update(of=("self",)).select_related("patient").get(pk=pk)
    if as_data_manager:
        require_study_open(record.patient.study_id)
    else:
        require_open_to_corrections(record.patient)
    if record.status == RecordStatus.VOIDED:
        raise ValidationError(f"This {what} is already voided.")
    record.status = RecordStatus.VOIDED
    record.void_reason = reason
    save_audited(record, by=by, reason=f"Voided: {reason}")
    return record
