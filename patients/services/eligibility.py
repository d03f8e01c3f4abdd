"""The eligibility checklist: a patient's answers to the study's inclusion and exclusion criteria,
recorded and corrected; `patient_randomize` refuses a patient whose checklist does not pass."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..eligibility_models import EligibilityAnswer, EligibilityCriterion
from ..models import Patient
from .common import require_study_open, save_audited


@dataclass
class EligibilityRow:
    criterion: EligibilityCriterion
    answer: EligibilityAnswer | None

    @property
    def passes(self) -> bool:
        return self.answer is not None and self.answer.passes


@dataclass
class Eligibility:
    rows: list[EligibilityRow]

    @property
    def required(self) -> bool:
        return bool(self.rows)

    @property
    def complete(self) -> bool:
        return all(row.answer is not None for row in self.rows)

    @property
    def passed(self) -> bool:
        return all(row.passes for row in self.rows)

    @property
    def failing(self) -> list[EligibilityRow]:
        return [row for row in self.rows if row.answer is not None and not row.passes]

    @property
    def last_answered(self) -> EligibilityAnswer | None:
        answers = [row.answer for row in self.rows if row.answer is not None]
        return max(answers, key=lambda a: a.answered_at) if answers else None


def patient_eligibility(patient: Patient) -> Eligibility:
    """The study's active criteria (inclusion first), each with the patient's answer if given."""
    criteria = list(EligibilityCriterion.objects.filter(study_id=patient.study_id, active=True))
    answers = {
        a.criterion_id: a
        for a in EligibilityAnswer.objects.filter(patient=patient).select_related("criterion", "answered_by")
    }
    return Eligibility([EligibilityRow(c, answers.get(c.pk)) for c in criteria])


def require_eligible(patient: Patient) -> None:
    """The rule `patient_randomize` applies: a study with criteria randomizes only a patient whose
    checklist is complete and passes (every inclusion criterion met, no exclusion criterion)."""
    eligibility = patient_eligibility(patient)
    if not eligibility.required:
        return
    if not eligibility.complete:
        raise ValidationError(
            f"Complete the eligibility checklist of {patient.study_code} before randomizing.", code="eligibility"
        )
    if not eligibility.passed:
        failing = "; ".join(row.criterion.text for row in eligibility.failing)
        raise ValidationError(
            f"{patient.study_code} is not eligible ({failing}); a patient who fails the checklist is not randomized.",
            code="eligibility",
        )


@transaction.atomic
def patient_eligibility_record(
    *, patient: Patient, by: User, answers: dict[int, bool], reason: str = ""
) -> Eligibility:
    """Record the patient's answers, one per active criterion (criterion id -> holds). Changing an
    answer already given is a correction: it needs a reason, kept in the audit trail. After
    randomization the answers can still be corrected (the allocation stands, the trail shows it)."""
    patient = Patient.objects.select_for_update(of=("self",)).get(pk=patient.pk)
    require_study_open(patient.study_id)
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; ask a data manager for corrections.")
    current = patient_eligibility(patient)
    missing = [row.criterion.text for row in current.rows if answers.get(row.criterion.pk) is None]
    if missing:
        raise ValidationError({"__all__": [f"Answer every criterion; not answered: {'; '.join(missing)}."]})
    changed = [row for row in current.rows if row.answer is not None and row.answer.holds != answers[row.criterion.pk]]
    reason = (reason or "").strip()
    if changed and not reason:
        raise ValidationError({"reason": "Give a reason for changing an answer; it is kept in the audit trail."})
    now = timezone.now()
    for row in current.rows:
        holds = answers[row.criterion.pk]
        if row.answer is not None and row.answer.holds == holds:
            continue
        answer = row.answer or EligibilityAnswer(patient=patient, criterion=row.criterion)
        answer.holds, answer.answered_by, answer.answered_at = holds, by, now
        save_audited(answer, by=by, reason=reason if row.answer is not None else "Eligibility checklist answered")
        row.answer = answer
    return current


@transaction.atomic
def eligibility_criterion_define(
    *, study, kind: str, text: str, by: User | None, order: int = 0
) -> EligibilityCriterion:
    """Add a criterion to a study's checklist (the data manager does it in the admin; the demo here)."""
    require_study_open(study)
    criterion = EligibilityCriterion(study=study, kind=kind, text=text.strip(), order=order)
    save_audited(criterion, by=by, reason="Defined")
    return criterion
