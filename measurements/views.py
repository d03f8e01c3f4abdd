from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from patients import selectors as patient_selectors
from patients.models import RecordStatus

from . import engine, selectors, services
from .forms import ReplacePhotoForm, VisitPhotosForm
from .models import Expression, Photo
from .upload_report import Fate, UploadOutcome, report_store


def _fate(photo: Photo) -> str:
    """What is true of a photo just saved: in-process scoring (the demo) has already scored it."""
    photo.refresh_from_db(fields=["status", "failure_reason", "queued_at"])
    if photo.status == Photo.Status.SCORED:
        return "saved and scored."
    if photo.status == Photo.Status.FAILED:
        return f"saved, but it failed a quality check: {photo.failure_reason}"
    if photo.queued_at is None:
        return "saved; it will be scored as soon as the scoring service is reachable."
    return "saved; scoring has started."


def _upload_one(request, *, visit, expression, upload) -> UploadOutcome:
    """Upload a file and say what became of it. Never raises for bad input: each file of an upload is
    judged on its own, so one bad file never costs the good ones beside it their place."""
    label = Expression(expression).label
    try:
        # Checked before reading, so an oversized file is never held in memory whole.
        services.photo_check_size(upload.size, filename=upload.name)
        photo = services.photo_upload(
            visit=visit, expression=expression, data=upload.read(), filename=upload.name, by=request.user
        )
    except services.DuplicatePhoto as exc:
        # Another site's photo: its patient, visit and link are not the uploader's to know.
        if not patient_selectors.access_for(request.user).can_view(exc.existing.patient):
            return UploadOutcome(label, upload.name, Fate.DUPLICATE, f"not saved: {exc.messages[0]}")
        link = reverse("photo_detail", args=[exc.existing.pk])
        return UploadOutcome(label, upload.name, Fate.DUPLICATE, f"not saved: {exc.described}", link)
    except ValidationError as exc:
        return UploadOutcome(label, upload.name, Fate.REFUSED, "not saved: " + " ".join(exc.messages))
    return UploadOutcome(label, upload.name, Fate.STORED, _fate(photo), reverse("photo_detail", args=[photo.pk]))


@login_required
def visit_photos_upload(request, pk, visit_pk):
    """Upload a visit's photos from the patient page. Every file is reported by name with what became
    of it, on the patient page the upload redirects to (POST/redirect/GET: a reload never sends the
    files again), scrolled to the report."""
    access = patient_selectors.require_role(request.user)
    patient = patient_selectors.patient_get(access, pk, for_edit=True)
    visit = get_object_or_404(
        patient.visits.select_related("scheduled_visit"), pk=visit_pk, status=RecordStatus.RECORDED
    )
    if request.method != "POST":
        return redirect(f"{patient.get_absolute_url()}#photos-{visit.pk}")  # the form lives on the patient page
    # Not form.is_valid(): Django's file field refuses an empty file for the whole form, which once
    # discarded the good photos beside it. The upload service judges each file, empty ones included.
    form = VisitPhotosForm(request.POST, request.FILES)
    outcomes = [
        _upload_one(request, visit=visit, expression=expression, upload=upload)
        for expression, upload in form.files_by_expression()
    ]
    problems = [] if outcomes else ["Choose at least one photo."]
    key = report_store(request.session, patient_id=patient.pk, visit_id=visit.pk, outcomes=outcomes, problems=problems)
    return redirect(f"{patient.get_absolute_url()}?{urlencode({'upload': key})}#upload-report")


@login_required
def photo_detail(request, pk):
    access = patient_selectors.require_role(request.user)
    photo = selectors.photo_get(access, pk)
    score = selectors.current_score(photo)
    return render(
        request,
        "measurements/photo_detail.html",
        {
            "photo": photo,
            "patient": photo.patient,
            "score": score,
            "metrics": selectors.metric_table(score),
            "scores": photo.scores.defer("landmarks").order_by("-created_at"),
            "earlier": Photo.objects.filter(visit=photo.visit, expression=photo.expression, is_current=False)
            .exclude(pk=photo.pk)
            .order_by("-uploaded_at"),
            "can_see_images": access.can_see_identifiers(photo.patient),
            "has_overlay": bool(score and score.landmarks),
            "can_edit": access.can_change(photo.patient),
            "replace_form": ReplacePhotoForm(),
            "engine_version": engine.ENGINE_VERSION,
        },
    )


@login_required
@require_POST
def photo_replace(request, pk):
    access = patient_selectors.require_role(request.user)
    photo = selectors.photo_get(access, pk)
    if not access.can_edit(photo.patient):
        raise PermissionDenied("You can view this photo but not replace it.")
    form = ReplacePhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a photo to upload as the retake.")
        return redirect(photo)
    outcome = _upload_one(request, visit=photo.visit, expression=photo.expression, upload=form.cleaned_data["photo"])
    if not outcome.saved:
        messages.error(request, f"“{outcome.filename}” {outcome.message}")
        return redirect(photo)
    messages.success(
        request, f"Retake “{outcome.filename}” {outcome.message} It replaces the earlier photo in the outcome tables."
    )
    return redirect(f"{photo.patient.get_absolute_url()}#photos")


def _image_response(name: str) -> FileResponse:
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    # Faces are identifiers: a shared clinic workstation must keep none in its cache after sign-out.
    response["Cache-Control"] = "no-store"
    return response


def _not_ready(message: str) -> HttpResponse:
    response = HttpResponseNotFound(message, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@login_required
def photo_image(request, pk, kind):
    """Serve a derived image the worker made. Never decodes the original here (see photo_derive_images)."""
    access = patient_selectors.require_role(request.user)
    if kind not in selectors.DERIVED_KINDS:
        raise Http404("No such image.")
    photo = selectors.photo_get(access, pk, images=True)
    score = None
    if kind == "overlay":
        score = selectors.current_score(photo)
        if score is None or not score.landmarks:
            raise Http404("This photo has no overlay: it is not scored yet, or no face was found.")
    name = selectors.derived_image_name(photo, kind, score)
    if not default_storage.exists(name):
        if photo.failure_code == "unreadable":  # engine.errors.UNREADABLE: there will never be an image
            return _not_ready("This file could not be decoded, so there is no image to show; upload a retake.")
        return _not_ready("This image is not ready yet: it is made when the photo has been scored. Reload shortly.")
    return _image_response(name)


@login_required
@require_POST
def photo_retry_scoring(request, pk):
    access = patient_selectors.require_role(request.user)
    photo = selectors.photo_get(access, pk)
    if photo.patient.study_id not in access.data_manager_study_ids:
        raise PermissionDenied("Only the study's data managers retry scoring.")
    try:
        services.photo_retry_scoring(photo_id=photo.pk, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{photo} is back in the scoring queue.")
    return redirect("dashboard")


@never_cache
@login_required
def photos_status(request):
    access = patient_selectors.require_role(request.user)
    try:
        ids = [int(i) for i in request.GET.get("ids", "").split(",") if i]
    except ValueError:
        return JsonResponse({"error": "ids must be comma-separated numbers"}, status=400)
    photos = selectors.photos_status(access, ids)
    return JsonResponse(
        {str(p.pk): {"status": p.status, "label": p.get_status_display(), "reason": p.failure_reason} for p in photos}
    )
