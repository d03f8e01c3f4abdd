"""The trial records over REST, read side: patients (list and detail) for the study's staff.

Same access as the pages (patients.selectors): coordinators see their own sites'
patients with identifiers, investigators every site without them, data managers
everything. Writes come next round, through the same services as the forms.
"""

import django_filters
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.response import Response

from trialsite.api import ETagMixin, Role, request_access

from . import forms, selectors, services
from .models import Patient, PatientIdentifiers, Visit

RECORD_ROLES = frozenset({Role.COORDINATOR, Role.INVESTIGATOR, Role.DATA_MANAGER})


class IdentifiersOut(serializers.ModelSerializer):
    # Optional: often blank, which an `email`-format string in the schema would not allow.
    email = serializers.CharField()

    class Meta:
        model = PatientIdentifiers
        fields = ["full_name", "date_of_birth", "medical_record_number", "phone", "email", "address"]


class PatientOut(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code")
    arm = serializers.CharField(source="arm.code", allow_null=True, default=None)
    identifiers = serializers.SerializerMethodField()

    class Meta:
        model = Patient
        fields = [
            "id",
            "study_code",
            "site",
            "status",
            "arm",
            "sex",
            "affected_side",
            "aetiology",
            "months_since_onset",
            "baseline_house_brackmann",
            "consent_date",
            "enrollment_date",
            "identifiers",
        ]

    @extend_schema_field(IdentifiersOut(allow_null=True))
    def get_identifiers(self, patient):
        # Only for roles that see them in the browser; null for everyone else.
        if not request_access(self.context["request"]).can_see_identifiers(patient):
            return None
        return IdentifiersOut(patient.identifiers).data


class PatientFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__code")
    arm = django_filters.CharFilter(field_name="arm__code")
    status = django_filters.ChoiceFilter(choices=Patient.Status.choices)

    class Meta:
        model = Patient
        fields = ["site", "arm", "status"]


class _PatientsOfStudy:
    study_roles = RECORD_ROLES
    serializer_class = PatientOut

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no study
            return Patient.objects.none()
        access = request_access(self.request)
        return (
            selectors.patients_visible(access)
            .filter(study=self.request.study)
            .select_related("site", "arm", "identifiers")
        )


class PatientList(ETagMixin, _PatientsOfStudy, ListAPIView):
    filterset_class = PatientFilter
    cursor_ordering = ("study_code",)


class PatientDetail(ETagMixin, _PatientsOfStudy, RetrieveAPIView):
    pass


class VisitIn(serializers.Serializer):
    """Documents the body; validation is the HTML form's (forms.VisitForm), so the messages are the same."""

    scheduled_visit = serializers.SlugField(help_text="The schedule's code, e.g. baseline, week-12.")
    date_performed = serializers.DateField()
    house_brackmann = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=6)
    sunnybrook_composite = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    adverse_events = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    protocol_deviation_reason = serializers.CharField(required=False, allow_blank=True)


class VisitOut(serializers.ModelSerializer):
    scheduled_visit = serializers.CharField(source="scheduled_visit.code")

    class Meta:
        model = Visit
        fields = [
            "id",
            "scheduled_visit",
            "date_performed",
            "house_brackmann",
            "sunnybrook_composite",
            "adverse_events",
            "notes",
            "protocol_deviation_reason",
            "status",
        ]


def _form_errors(form) -> ValidationError:
    return ValidationError({name: list(errors) for name, errors in form.errors.items()})


def _editable_patient(request, pk) -> Patient:
    patient = selectors.patient_get(request_access(request), pk, for_edit=True)
    if patient.study_id != request.study.pk:
        raise Http404("No such patient.")
    return patient


def _visit_of(patient, visit_pk) -> Visit:
    visit = Visit.objects.select_related("scheduled_visit").filter(pk=visit_pk, patient=patient).first()
    if visit is None:
        raise Http404("No such visit.")
    return visit


class VisitCreate(GenericAPIView):
    """Record a visit: coordinators of the patient's site, through the same form and service as the page."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = VisitIn

    @extend_schema(request=VisitIn, responses={201: VisitOut})
    def post(self, request, study_code, pk):
        patient = _editable_patient(request, pk)
        form = forms.VisitForm(request.data, schedule=patient.study.schedule.all())
        form.fields["scheduled_visit"].to_field_name = "code"  # scripts name visits by code, not id
        if not form.is_valid():
            raise _form_errors(form)
        visit = services.visit_record(
            patient=patient, by=request.user, scheduled_visit=form.cleaned_data["scheduled_visit"], **form.values()
        )
        return Response(VisitOut(visit).data, status=status.HTTP_201_CREATED)


class VisitCorrectionIn(serializers.Serializer):
    """Any of the visit's fields, and the reason (required), as on the page's edit form."""

    reason = serializers.CharField()
    date_performed = serializers.DateField(required=False)
    house_brackmann = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=6)
    sunnybrook_composite = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100)
    adverse_events = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    protocol_deviation_reason = serializers.CharField(required=False, allow_blank=True)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField()


class VisitCorrect(GenericAPIView):
    """Correct a visit with a reason: only the fields sent change; the audit trail keeps who, when and why."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = VisitCorrectionIn

    @extend_schema(request=VisitCorrectionIn, responses={200: VisitOut})
    def patch(self, request, study_code, pk, visit_pk):
        visit = _visit_of(_editable_patient(request, pk), visit_pk)
        current = {name: "" if getattr(visit, name) is None else getattr(visit, name) for name in services.VISIT_FIELDS}
        form = forms.VisitEditForm({**current, **request.data}, visit=visit)
        if not form.is_valid():
            raise _form_errors(form)
        if form.changes():
            visit = services.visit_update(
                visit=visit, by=request.user, reason=form.cleaned_data["reason"], **form.changes()
            )
        return Response(VisitOut(visit).data)


class VisitVoid(GenericAPIView):
    """Void a visit with a reason: it stays in the record, marked, as on the page."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = ReasonIn

    @extend_schema(request=ReasonIn, responses={200: VisitOut})
    def post(self, request, study_code, pk, visit_pk):
        visit = _visit_of(_editable_patient(request, pk), visit_pk)
        form = forms.VoidForm(request.data)
        if not form.is_valid():
            raise _form_errors(form)
        visit = services.visit_void(visit=visit, by=request.user, reason=form.cleaned_data["reason"])
        return Response(VisitOut(visit).data)
