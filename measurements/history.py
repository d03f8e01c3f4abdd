"""The photos' part of a patient's audit trail: uploads, retakes, scoring results, failures and
rescoring, as the patient's history page shows them (registered with patients.history)."""

from patients.history import HistoryEntry, user_label

from .models import Photo

ACTIONS = {"+": "uploaded", "~": "changed", "-": "deleted"}


def photo_history(patient, *, with_identifiers: bool) -> list[HistoryEntry]:
    """One query. The file name and the failure text are identifying: shown only with identifiers."""
    records = list(
        Photo.history.filter(patient_id=patient.pk)
        .select_related("history_user", "visit__scheduled_visit")
        .order_by("history_date", "history_id")
    )
    previous: dict[int, object] = {}
    entries = []
    for record in records:
        before = previous.get(record.id)
        previous[record.id] = record
        changes: list[tuple[str, str | None, str]] = []
        if record.history_type == "+":
            name = f"“{record.original_filename}”" if with_identifiers and record.original_filename else "a file"
            changes.append(("File", None, f"{name}, {record.size_bytes / 1_000_000:.1f} MB"))
        elif before is not None:
            if before.status != record.status:
                changes.append(("Status", before.get_status_display(), record.get_status_display()))
            if before.is_current and not record.is_current:
                changes.append(("In the outcome tables", "yes", "no (replaced by a retake)"))
            if record.failure_reason and record.failure_reason != before.failure_reason:
                shown = record.failure_reason if with_identifiers else "(free text, hidden)"
                changes.append(("Quality check", None, shown))
        visit = record.visit.scheduled_visit.name if record.visit_id else "visit"
        entries.append(
            HistoryEntry(
                when=record.history_date,
                who=user_label(record.history_user) if record.history_user else "system",
                action=ACTIONS.get(record.history_type, record.history_type),
                subject=f"Photo: {visit}, {record.get_expression_display()}",
                reason=record.history_change_reason or "",
                changes=changes,
            )
        )
    return entries
