"""Investigator pages: the study outcomes page. Thin: the numbers come from analysis.summary."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from patients.selectors import access_for, require_role

from .metrics import ANALYSIS_METRICS
from .selectors import studies_for_analysis, study_for_analysis
from .summary import SummaryInputError, choices_for, outcome_summary

DEFAULT_METRIC = "commissure_height_deviation_mm"
DEFAULT_EXPRESSION = "smile_closed"


@login_required
def analysis_home(request):
    access = require_role(request.user)
    studies = list(studies_for_analysis(access))
    if len(studies) == 1:
        return redirect("study_outcomes", study_code=studies[0].code)
    return render(request, "analysis/home.html", {"studies": studies})


def outcome_filters(request, study) -> dict:
    """The page's and the downloads' choice of metric, expression, visit and site, with defaults."""
    choices = choices_for(study)
    follow_ups = choices.visits[1:] or choices.visits
    return {
        "metric": request.GET.get("metric") or DEFAULT_METRIC,
        "expression": request.GET.get("expression") or DEFAULT_EXPRESSION,
        "visit": request.GET.get("visit") or (follow_ups[-1] if follow_ups else None),
        "site": request.GET.get("site") or None,
    }


@login_required
def study_outcomes(request, study_code):
    study = study_for_analysis(access_for(request.user), study_code)
    filters = outcome_filters(request, study)
    context = {"study": study, "filters": filters, "choices": choices_for(study), "metrics": ANALYSIS_METRICS}
    try:
        summary = outcome_summary(
            study, metric=filters["metric"], expression=filters["expression"], site=filters["site"]
        )
        if filters["visit"] not in [v["code"] for v in summary["visits"]]:
            raise SummaryInputError("visit", filters["visit"], context["choices"].visits)
    except SummaryInputError as error:
        context["error"] = str(error)
        return render(request, "analysis/outcomes.html", context, status=400)
    visits = {v["code"]: v for v in summary["visits"]}
    context.update(summary=summary, selected=visits[filters["visit"]], query=request.GET.urlencode())
    return render(request, "analysis/outcomes.html", context)
