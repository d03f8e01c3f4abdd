"""The trial records over REST, read side: patients (list and detail) for the study's staff.

Same access as the pages (patients.selectors): coordinators see their own sites'
patients with identifiers, investigators every site without them, data managers
everything. Writes come next round, through the same services as the forms.
"""

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from trialsite.api import ETagMixin, Role, request_access

from . import selectors
from .models import Patient, PatientIdentifiers

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
