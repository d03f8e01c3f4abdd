"""Clinician-graded scales recorded item by item at a visit: record, correct (with a reason), void.

The scores are computed by the model from the items on every save (`scale_models.ScaleAssessment`),
never passed in. An item left unanswered keeps the scale incomplete, its total None (missing in the
outcomes, never zero). A bad answer is refused with a message naming the item and nothing is saved.
"""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import RecordStatus, Visit
from ..scale_models import GradingSource, ScaleAssessment
from .common import require_accepts_data, require_open_to_corrections, require_reason, save_audited


def _current_visit(visit: Visit) -> Visit:
    visit = Visit.objects.select_for_update(of=("self",)).select_related("patient__study").get(pk=visit.pk)
    if visit.status == RecordStatus.VOIDED:
        raise ValidationError("This visit has been voided; its scales cannot be recorded or corrected.")
    return visit


def _answers(responses: dict) -> dict:
    # Unanswered items are left out rather than stored as None: the record holds what was graded.
    return {code: value for code, value in responses.items() if value is not None}


@transaction.atomic
def visit_scale_record(
    *, visit: Visit, scale: str, responses: dict, by: User, source: str = GradingSource.IN_PERSON
) -> ScaleAssessment:
    visit = _current_visit(visit)
    require_accepts_data(visit.patient)
    if not visit.patient.study.records_scale(scale):
        raise ValidationError({"scale": f"Study {visit.patient.study.code} does not record the {scale} scale."})
    if ScaleAssessment.objects.filter(visit=visit, scale=scale, source=source, status=RecordStatus.RECORDED).exists():
        raise ValidationError({"scale": "This scale has already been recorded at this visit; correct it instead."})
    assessment = ScaleAssessment(visit=visit, scale=scale, source=source, responses=_answers(responses), created_by=by)
    save_audited(assessment, by=by, reason="Recorded")
    return assessment


@transaction.atomic
def visit_scale_update(*, assessment: ScaleAssessment, responses: dict, by: User, reason: str) -> ScaleAssessment:
    """Correct the answers; the old answers and scores stay in the audit trail with the reason."""
    reason = require_reason(reason)
    assessment = ScaleAssessment.objects.select_for_update(of=("self",)).get(pk=assessment.pk)
    if assessment.is_voided:
        raise ValidationError("This scale has been voided and cannot be edited.")
    visit = _current_visit(assessment.visit)
    require_open_to_corrections(visit.patient)
    assessment.responses = _answers(responses)
    save_audited(assessment, by=by, reason=reason)
    return assessment


@transaction.atomic
def visit_scale_void(*, assessment: ScaleAssessment, by: User, reason: str) -> ScaleAssessment:
    reason = require_reason(reason)
    assessment = (
        ScaleAssessment.objects.select_for_update(of=("self",)).select_related("visit__patient").get(pk=assessment.pk)
    )
    require_open_to_corrections(assessment.visit.patient)
    if assessment.is_voided:
        raise ValidationError("This scale is already voided.")
    assessment.status = RecordStatus.VOIDED
    assessment.void_reason = reason
    save_audited(assessment, by=by, reason=f"Voided: {reason}")
    return assessment
