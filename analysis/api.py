"""The outcome summary as JSON: the same function as the page (analysis.summary.outcome_summary)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from measurements.models import Expression
from patients.api_plumbing import DATASET_ROLES, STUDY_ENUM, Role, request_access, roles_in_study

from .dataset.tables import coded_sites
from .selectors import require_results_visible
from .summary import SummaryInputError, outcome_summary


class StudySummaryApi(APIView):
    """Per-arm descriptives per visit and, at each follow-up, the between-arm comparison.

    Investigators and data managers (session or token) and API clients of the study: the
    API's study-role permission (patients.api_plumbing), its throttles and its one error shape.
    Coordinators pass the role check and then meet the outcomes page's own rule
    (analysis.selectors.require_results_visible): refused (403) unless the study is closed and its
    results opened to them.
    """

    study_roles = DATASET_ROLES | {Role.COORDINATOR}
    api_client_allowed = True

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "metric",
                str,
                required=True,
                description="Analysis metric, e.g. commissure_height_deviation_mm",
                extensions={STUDY_ENUM: "metric"},  # the codes of the caller's studies (patients.api_plumbing)
            ),
            OpenApiParameter(
                "expression",
                str,
                # Required by a photo metric only: a grade or study-defined outcome has none
                # (analysis.summary.validate_inputs); without one a photo metric is a 400 naming it.
                required=False,
                enum=list(Expression.values),
                description="Photo expression, e.g. smile_closed; needed by a photo metric, "
                "ignored for a grade or study-defined outcome (e.g. metric=house_brackmann)",
            ),
            OpenApiParameter(
                "site",
                str,
                required=False,
                description="Site; all sites when absent. Investigators and data managers give the site's code; "
                "API clients give its coded label (site-1, site-2, ...), as in the anonymized dataset, and get "
                "that label back in `site`.",
            ),
            OpenApiParameter(
                "visit",
                str,
                required=False,
                description="Visit code; every visit when absent",
                extensions={STUDY_ENUM: "visit"},
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},  # 4xx: the API's one error shape (patients.api_plumbing.document_errors)
    )
    def get(self, request, study_code: str):
        study = request.study  # found, and the caller's role checked, by StudyRolePermission
        access = request_access(request)
        roles = roles_in_study(access, study.pk)
        if not roles & DATASET_ROLES:
            require_results_visible(access, study)  # a coordinator: the page's rule, or 403 saying why
        params = request.query_params
        site = params.get("site") or None
        # An API client sees sites only coded, as in the dataset: it filters by the coded label, is
        # told the labels when it gives an unknown one, and gets the label back.
        coded = roles == {Role.API_CLIENT}
        labels: dict[str, str] = {}  # site code -> coded label
        if coded:
            by_pk = coded_sites(study)
            labels = {code: by_pk[pk] for code, pk in study.sites.values_list("code", "pk")}
            if site is not None:
                by_label = {label: code for code, label in labels.items()}
                if site not in by_label:
                    raise ValidationError({"site": [str(SummaryInputError("site", site, list(by_pk.values())))]})
                site = by_label[site]
        try:
            summary = outcome_summary(
                study,
                metric=params.get("metric", ""),
                expression=params.get("expression", ""),
                site=site,
                visit=params.get("visit") or None,
            )
        except SummaryInputError as error:
            # The message lists the allowed values.
            raise ValidationError({error.field: [str(error)]}) from None
        if coded and summary["site"] is not None:
            summary = {**summary, "site": labels[summary["site"]]}  # a copy: the cached summary stays as it is
        return Response(summary)
