"""The anonymized dataset over REST: thin views over tables.py and files.py.

JSON is cursor-paginated (the cursor encodes a subject_id, never an internal id);
`?format=csv` streams one table; `?format=zip` gives the whole bundle. Every format carries
the same k-anonymity headers; a study whose min_k cannot be reached gets 409 in every format.
"""

import functools

from django import forms
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from analysis.selectors import metric_definitions
from measurements.models import Expression
from patients.api_plumbing import DATASET_ROLES, ERROR_SCHEMA, STUDY_ENUM, CursorPagination, page_size_schema
from patients.pseudonyms import pseudonyms_ensure

from .anonymity import (
    AETIOLOGY_BANDINGS,
    AGE_BANDINGS,
    HOUSE_BRACKMANN_BANDINGS,
    ONSET_BANDINGS,
    KAnonymityUnreachable,
)
from .files import bundle, table_csv
from .outcomes import OUTCOMES
from .tables import INJECTIONS, SUBJECTS, ExportContext, Table, export_context, present

FORMATS = ("json", "csv", "zip")


def _field_for(column) -> serializers.Field:
    kinds = {"string": serializers.CharField, "integer": serializers.IntegerField, "number": serializers.FloatField}
    field = kinds[column.type](help_text=column.label, allow_null=column.nullable)
    if column.allowed and column.type == "string":
        field = serializers.ChoiceField(
            choices=column.values_allowed, help_text=column.label, allow_null=column.nullable
        )
    return field


def row_serializer(table: Table) -> type[serializers.Serializer]:
    """The documented row shape, built from the table's columns so schema and data cannot drift."""
    fields = {column.name: _field_for(column) for column in table.columns}
    return type(f"{table.name.title()}Row", (serializers.Serializer,), fields)


# Built once: drf-spectacular names a component by its class, and two classes of one name (one per
# table's page) would be two components fighting for it.
@functools.cache
def _banding_class() -> type[serializers.Serializer]:
    fields = {
        "age_years": serializers.ChoiceField(choices=list(AGE_BANDINGS)),
        "months_since_onset": serializers.ChoiceField(choices=list(ONSET_BANDINGS)),
        "baseline_house_brackmann": serializers.ChoiceField(choices=list(HOUSE_BRACKMANN_BANDINGS)),
        "aetiology": serializers.ChoiceField(choices=list(AETIOLOGY_BANDINGS)),
    }
    return type("DatasetBanding", (serializers.Serializer,), fields)


def _banding_serializer() -> serializers.Serializer:
    return _banding_class()(help_text="The banding of each generalised column.")


@functools.cache
def _suppressed_class() -> type[serializers.Serializer]:
    fields = {c.name: serializers.IntegerField(min_value=0) for c in SUBJECTS.quasi_identifiers if c.suppressible}
    return type("DatasetSuppressed", (serializers.Serializer,), fields)


def _suppressed_serializer() -> serializers.Serializer:
    return _suppressed_class()(
        help_text='Cells replaced by "suppressed", per quasi-identifier column of the subjects table.'
    )


def page_serializer(table: Table) -> type[serializers.Serializer]:
    fields = {
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "k": serializers.IntegerField(
            allow_null=True,
            help_text="Smallest group of subjects sharing every quasi-identifier (null: no subjects).",
        ),
        "min_k": serializers.IntegerField(help_text="The study's minimum k; the export is refused (409) below it."),
        "quasi_identifiers": serializers.ListField(child=serializers.CharField(), help_text="The columns k counts."),
        "age_banding": serializers.ChoiceField(choices=list(AGE_BANDINGS), help_text="The same as banding.age_years."),
        "banding": _banding_serializer(),
        "suppressed": _suppressed_serializer(),
        "results": row_serializer(table)(many=True),
    }
    return type(f"{table.name.title()}Page", (serializers.Serializer,), fields)


class DatasetNotReleasable(APIException):
    """409: no banding or suppression reaches the study's min_k (anonymity.KAnonymityUnreachable)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "k_anonymity_unreachable"
    default_detail = "The anonymized dataset cannot be released with k >= min_k."


# The k-anonymity of the export, on every 200 (docs/api.md, "k-anonymity").
HEADERS = {
    "X-Dataset-K": "k reached: the smallest group of subjects sharing every quasi-identifier (empty: no subjects).",
    "X-Dataset-Min-K": "The study's min_k; k is never below it.",
    "X-Dataset-Quasi-Identifiers": "The columns k counts, comma-separated.",
    "X-Dataset-Age-Banding": f"age_years: {', '.join(AGE_BANDINGS)}.",
    "X-Dataset-Onset-Banding": f"months_since_onset: {', '.join(ONSET_BANDINGS)}.",
    "X-Dataset-House-Brackmann-Banding": "baseline_house_brackmann: grade, or stratum (1-3, 4-6).",
    "X-Dataset-Aetiology-Banding": "aetiology: cause, or bells-or-not (bells_palsy, not_bells_palsy).",
    "X-Dataset-Suppressed": 'Cells replaced by "suppressed", per column: `site=0, sex=2, …` (every suppressible '
    "quasi-identifier listed).",
}


def anonymity_headers(ctx: ExportContext) -> dict[str, str]:
    rel = ctx.release
    values = {
        "X-Dataset-K": "" if rel.k is None else str(rel.k),
        "X-Dataset-Min-K": str(rel.min_k),
        "X-Dataset-Quasi-Identifiers": ", ".join(rel.columns),
        "X-Dataset-Age-Banding": rel.banding["age_years"],
        "X-Dataset-Onset-Banding": rel.banding["months_since_onset"],
        "X-Dataset-House-Brackmann-Banding": rel.banding["baseline_house_brackmann"],
        "X-Dataset-Aetiology-Banding": rel.banding["aetiology"],
        "X-Dataset-Suppressed": ", ".join(f"{column}={n}" for column, n in rel.suppressed.items()),
    }
    assert values.keys() == HEADERS.keys()
    return values


def anonymity_body(ctx: ExportContext) -> dict:
    rel = ctx.release
    return {
        "k": rel.k,
        "min_k": rel.min_k,
        "quasi_identifiers": list(rel.columns),
        "age_banding": rel.banding["age_years"],
        "banding": dict(rel.banding),
        "suppressed": dict(rel.suppressed),
    }


class _Filters(forms.Form):
    """The same messages as the HTML forms give for a bad choice."""

    format = forms.ChoiceField(required=False, choices=[("", "")] + [(f, f) for f in FORMATS])
    arm = forms.ChoiceField(required=False)
    visit = forms.ChoiceField(required=False)
    expression = forms.ChoiceField(required=False, choices=[("", "")] + list(Expression.choices))
    metric = forms.ChoiceField(required=False)

    def __init__(self, data, *, study, table):
        super().__init__(data)
        for name in list(self.fields):
            if name not in table.filters and name != "format":
                del self.fields[name]
        codes = {
            "arm": lambda: study.arms.values_list("code", flat=True),
            "visit": lambda: study.schedule.values_list("code", flat=True),
            "metric": lambda: metric_definitions(study),
        }
        for name, values in codes.items():
            field = self.fields.get(name)
            if isinstance(field, forms.ChoiceField):
                field.choices = [("", "")] + [(c, c) for c in values()]


class DatasetTableView(GenericAPIView):
    study_roles = DATASET_ROLES
    api_client_allowed = True
    table: Table
    pagination_class = CursorPagination

    @property
    def cursor_ordering(self):
        return self.table.ordering

    def perform_content_negotiation(self, request, force=False):
        # `format` picks the body (validated by _Filters), not a DRF renderer: errors and
        # JSON pages are always rendered as JSON, CSV and ZIP are streamed by get().
        renderer = renderers.JSONRenderer()
        return renderer, renderer.media_type

    def get(self, request, study_code):
        study = request.study
        filter_form = _Filters(request.query_params, study=study, table=self.table)
        if not filter_form.is_valid():
            raise ValidationError(
                filter_form.errors.get_json_data()
                and {name: [e["message"] for e in errs] for name, errs in filter_form.errors.get_json_data().items()}
            )
        fmt = filter_form.cleaned_data.pop("format") or "json"
        filters = {k: v for k, v in filter_form.cleaned_data.items() if v}
        pseudonyms_ensure(study=study)
        try:
            ctx = export_context(study)
        except KAnonymityUnreachable as refusal:
            raise DatasetNotReleasable(str(refusal)) from None
        headers = anonymity_headers(ctx)
        response: StreamingHttpResponse | Response
        if fmt == "csv":
            response = StreamingHttpResponse(table_csv(self.table, study, filters, ctx), content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="{study.code}-{self.table.name}.csv"'
        elif fmt == "zip":
            response = FileResponse(
                bundle(study, filters, ctx), as_attachment=True, filename=f"{study.code}-dataset.zip"
            )
            response["Content-Type"] = "application/zip"
        elif self.table.page is not None:
            size = self._page_size(request)
            rows, next_cursor = self.table.page(study, filters, ctx, request.query_params.get("cursor"), size)
            url = request.build_absolute_uri()
            response = Response(
                {
                    # Forward only: a page's rows depend on the rows before it, so there is no `previous`.
                    "next": replace_query_param(url, "cursor", next_cursor) if next_cursor else None,
                    "previous": None,
                    **anonymity_body(ctx),
                    "results": [self.table.present(row, ctx) for row in ctx.publish_tuples(self.table, rows)],
                }
            )
        else:
            paginator = self.paginator
            assert isinstance(paginator, CursorPagination) and self.table.queryset is not None
            page = paginator.paginate_queryset(self.table.queryset(study, filters, ctx), request, view=self)
            published = (present(self.table, row, ctx) for row in page or [])
            response = Response(
                {
                    "next": paginator.get_next_link(),
                    "previous": paginator.get_previous_link(),
                    **anonymity_body(ctx),
                    "results": [row for row in published if row is not None],
                }
            )
        for name, value in headers.items():
            response[name] = value
        return response

    def _page_size(self, request) -> int:
        paginator = self.paginator
        assert isinstance(paginator, CursorPagination)
        return paginator.get_page_size(request) or paginator.page_size or 100


def _filter_parameter(name: str) -> OpenApiParameter:
    if name == "expression":
        return OpenApiParameter(name, str, enum=list(Expression.values), description="Only rows of this expression.")
    # The allowed codes are the study's own: the schema lists those of the caller's studies (patients.api_plumbing).
    return OpenApiParameter(
        name, str, description=f"Only rows of this {name} (its code).", extensions={STUDY_ENUM: name}
    )


def _schema(table: Table):
    parameters = [
        OpenApiParameter(
            "format", str, enum=list(FORMATS), description="json (paginated), csv (streamed), zip (bundle)"
        ),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next` or `previous`."),
        OpenApiParameter("page_size", page_size_schema(), description="Rows per page (1–1000, default 100)."),
    ] + [_filter_parameter(name) for name in table.filters]
    if table.page is not None:
        parameters[1] = OpenApiParameter(
            "cursor", str, description="Opaque cursor from `next` (pages go forward only; a page may be short)."
        )
    parameters += [
        OpenApiParameter(name, str, location=OpenApiParameter.HEADER, description=text, response=[200])
        for name, text in HEADERS.items()
    ]
    return extend_schema(
        summary=f"Anonymized dataset: {table.name}",
        description=f"{table.description} {table.inclusion} The k-anonymity of the export is in the X-Dataset-* "
        "headers (and the JSON body); a study whose min_k cannot be reached is refused with 409.",
        parameters=parameters,
        responses={
            (200, "application/json"): page_serializer(table),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            (409, "application/json"): OpenApiResponse(
                ERROR_SCHEMA,
                description="k >= min_k cannot be reached: the message names min_k and what would be needed.",
            ),
        },
    )


@_schema(OUTCOMES)
class OutcomesView(DatasetTableView):
    table = OUTCOMES

    def get(self, request, study_code):
        return super().get(request, study_code)


@_schema(SUBJECTS)
class SubjectsView(DatasetTableView):
    table = SUBJECTS

    def get(self, request, study_code):  # noqa: D102 - re-declared for the schema decorator
        return super().get(request, study_code)


@_schema(INJECTIONS)
class InjectionsView(DatasetTableView):
    table = INJECTIONS

    def get(self, request, study_code):
        return super().get(request, study_code)
