"""The trial records over REST: patients and visits for the study's staff.

Same access as the pages (patients.selectors): coordinators see their own sites'
patients with identifiers, investigators every site without them, data managers
everything. Writes (coordinators of the patient's site) go through the pages' own forms
and services, so the validation messages and the audit trail are the same. Injection
sessions are in patients/api_injections.py, photos in measurements/api.py.
"""

import django_filters
from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.response import Response

from patients.api_plumbing import ETagMixin, Role, request_access, roles_in_study
from patients.grading import sunnybrook

from . import forms, selectors, services
from .api_shown import ShownModelSerializer
from .models import Aetiology, Patient, PatientIdentifiers, Sex, Side, Visit

RECORD_ROLES = frozenset({Role.COORDINATOR, Role.INVESTIGATOR, Role.DATA_MANAGER})


class IdentifiersOut(ShownModelSerializer):
    # Optional: often blank, which an `email`-format string in the schema would not allow.
    email = serializers.CharField()

    class Meta:
        model = PatientIdentifiers
        fields = ["full_name", "date_of_birth", "medical_record_number", "phone", "email", "address"]


class PatientOut(ShownModelSerializer):
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
        return IdentifiersOut(patient.identifiers, context=self.context).data


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


class PatientIn(serializers.Serializer):
    """Documents the body; validation is the page's registration form (forms.PatientCreateForm)."""

    site = serializers.CharField(help_text="Site code (one of your sites).")
    sex = serializers.ChoiceField(choices=Sex.choices)
    affected_side = serializers.ChoiceField(choices=Side.choices)
    aetiology = serializers.ChoiceField(choices=Aetiology.choices)
    months_since_onset = serializers.IntegerField(min_value=0, max_value=1200)
    baseline_house_brackmann = serializers.IntegerField(min_value=1, max_value=6)
    full_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    medical_record_number = serializers.CharField()
    phone = serializers.CharField(required=False, allow_blank=True)
    email = serializers.CharField(required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    consent_date = serializers.DateField(required=False, allow_null=True)
    enrollment_date = serializers.DateField(
        required=False, allow_null=True, help_text="With both dates the patient is enrolled at once."
    )


class PatientList(ETagMixin, _PatientsOfStudy, ListAPIView):
    """List the study's patients you may see; register one (coordinators, at their own sites)."""

    filterset_class = PatientFilter
    cursor_ordering = ("study_code",)

    @extend_schema(request=PatientIn, responses={201: PatientOut})
    def post(self, request, study_code):
        require_coordinator(request, "Only a site's coordinator registers its patients.")
        access = request_access(request)
        sites = selectors.sites_for_registration(access).filter(study=request.study)
        form = forms.PatientCreateForm(request.data, sites=sites)
        form.fields["site"].to_field_name = "code"  # type: ignore[attr-defined]  # scripts name sites by code
        if not form.is_valid():
            raise _form_errors(form)
        patient = services.patient_register(by=request.user, **form.cleaned_data)
        return Response(self._out(patient), status=status.HTTP_201_CREATED)

    def _out(self, patient):
        patient = self.get_queryset().get(pk=patient.pk)
        return PatientOut(patient, context=self.get_serializer_context()).data


class PatientDetail(ETagMixin, _PatientsOfStudy, RetrieveAPIView):
    pass


class VisitIn(serializers.Serializer):
    """Documents the body; validation is the HTML form's (forms.VisitForm), so the messages are the same."""

    scheduled_visit = serializers.SlugField(help_text="The schedule's code, e.g. baseline, week-12.")
    date_performed = serializers.DateField()
    house_brackmann = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=6)
    sunnybrook_composite = serializers.IntegerField(
        required=False, allow_null=True, min_value=sunnybrook.COMPOSITE_MIN, max_value=sunnybrook.COMPOSITE_MAX
    )
    notes = serializers.CharField(required=False, allow_blank=True)
    protocol_deviation_reason = serializers.CharField(required=False, allow_blank=True)


class VisitOut(ShownModelSerializer):
    scheduled_visit = serializers.CharField(source="scheduled_visit.code")

    class Meta:
        model = Visit
        fields = [
            "id",
            "scheduled_visit",
            "date_performed",
            "house_brackmann",
            "sunnybrook_composite",
            "notes",
            "protocol_deviation_reason",
            "status",
        ]


def require_coordinator(request, message: str) -> None:
    """For a view that reads for every staff role but writes for coordinators only."""
    if Role.COORDINATOR not in roles_in_study(request_access(request), request.study.pk):
        raise PermissionDenied(message)


def patient_of_study(request, pk) -> Patient:
    """A patient the caller may see, in the study of the URL (another study's patient does not exist here)."""
    patient = selectors.patient_get(request_access(request), pk)
    if patient.study_id != request.study.pk:
        raise Http404("No such patient.")
    return patient


# Adverse events were once a free-text box on the visit; they are records of their own now. A
# script that still sends the old field is refused rather than having its text silently dropped.
ADVERSE_EVENTS_MOVED = (
    "Adverse events are no longer part of the visit: record each one on the patient's page (Adverse events). "
    "Nothing was saved; send the visit again without this field."
)


def _refuse_adverse_event_text(request) -> None:
    if "adverse_events" in request.data:
        raise ValidationError({"adverse_events": [ADVERSE_EVENTS_MOVED]})


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
        _refuse_adverse_event_text(request)
        form = forms.VisitForm(request.data, schedule=patient.study.schedule.all())
        form.fields["scheduled_visit"].to_field_name = "code"  # scripts name visits by code, not id
        if not form.is_valid():
            raise _form_errors(form)
        visit = services.visit_record(
            patient=patient, by=request.user, scheduled_visit=form.cleaned_data["scheduled_visit"], **form.values()
        )
        return Response(VisitOut(visit, context={"request": request}).data, status=status.HTTP_201_CREATED)


class VisitCorrectionIn(serializers.Serializer):
    """Any of the visit's fields, and the reason (required), as on the page's edit form."""

    reason = serializers.CharField()
    date_performed = serializers.DateField(required=False)
    house_brackmann = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=6)
    sunnybrook_composite = serializers.IntegerField(
        required=False, allow_null=True, min_value=sunnybrook.COMPOSITE_MIN, max_value=sunnybrook.COMPOSITE_MAX
    )
    notes = serializers.CharField(required=False, allow_blank=True)
    protocol_deviation_reason = serializers.CharField(required=False, allow_blank=True)


class ReasonIn(serializers.Serializer):
    # The request body as the schema documents it; the views validate it with the page's VoidForm.
    reason = serializers.CharField()


class VisitCorrect(GenericAPIView):
    """Correct a visit with a reason: only the fields sent change; the audit trail keeps who, when and why."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = VisitCorrectionIn

    @extend_schema(request=VisitCorrectionIn, responses={200: VisitOut})
    def patch(self, request, study_code, pk, visit_pk):
        visit = _visit_of(_editable_patient(request, pk), visit_pk)
        _refuse_adverse_event_text(request)
        current = {name: "" if getattr(visit, name) is None else getattr(visit, name) for name in services.VISIT_FIELDS}
        form = forms.VisitEditForm({**current, **request.data}, visit=visit)
        if not form.is_valid():
            raise _form_errors(form)
        if form.changes():
            visit = services.visit_update(
                visit=visit, by=request.user, reason=form.cleaned_data["reason"], **form.changes()
            )
        return Response(VisitOut(visit, context={"request": request}).data)


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
        return Response(VisitOut(visit, context={"request": request}).data)


class EnrollIn(serializers.Serializer):
    consent_date = serializers.DateField()
    enrollment_date = serializers.DateField()


class PatientEnroll(GenericAPIView):
    """Enroll a screened patient (consent and enrollment dates), as on the page."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = EnrollIn

    @extend_schema(request=EnrollIn, responses={200: PatientOut})
    def post(self, request, study_code, pk):
        patient = _editable_patient(request, pk)
        form = forms.EnrollForm(request.data)
        if not form.is_valid():
            raise _form_errors(form)
        services.patient_enroll(patient=patient, by=request.user, **form.cleaned_data)
        return Response(_patient_out(request, pk))


class PatientRandomize(GenericAPIView):
    """Randomize an enrolled patient: the next arm of the stratum's concealed list, as on the page."""

    study_roles = frozenset({Role.COORDINATOR})

    @extend_schema(request=None, responses={200: PatientOut})
    def post(self, request, study_code, pk):
        # Nothing is read from a body, but one that is not a JSON object is refused (400) as on
        # every write, rather than randomizing on a request the client got wrong.
        request.data  # noqa: B018 - parsing is the check
        services.patient_randomize(patient=_editable_patient(request, pk), by=request.user)
        return Response(_patient_out(request, pk))


def _patient_out(request, pk) -> dict:
    return PatientOut(patient_of_study(request, pk), context={"request": request}).data
