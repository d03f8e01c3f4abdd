"""Photos over REST: upload a visit's photos (coordinators of the patient's site) and read their
status and scores (the study's staff), through the page's form and upload service.

Never an image or a landmark here: a script gets the scoring status, the quality-gate reason
and the metrics; the pictures stay behind the pages' image view.
"""

import django_filters
from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from patients.api import RECORD_ROLES, _editable_patient, patient_of_study, require_coordinator
from patients.api_plumbing import ETagMixin
from patients.api_shown import ShownModelSerializer
from patients.models import RecordStatus

from .forms import VisitPhotosForm
from .models import Expression, Photo, PhotoScore

# The page's own upload step (size check, upload service, the duplicate message each caller may see).
from .views import _upload_one


class ScoreOut(ShownModelSerializer):
    class Meta:
        model = PhotoScore
        fields = [
            "engine_version", "model_version", "status", "reason", "mm_per_px", "metrics",
            "yaw_deg", "pitch_deg", "roll_deg",
        ]  # fmt: skip


class PhotoOut(ShownModelSerializer):
    visit = serializers.IntegerField(source="visit_id")
    visit_code = serializers.CharField(source="visit.scheduled_visit.code")
    scores = ScoreOut(many=True, source="score_rows")

    class Meta:
        model = Photo
        # Not the original file name: a phone names a photo after the patient often enough, and the
        # investigators who may read this never see identifiers (patients/identifiers.py).
        fields = ["id", "visit", "visit_code", "expression", "status", "failure_code", "failure_reason",
                  "is_current", "size_bytes", "scores"]  # fmt: skip


def _photos(patient):
    scores = Prefetch(
        "scores", queryset=PhotoScore.objects.defer("landmarks").order_by("-created_at"), to_attr="score_rows"
    )
    return (
        Photo.objects.filter(patient=patient)
        .select_related("visit__scheduled_visit")
        .prefetch_related(scores)
        .defer("sha256")
    )


class PhotoFilter(django_filters.FilterSet):
    visit = django_filters.CharFilter(field_name="visit__scheduled_visit__code", help_text="Visit code")
    expression = django_filters.ChoiceFilter(choices=Expression.choices)
    status = django_filters.ChoiceFilter(choices=Photo.Status.choices)
    current = django_filters.BooleanFilter(
        field_name="is_current", help_text="Only current photos (or only retaken ones)"
    )

    class Meta:
        model = Photo
        fields = ["visit", "expression", "status", "current"]


class PatientPhotos(ETagMixin, ListAPIView):
    """A patient's photos: scoring status, the quality gate's reason, every score's metrics."""

    study_roles = RECORD_ROLES
    serializer_class = PhotoOut
    filterset_class = PhotoFilter
    cursor_ordering = ("-id",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Photo.objects.none()
        return _photos(patient_of_study(self.request, self.kwargs["pk"]))


class UploadOut(serializers.Serializer):
    photos = PhotoOut(many=True)


class VisitPhotosUpload(GenericAPIView):
    """Upload photos of a visit, several at once: one file per expression, in fields `photo_<expression>`
    (multipart/form-data), as on the page. Each file gets the page's checks (size, format, a face-sized
    image) and duplicate refusal; the files that pass are stored and queued for scoring even if another
    is refused, and a refusal names its field."""

    study_roles = RECORD_ROLES
    parser_classes = [MultiPartParser]  # files cannot travel in any other body
    serializer_class = UploadOut

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {
            f"photo_{e}": {"type": "string", "format": "binary"} for e in Expression.values}}},
        responses={201: UploadOut},
    )  # fmt: skip
    def post(self, request, study_code, pk, visit_pk):
        require_coordinator(request, "Only the coordinators of the patient's site upload photos.")
        patient = _editable_patient(request, pk)
        visit = (
            patient.visits.select_related("scheduled_visit").filter(pk=visit_pk, status=RecordStatus.RECORDED).first()
        )
        if visit is None:
            raise Http404("No such recorded visit.")
        form = VisitPhotosForm(request.data, request.FILES)
        uploads = list(form.files_by_expression())
        unknown = sorted(name for name in request.FILES if name.removeprefix("photo_") not in Expression.values)
        if unknown:
            raise ValidationError(
                {
                    name: [f"Unknown expression field; use photo_<expression>, one of {', '.join(Expression.values)}."]
                    for name in unknown
                }
            )
        if not uploads:
            raise ValidationError(["Choose at least one photo."])
        stored, errors = [], {}
        for expression, upload in uploads:
            outcome = _upload_one(request, visit=visit, expression=expression, upload=upload)
            if not outcome.saved:
                errors[f"photo_{expression}"] = [f"“{outcome.filename}” {outcome.message}"]
            else:  # the upload is now the current photo of its expression
                stored.append(visit.photos.get(expression=expression, is_current=True).pk)
        if errors:
            done = f"{len(stored)} photo(s) stored and queued for scoring; " if stored else ""
            raise ValidationError({"non_field_errors": [f"{done}{len(errors)} refused."], **errors})
        photos = _photos(patient).filter(pk__in=stored).order_by("pk")
        body = UploadOut({"photos": photos}, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)
