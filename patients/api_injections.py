"""Injection sessions over REST: read (the study's staff), record, correct and void (coordinators
of the patient's site), through the page's forms (session and point rows) and services.

Points are sent as a JSON list; each is validated by the page's point form and the session by
its session form, then the service applies the study's rules (arm, dates, units ceilings).
Errors come back per field in the API's error shape: `date`, or `points.2.units` for a point.
"""

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from patients.api_plumbing import ETagMixin, Role

from . import forms, services
from .api import RECORD_ROLES, ReasonIn, _editable_patient, _form_errors, patient_of_study, require_coordinator
from .api_shown import ShownModelSerializer
from .models import InjectionPoint, InjectionSession, InjectionSide, Muscle, Product, RecordStatus

_choices = {"product": Product.choices, "muscle": Muscle.choices, "side": InjectionSide.choices}


class PointIO(serializers.Serializer):
    muscle = serializers.ChoiceField(choices=_choices["muscle"])
    muscle_other = serializers.CharField(required=False, allow_blank=True, help_text="Only when the muscle is other.")
    side = serializers.ChoiceField(choices=_choices["side"])
    units = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)


class PointOut(ShownModelSerializer):
    units = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=False)

    class Meta:
        model = InjectionPoint
        fields = ["muscle", "muscle_other", "side", "units"]


class SessionOut(ShownModelSerializer):
    """A session as the caller may see it: the injector, notes, void reason and each point's other
    muscle are identifying (patients/identifiers.py), shown only to those who see the patient's
    identifiers, as on the patient page."""

    visit = serializers.IntegerField(source="visit_id", allow_null=True)
    diluent_ml_per_100_units = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)
    points = serializers.SerializerMethodField()

    class Meta:
        model = InjectionSession
        fields = ["id", "visit", "date", "product", "product_other", "lot_number", "diluent_ml_per_100_units",
                  "injector", "notes", "status", "void_reason", "points"]  # fmt: skip

    @extend_schema_field(PointOut(many=True))
    def get_points(self, session) -> list[dict]:
        return list(PointOut(session.recorded_points, many=True, context=self.context).data)


class SessionIn(serializers.Serializer):
    """Documents the body; validation is the page's (forms.InjectionSessionForm and its point rows)."""

    visit = serializers.IntegerField(required=False, allow_null=True, help_text="Id of a recorded visit, or null.")
    date = serializers.DateField()
    product = serializers.ChoiceField(choices=_choices["product"])
    product_other = serializers.CharField(required=False, allow_blank=True)
    lot_number = serializers.CharField()
    diluent_ml_per_100_units = serializers.DecimalField(max_digits=5, decimal_places=2)
    injector = serializers.CharField()
    notes = serializers.CharField(required=False, allow_blank=True)
    points = PointIO(many=True)


class SessionCorrectionIn(serializers.Serializer):
    """Any of the session's fields and, optionally, the whole new list of points; a reason is required."""

    reason = serializers.CharField()
    visit = serializers.IntegerField(required=False, allow_null=True)
    date = serializers.DateField(required=False)
    product = serializers.ChoiceField(choices=_choices["product"], required=False)
    product_other = serializers.CharField(required=False, allow_blank=True)
    lot_number = serializers.CharField(required=False)
    diluent_ml_per_100_units = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    injector = serializers.CharField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    points = PointIO(many=True, required=False)


def _sessions(patient):
    points = Prefetch(
        "points",
        queryset=InjectionPoint.objects.filter(status=RecordStatus.RECORDED).order_by("id"),
        to_attr="recorded_points",
    )
    return InjectionSession.objects.filter(patient=patient).prefetch_related(points).order_by("date", "id")


def _session_of(patient, session_pk) -> InjectionSession:
    session = _sessions(patient).filter(pk=session_pk).first()
    if session is None:
        raise Http404("No such injection session.")
    return session


def _points(raw) -> list[dict]:
    """Each point through the page's point form; errors keyed `points.<index>.<field>`."""
    if not isinstance(raw, list):
        raise ValidationError({"points": ["Send the points as a list of {muscle, muscle_other, side, units}."]})
    if len(raw) > forms.MAX_POINT_ROWS:
        raise ValidationError({"points": [f"At most {forms.MAX_POINT_ROWS} points per session."]})
    points: list[dict] = []
    errors: dict[str, list[str]] = {}
    for index, row in enumerate(raw):
        form = forms.InjectionPointForm(row if isinstance(row, dict) else {})
        if not form.is_valid() or form.is_blank():
            for field, messages in (form.errors or {"muscle": ["Choose the muscle."]}).items():
                errors[f"points.{index}.{field}"] = [str(m) for m in messages]
            continue
        points.append(form.point())
    if errors:
        raise ValidationError(errors)
    return points


def _save(save, form, points):
    """The session form, then the service; the service's session and point errors in the error shape."""
    if not form.is_valid():
        raise _form_errors(form)
    try:
        return save(points=points, **form.values())
    except services.InjectionValidationError as error:
        fields: dict[str, list[str]] = {
            name: [str(m) for m in messages] for name, messages in error.session_errors.items()
        }
        for index, row in error.point_errors.items():
            for name, messages in row.items():
                fields[f"points.{index}.{name}"] = [str(m) for m in messages]
        raise ValidationError(fields) from None


class InjectionSessions(ETagMixin, GenericAPIView):
    """A patient's injection sessions with their recorded points (voided sessions marked); record one."""

    study_roles = RECORD_ROLES
    serializer_class = SessionOut
    queryset = InjectionSession.objects.none()  # for the schema's path parameters; reads go through _sessions

    cursor_ordering = ("date", "id")  # the patient's treatment in time order, as on the page

    @extend_schema(responses={200: SessionOut(many=True)})
    def get(self, request, study_code, pk):
        # Cursor pages, as every list of the API (the schema documents it so).
        page = self.paginate_queryset(_sessions(patient_of_study(request, pk)))
        return self.get_paginated_response(SessionOut(page, many=True, context={"request": request}).data)

    @extend_schema(request=SessionIn, responses={201: SessionOut})
    def post(self, request, study_code, pk):
        require_coordinator(request, "Only the coordinators of the patient's site record injection sessions.")
        patient = _editable_patient(request, pk)
        form = forms.InjectionSessionForm(request.data, patient=patient)
        points = _points(request.data.get("points", []))
        session = _save(
            lambda **fields: services.injection_session_record(patient=patient, by=request.user, **fields),
            form,
            points,
        )
        return Response(
            SessionOut(_session_of(patient, session.pk), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class InjectionSessionCorrect(GenericAPIView):
    """Correct a session with a reason: the fields sent change, and `points`, if sent, replaces the list
    (points no longer in it are voided, never deleted); the audit trail keeps who, when and why."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = SessionCorrectionIn

    @extend_schema(request=SessionCorrectionIn, responses={200: SessionOut})
    def patch(self, request, study_code, pk, session_pk):
        patient = _editable_patient(request, pk)
        session = _session_of(patient, session_pk)
        current = {name: getattr(session, name) for name in services.SESSION_FIELDS if name != "visit"}
        current["visit"] = session.visit_id or ""
        form = forms.InjectionSessionEditForm({**current, **request.data}, patient=patient)
        if "points" in request.data:
            points = _points(request.data["points"])
        else:
            recorded = getattr(session, "recorded_points", [])  # prefetched by _sessions
            points = [{name: getattr(p, name) for name in forms.POINT_FIELDS} for p in recorded]
        _save(
            lambda **fields: services.injection_session_update(
                session=session, by=request.user, reason=form.cleaned_data["reason"], **fields
            ),
            form,
            points,
        )
        return Response(SessionOut(_session_of(patient, session.pk), context={"request": request}).data)


class InjectionSessionVoid(GenericAPIView):
    """Void a session with a reason: it and its points stay in the record, marked as voided."""

    study_roles = frozenset({Role.COORDINATOR})
    serializer_class = ReasonIn

    @extend_schema(request=ReasonIn, responses={200: SessionOut})
    def post(self, request, study_code, pk, session_pk):
        patient = _editable_patient(request, pk)
        session = _session_of(patient, session_pk)
        form = forms.VoidForm(request.data)
        if not form.is_valid():
            raise _form_errors(form)
        services.injection_session_void(session=session, by=request.user, reason=form.cleaned_data["reason"])
        return Response(SessionOut(_session_of(patient, session.pk), context={"request": request}).data)
