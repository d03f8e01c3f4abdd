"""The coordinator's scale forms at a visit (Sunnybrook, eFACE), reached from the patient page's
visit row. Thin: the form is built from `patients.grading`, writes go through the scale services,
and the scores shown are the ones the model computes from the items."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from . import forms, services
from .grading import SCALES
from .models import RecordStatus, Visit
from .scale_forms import scale_form
from .scale_models import GradingSource, ScaleAssessment, computed_scores
from .views import _data, _editable_patient, _void_page

SCORE_LABELS = {
    "rest": "Resting symmetry score",
    "movement": "Voluntary movement score",
    "synkinesis": "Synkinesis score",
    "composite": "Composite",
    "static": "Static subscore",
    "dynamic": "Dynamic subscore",
    "total": "Total",
}


def scores_text(assessment: ScaleAssessment) -> str:
    shown = ", ".join(
        f"{SCORE_LABELS[name].lower()} {value:g}" for name, value in assessment.scores.items() if value is not None
    )
    state = "" if assessment.complete else " (incomplete: counts as missing)"
    return f"{shown or 'no score yet'}{state}"


def _visit_and_scale(request, pk, visit_pk, scale):
    patient = _editable_patient(request, pk)
    visit = get_object_or_404(
        Visit.objects.select_related("scheduled_visit"), pk=visit_pk, patient=patient, status=RecordStatus.RECORDED
    )
    if scale not in SCALES or not patient.study.records_scale(scale):
        raise Http404("This study does not record that scale.")
    current = ScaleAssessment.objects.filter(
        visit=visit, scale=scale, source=GradingSource.IN_PERSON, status=RecordStatus.RECORDED
    ).first()
    return patient, visit, current


def _preview(scale: str, form) -> list[tuple[str, str, float | None]]:
    """The scores of the answers given so far, as the page shows them beside each domain (the same
    numbers static/js/scale-scores.js shows while typing); a bad answer is left out, not scored."""
    if form.is_bound:
        form.is_valid()  # an item refused is out of cleaned_data (add_error), so it is not scored
        codes = {i.code for i in form.scale.items}
        answers = {k: v for k, v in form.cleaned_data.items() if k in codes and v is not None}
    else:
        answers = dict(form.initial)
    values, _ = computed_scores(scale, answers)
    return [(name, SCORE_LABELS[name], value) for name, value in values.items()]


@login_required
def visit_scale(request, pk, visit_pk, scale):
    patient, visit, current = _visit_and_scale(request, pk, visit_pk, scale)
    form = scale_form(
        _data(request), scale_code=scale, responses=current.responses if current else None, needs_reason=bool(current)
    )
    if request.method == "POST" and form.is_valid():
        try:
            if current is None:
                saved = services.visit_scale_record(
                    visit=visit, scale=scale, responses=form.responses(), by=request.user
                )
            else:
                saved = services.visit_scale_update(
                    assessment=current, responses=form.responses(), by=request.user, reason=form.cleaned_data["reason"]
                )
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"{form.scale.name} at {visit.scheduled_visit.name} saved: {scores_text(saved)}.")
            return redirect(patient)
    context = {
        "form": form,
        "patient": patient,
        "visit": visit,
        "current": current,
        "scale": form.scale,
        "preview": _preview(scale, form),
        "title": f"{form.scale.name} at {visit.scheduled_visit.name} of {patient}",
    }
    return render(request, "patients/scale_form.html", context)


@login_required
def visit_scale_void(request, pk, visit_pk, scale):
    patient, visit, current = _visit_and_scale(request, pk, visit_pk, scale)
    if current is None:
        raise Http404("No current grading of this scale at this visit.")
    return _void_page(
        request,
        patient,
        void=lambda **kw: services.visit_scale_void(assessment=current, **kw),
        title=f"Void the {SCALES[scale].name} at {visit.scheduled_visit.name}",
        warning="The grading stays in the record and the audit trail, marked as voided.",
        done=f"{SCALES[scale].name} at {visit.scheduled_visit.name} voided.",
    )
