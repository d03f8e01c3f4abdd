"""Writes for photos: upload, scoring (called by the worker), the sweep and rescoring.

Where data could be lost, and why it is not:
- Upload: the original bytes are written to storage first, then the row is
  committed; if the row fails, the file is removed again, so no row ever points
  at a missing file. Queueing happens only after commit and a dead broker only
  logs: the photo stays `pending` and the sweep queues it later.
- Scoring: a worker claims the photo with a conditional UPDATE and a fresh
  token; the score row and the status change are written in one transaction
  that checks the token again, so a redelivered or duplicate task can never
  write a second score or overwrite a newer claim.
"""

import hashlib
import io
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from patients.audit import set_history_reason, set_history_user
from patients.models import Patient, RecordStatus, Visit

from . import engine
from .models import Expression, Photo, PhotoScore

logger = logging.getLogger(__name__)

# PIL names a JPEG that carries a second picture (an HDR gain map, a depth map, a preview) "MPO";
# phones write these routinely and the first picture is an ordinary JPEG.
ACCEPTED_FORMATS = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
}
MAX_PIXELS = 100_000_000  # well above any phone camera, well below a decompression bomb


def _stale_claim() -> timedelta:
    return timedelta(seconds=settings.PHOTO_STALE_CLAIM_SECONDS)


def _stale_queue() -> timedelta:
    return timedelta(seconds=settings.PHOTO_STALE_QUEUE_SECONDS)


def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


@dataclass(frozen=True)
class UploadInfo:
    content_type: str
    width: int
    height: int


def _file_label(filename: str) -> str:
    return f"“{filename}”" if filename else "The file"


def photo_check_size(size: int, *, filename: str = "") -> None:
    """Refuse an empty or oversized file; callers with an upload check this before reading it."""
    limit_mb = settings.PHOTO_MAX_UPLOAD_MB
    if not size:
        raise ValidationError(f"{_file_label(filename)} is empty (0 bytes).", code="empty")
    if size > limit_mb * 1024 * 1024:
        raise ValidationError(
            f"{_file_label(filename)} is {size / 1024 / 1024:.1f} MB, above the {limit_mb} MB limit.",
            code="too_large",
        )


def photo_inspect(data: bytes, *, filename: str = "") -> UploadInfo:
    """Refuse what is not a photo we can take, before anything is stored. Reads only the header."""
    name = _file_label(filename)
    photo_check_size(len(data), filename=filename)
    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        # PIL refuses on its own above ~179 M pixels, before our own check below can run.
        raise ValidationError(
            f"{name} claims far more pixels than any camera takes, above the "
            f"{MAX_PIXELS // 1_000_000}-megapixel limit; upload the original photo.",
            code="too_many_pixels",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValidationError(f"{name} is not a JPEG, PNG, WebP or HEIC photo.", code="not_an_image") from None
    if fmt not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"{name} is a {fmt} image; upload a JPEG, PNG, WebP or HEIC photo.", code="unsupported_format"
        )
    if width * height > MAX_PIXELS:
        raise ValidationError(
            f"{name} is {width} × {height} pixels, above the {MAX_PIXELS // 1_000_000}-megapixel limit.",
            code="too_many_pixels",
        )
    return UploadInfo(content_type=ACCEPTED_FORMATS[fmt], width=width, height=height)


def _enqueue(photo_id: int) -> None:
    """Queue scoring after commit. A broker that is down is logged, never raised: the sweep retries."""
    from .tasks import score_photo

    try:
        score_photo.delay(photo_id)
    except Exception:  # noqa: BLE001 - any broker failure: kombu, redis and socket errors alike
        logger.warning("Could not queue photo %s for scoring; the sweep will retry.", photo_id, exc_info=True)
        return
    Photo.objects.filter(pk=photo_id, status=Photo.Status.PENDING).update(queued_at=timezone.now())


def photo_upload(*, visit: Visit, expression: str, data: bytes, filename: str, by: User) -> Photo:
    """Store a visit's photo untouched and queue it for scoring. A retake replaces the current photo."""
    if expression not in Expression.values:
        raise ValidationError({"expression": f"Unknown expression {expression!r}."})
    patient = visit.patient
    if visit.status != RecordStatus.RECORDED:
        raise ValidationError("This visit has been voided; photos cannot be added to it.")
    if patient.status != Patient.Status.ENROLLED:
        raise ValidationError(f"{patient} is {patient.get_status_display().lower()}; no new photos can be added.")
    info = photo_inspect(data, filename=filename)
    digest = hashlib.sha256(data).hexdigest()
    existing = Photo.objects.filter(sha256=digest).select_related("patient", "visit__scheduled_visit").first()
    if existing:
        raise DuplicatePhoto(existing)

    photo = Photo(
        patient=patient,
        visit=visit,
        expression=expression,
        original_filename=filename[:255],
        content_type=info.content_type,
        size_bytes=len(data),
        sha256=digest,
        uploaded_by=by,
    )
    # Storage first: if it fails, nothing is in the database. If the database then fails, the
    # file is removed below, so a row never points at a missing file and no orphan is left.
    photo.original.save(filename or "photo", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            previous = (
                Photo.objects.select_for_update().filter(visit=visit, expression=expression, is_current=True).first()
            )
            if previous:
                # Out of the way of the one-current-photo constraint first; its audited
                # change, with what replaced it, is saved just below.
                Photo.objects.filter(pk=previous.pk).update(is_current=False)
            set_history_user(photo, by)
            set_history_reason(photo, "Uploaded")
            photo.save()
            if previous:
                previous.is_current = False
                previous.replaced_by = photo
                set_history_user(previous, by)
                set_history_reason(previous, "Replaced by a retake")
                previous.save(update_fields=["is_current", "replaced_by"])
            transaction.on_commit(lambda: _enqueue(photo.pk))
    except IntegrityError:
        default_storage.delete(photo.original.name)
        existing = Photo.objects.filter(sha256=digest).select_related("patient", "visit__scheduled_visit").first()
        if existing:  # the same file uploaded twice at the same moment
            raise DuplicatePhoto(existing) from None
        raise ValidationError(
            "Another photo for this expression was uploaded at the same moment; reload the page to see it "
            "and upload this one again as a retake if it is the better photo.",
            code="concurrent_upload",
        ) from None
    except Exception:
        default_storage.delete(photo.original.name)
        raise
    return photo


class DuplicatePhoto(ValidationError):
    def __init__(self, existing: Photo):
        self.existing = existing
        super().__init__(
            f"This exact file was already uploaded for {existing.patient}, "
            f"{existing.visit.scheduled_visit.name}, {existing.get_expression_display()}.",
            code="duplicate",
        )


def photo_claim(*, photo_id: int) -> uuid.UUID | None:
    """Atomically take a photo for scoring. None when another worker has it or it is done."""
    now = timezone.now()
    token = uuid.uuid4()
    # One conditional UPDATE: of two workers racing, the second re-reads the row after the
    # first commits, no longer matches, and updates nothing. A claim older than PHOTO_STALE_CLAIM_SECONDS
    # belongs to a dead worker and may be taken over.
    updated = (
        Photo.objects.filter(pk=photo_id)
        .filter(Q(status=Photo.Status.PENDING) | Q(status=Photo.Status.PROCESSING, claimed_at__lt=now - _stale_claim()))
        .update(status=Photo.Status.PROCESSING, claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    )
    return token if updated == 1 else None


def photo_score(*, photo_id: int) -> str:
    """Score one photo: the only place where the engine meets the database. Returns the outcome."""
    token = photo_claim(photo_id=photo_id)
    if token is None:
        return "skipped"
    photo = Photo.objects.select_related("patient").get(pk=photo_id)
    existing = photo.scores.filter(engine_version=engine.ENGINE_VERSION).first()
    if existing is None:
        with photo.original.open("rb") as handle:  # through the storage API: works on shared storage
            data = handle.read()
        result = engine.score_image_bytes(data, expression=photo.expression, affected_side=photo.patient.affected_side)
    else:
        result = None  # scored before a crash lost the status update
    return _photo_save_result(photo=photo, token=token, result=result)


def _score_as_result(score: PhotoScore):
    """A stored score in the engine's own shape, for drawing."""
    import numpy as np

    return engine.ScoreResult(
        status=score.status,
        reason=score.reason,
        engine_version=score.engine_version,
        model_version=score.model_version,
        image_size=(score.image_width, score.image_height) if score.image_width and score.image_height else None,
        mm_per_px=score.mm_per_px,
        metrics=score.metrics,
        landmarks=np.asarray(score.landmarks, dtype=float) if score.landmarks else None,
    )


def photo_overlay(*, photo: Photo, score: PhotoScore) -> str:
    """The quality-check overlay of a score, drawn on first request and kept in storage.

    Drawn on demand rather than by the worker: it is for people to look at, and
    most photos are never opened one by one. Re-encoded, so it carries no EXIF.
    """
    name = f"derived/overlays/{photo.sha256}-{score.engine_version}.jpg"
    if default_storage.exists(name):
        return name
    with photo.original.open("rb") as handle:
        decoded = engine.decode_image(handle.read(), target_long_side=2048)
    overlay = engine.render_overlay(*engine.crop_to_face(decoded.rgb, _score_as_result(score)))
    buffer = io.BytesIO()
    overlay.convert("RGB").save(buffer, format="JPEG", quality=88)
    if not default_storage.exists(name):  # two viewers at once: the first write wins
        default_storage.save(name, ContentFile(buffer.getvalue()))
    return name


@transaction.atomic
def _photo_save_result(*, photo: Photo, token: uuid.UUID, result) -> str:
    locked = Photo.objects.select_for_update().get(pk=photo.pk)
    if locked.claim_token != token or locked.status != Photo.Status.PROCESSING:
        return "superseded"  # another worker reclaimed it after we stalled; its result wins
    score = locked.scores.filter(engine_version=engine.ENGINE_VERSION).first()
    if score is None:
        score = PhotoScore.objects.create(
            photo=locked,
            engine_version=result.engine_version,
            model_version=result.model_version,
            status=result.status,
            reason=result.reason or "",
            mm_per_px=result.mm_per_px,
            metrics=result.metrics or {},
            landmarks=_landmarks_list(result),
            image_width=(result.image_size or (None, None))[0],
            image_height=(result.image_size or (None, None))[1],
        )
    if score.status == "scored":
        locked.status, locked.failure_code, locked.failure_reason = Photo.Status.SCORED, "", ""
    else:
        locked.status, locked.failure_code = Photo.Status.FAILED, score.status
        locked.failure_reason = score.reason or "The photo failed a quality check."
    locked.scored_at = timezone.now()
    locked.claim_token = None
    set_history_reason(locked, f"Scored by engine {engine.ENGINE_VERSION}: {score.status}")
    locked.save()
    return score.status


def _landmarks_list(result) -> list:
    landmarks = getattr(result, "landmarks", None)
    if landmarks is None:
        return []
    return [[round(float(x), 2), round(float(y), 2)] for x, y in landmarks]


def photo_release(*, photo_id: int, error: str) -> None:
    """Give a photo back to the queue after a worker error (the task retries it or the sweep does)."""
    Photo.objects.filter(pk=photo_id, status=Photo.Status.PROCESSING).update(
        status=Photo.Status.PENDING, claim_token=None, claimed_at=None, queued_at=None
    )
    logger.warning("Scoring photo %s failed with %s; released for retry.", photo_id, error)


MAX_ATTEMPTS = 5


def photos_sweep() -> dict:
    """Re-queue photos that a dead worker or a missing broker left behind. Run by Celery beat."""
    now = timezone.now()
    stale_processing = Photo.objects.filter(status=Photo.Status.PROCESSING, claimed_at__lt=now - _stale_claim())
    reset = stale_processing.update(status=Photo.Status.PENDING, claim_token=None, claimed_at=None, queued_at=None)
    give_up = Photo.objects.filter(status=Photo.Status.PENDING, attempts__gte=MAX_ATTEMPTS)
    gave_up = give_up.update(
        status=Photo.Status.FAILED,
        failure_code="engine_error",
        failure_reason="Scoring failed repeatedly; a data manager has been notified. Try uploading the photo again.",
    )
    waiting = Photo.objects.filter(status=Photo.Status.PENDING).filter(queued_at__isnull=True) | Photo.objects.filter(
        status=Photo.Status.PENDING, queued_at__lt=now - _stale_queue()
    )
    queued = 0
    for photo_id in waiting.values_list("pk", flat=True)[:1000]:
        _enqueue(photo_id)
        queued += 1
    return {"reset": reset, "queued": queued, "gave_up": gave_up}


def photos_rescore(*, study_code: str | None = None) -> int:
    """Queue every photo without a score from the current engine. Old scores stay alongside."""
    photos = Photo.objects.exclude(scores__engine_version=engine.ENGINE_VERSION).exclude(
        status__in=[Photo.Status.PROCESSING]
    )
    if study_code:
        photos = photos.filter(patient__study__code=study_code)
    ids = list(photos.values_list("pk", flat=True))
    Photo.objects.filter(pk__in=ids).update(status=Photo.Status.PENDING, queued_at=None, attempts=0)
    for photo_id in ids:
        _enqueue(photo_id)
    return len(ids)
