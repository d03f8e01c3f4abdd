"""The outcome summary as JSON: the same function as the page (analysis.summary.outcome_summary)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from patients.selectors import access_for

from .selectors import study_for_analysis
from .summary import SummaryInputError, outcome_summary


class StudySummaryApi(APIView):
    """Per-arm descriptives per visit and, at each follow-up, the between-arm comparison.

    Investigators and data managers (session or token) and API clients of the study.
    Authentication classes are DRF's configured defaults.
    """

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "metric", str, required=True, description="Analysis metric, e.g. commissure_height_deviation_mm"
            ),
            OpenApiParameter("expression", str, required=True, description="Photo expression, e.g. smile_closed"),
            OpenApiParameter("site", str, required=False, description="Site code; all sites when absent"),
            OpenApiParameter("visit", str, required=False, description="Visit code; every visit when absent"),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def get(self, request, study_code: str):
        study = study_for_analysis(access_for(request.user), study_code, api=True)
        params = request.query_params
        try:
            summary = outcome_summary(
                study,
                metric=params.get("metric", ""),
                expression=params.get("expression", ""),
                site=params.get("site") or None,
                visit=params.get("visit") or None,
            )
        except SummaryInputError as error:
            return Response({"detail": str(error), "field": error.field, "allowed": error.allowed}, status=400)
        return Response(summary)
