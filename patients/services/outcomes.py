"""Study-defined outcomes: values per visit (the coordinator's visit form) and the data manager's CSV import."""

from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from ..missing_codes import ItemKind
from ..models import RecordStatus, Study, StudyOutcome, Visit, VisitOutcomeValue
from .common import require_study_open, save_audited
from .missing_codes import missing_items_clear, missing_items_clear_many


@transaction.atomic
def study_outcome_define(
    *,
    study: Study,
    code: str,
    name: str,
    unit: str,
    min_value: Decimal,
    max_value: Decimal,
    by: User | None,
    description: str = "",
) -> StudyOutcome:
    """Define a numeric outcome of the study beyond the photos and grades (what the admin's form does)."""
    outcome = StudyOutcome(
        study=study,
        code=code,
        name=name,
        unit=unit,
        min_value=Decimal(str(min_value)),
        max_value=Decimal(str(max_value)),
        description=description,
    )
    save_audited(outcome, by=by, reason="Outcome defined")
    return outcome


def _outcome_value(outcome: StudyOutcome, raw) -> Decimal:
    """The value as a Decimal within the outcome's range, or a ValidationError that says why."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{outcome.code}: {raw!r} is not a number.") from None
    if not value.is_finite():
        raise ValidationError(f"{outcome.code}: {raw!r} is not a number.")
    if not outcome.min_value <= value <= outcome.max_value:
        raise ValidationError(
            f"{outcome.code}: {value} is outside the allowed range {outcome.min_value} to {outcome.max_value} "
            f"{outcome.unit}."
        )
    return value


@transaction.atomic
def visit_outcomes_record(*, visit: Visit, by: User, values: dict, reason: str = "Recorded") -> list[VisitOutcomeValue]:
    """Record or correct study-defined outcome values of a visit ({StudyOutcome: value}); None skips.

    A correction keeps the old value in the audit trail with the reason."""
    visit = Visit.objects.select_related("patient").get(pk=visit.pk)
    require_study_open(visit.patient.study_id)
    if visit.status == RecordStatus.VOIDED:
        raise ValidationError("This visit has been voided; its outcomes cannot be recorded.")
    saved = []
    for outcome, raw in values.items():
        if raw in (None, ""):
            continue
        if outcome.study_id != visit.patient.study_id:
            raise ValidationError(f"{outcome.code} belongs to another study.")
        value = _outcome_value(outcome, raw)
        record = VisitOutcomeValue.objects.filter(visit=visit, outcome=outcome).first()
        if record is None:
            record = VisitOutcomeValue(visit=visit, outcome=outcome, value=value, created_by=by)
        elif record.value == value:
            continue
        else:
            record.value = value
        record.full_clean()
        save_audited(record, by=by, reason=reason)
        saved.append(record)
    missing_items_clear(visit=visit, item_kind=ItemKind.OUTCOME, item_codes=[r.outcome.code for r in saved], by=by)
    return saved


OUTCOME_IMPORT_COLUMNS = ("study_code", "visit", "outcome", "value")


def outcome_values_import(*, study: Study, rows: list[dict], by: User, dry_run: bool) -> list[tuple[int, str]]:
    """Import study-defined outcome values keyed by patient study code and visit code.

    Returns every refused row as (line number, reason). Nothing is written unless every row
    passes and `dry_run` is false; a row for a value already recorded is refused (correct it
    on the visit form, with a reason). A closed study refuses the whole file."""
    require_study_open(study)
    outcomes = {o.code: o for o in study.outcomes.all()}
    patients = {p.study_code: p for p in study.patients.all()}
    visits = {
        (v.patient_id, v.scheduled_visit.code): v
        for v in Visit.objects.filter(patient__study=study, status=RecordStatus.RECORDED).select_related(
            "scheduled_visit"
        )
    }
    existing = set(VisitOutcomeValue.objects.filter(visit__patient__study=study).values_list("visit_id", "outcome_id"))
    refused, accepted, seen = [], [], set()
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        missing = [c for c in OUTCOME_IMPORT_COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            refused.append((line, f"missing {', '.join(missing)}"))
            continue
        code, visit_code, outcome_code = row["study_code"].strip(), row["visit"].strip(), row["outcome"].strip()
        patient, outcome = patients.get(code), outcomes.get(outcome_code)
        if patient is None:
            refused.append((line, f"no patient {code} in {study.code}"))
            continue
        if outcome is None:
            refused.append((line, f"unknown outcome {outcome_code!r}; defined: {', '.join(outcomes) or 'none'}"))
            continue
        visit = visits.get((patient.pk, visit_code))
        if visit is None:
            refused.append((line, f"{code} has no recorded visit {visit_code!r}"))
            continue
        try:
            value = _outcome_value(outcome, row["value"])
        except ValidationError as error:
            refused.append((line, " ".join(error.messages)))
            continue
        if (visit.pk, outcome.pk) in existing:
            refused.append((line, f"{code} {visit_code} already has {outcome_code}; correct it on the visit form"))
            continue
        if (visit.pk, outcome.pk) in seen:
            refused.append((line, f"{code} {visit_code} {outcome_code} appears twice in the file"))
            continue
        seen.add((visit.pk, outcome.pk))
        accepted.append(VisitOutcomeValue(visit=visit, outcome=outcome, value=value, created_by=by))
    if refused or dry_run:
        return refused
    with transaction.atomic():
        require_study_open(study)  # again, locked: the study may have been closed since the check
        for record in accepted:
            save_audited(record, by=by, reason="Imported from CSV")
        imported = {(record.visit_id, record.outcome.code) for record in accepted}
        missing_items_clear_many(item_kind=ItemKind.OUTCOME, items=imported, by=by)
    return refused
