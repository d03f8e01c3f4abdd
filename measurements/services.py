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
from patients.missing_codes import ItemKind
from patients.models import Patient, RecordStatus, Visit
from patients.services.common import require_study_open
from patients.services.missing_codes import missing_items_clear

from . import engine
from .models import Expression, Photo, PhotoScore
from .selectors import derived_image_name

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
# A clinical camera or phone takes at most ~50 MP (a 48-MP phone sensor is 8064 x 6048); anything
# larger is not a clinical photo, and decoding it would cost the worker gigabytes.
MAX_PIXELS = 50_000_000
# 8 bits per channel, as every camera's JPEG/HEIC/PNG export is. 16/32-bit and float modes
# decode to 2-4x the memory and come from scanners or editing software; a palette image is
# never a camera's output (and a tiny palette PNG can declare a huge canvas cheaply).
ACCEPTED_MODES = {"RGB", "RGBA", "L", "LA", "CMYK", "YCbCr"}
# Derived images, built by the worker after scoring and then only served (never decoded in a request).
THUMBNAIL_PX = 320
VIEW_PX = 2048


# The scoring task's time limits (measurements/tasks.py uses these). Scoring takes well under a
# second (docs/benchmarks.md); the limits only stop a task that hangs.
SCORING_SOFT_TIME_LIMIT = 45
SCORING_TIME_LIMIT = 60
# A claim older than the hard time limit cannot belong to a live task: Celery has killed it by
# then. The margin covers clock differences between worker and sweep. With the sweep every 30 s,
# a photo whose worker was killed is back in the queue at most ~100 s after its claim.
STALE_CLAIM_AFTER = timedelta(seconds=SCORING_TIME_LIMIT + 10)


def _stale_claim() -> timedelta:
    return STALE_CLAIM_AFTER


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


ACCEPTED_FORMATS_TEXT = "JPEG, PNG, WebP or HEIC"


def photo_upload_rules() -> str:
    """What the upload forms say where photos are chosen: the formats and the size limit enforced here."""
    return f"{ACCEPTED_FORMATS_TEXT} photos, up to {settings.PHOTO_MAX_UPLOAD_MB} MB each."


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


def _raw_mode(image: Image.Image) -> str:
    """The file's own pixel layout: PIL opens a 16-bit RGB PNG as mode RGB, its tile says RGB;16B."""
    tile = getattr(image, "tile", None) or []
    if not tile:
        return ""
    args = tile[0][3] if len(tile[0]) > 3 else ""
    return str(args[0] if isinstance(args, tuple) and args else args)


def _mode_problem(image: Image.Image) -> str | None:
    mode, raw = image.mode, _raw_mode(image)
    if mode in ("P", "PA", "1"):
        return "a palette (indexed-colour) image, which no camera produces"
    if mode not in ACCEPTED_MODES or ";16" in raw or ";32" in raw:
        bits = "32-bit" if mode in ("I", "F") or ";32" in raw else "16-bit"
        return f"a {bits} image ({mode})"
    return None


def photo_inspect(data: bytes, *, filename: str = "") -> UploadInfo:
    """Refuse what is not a photo we can take, before anything is stored. Reads only the header."""
    name = _file_label(filename)
    photo_check_size(len(data), filename=filename)
    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
            mode_problem = _mode_problem(image)
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
            f"{name} is {width} × {height} pixels ({width * height / 1_000_000:.0f} megapixels), above the "
            f"{MAX_PIXELS // 1_000_000}-megapixel limit of a clinical camera; upload the camera's original "
            "photo, or export it at a smaller size.",
            code="too_many_pixels",
        )
    if mode_problem:
        raise ValidationError(
            f"{name} is {mode_problem}; upload the camera's original 8-bit photo, or export it as an "
            "8-bit JPEG (“Save as JPEG” in the camera or editing software).",
            code="unsupported_mode",
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


def photo_upload(*, visit: Visit, expression: str, data: bytes, filename: str, by: User, queue: bool = True) -> Photo:
    """Store a visit's photo untouched and queue it for scoring. A retake replaces the current photo.

    ``queue=False`` is for a caller that scores the photo itself (the demo trial's parallel scoring);
    an unqueued photo is still pending, so the periodic sweep queues it if that caller never does.
    """
    if expression not in Expression.values:
        raise ValidationError({"expression": f"Unknown expression {expression!r}."})
    patient = visit.patient
    require_study_open(patient.study_id)  # before storing anything; again below, inside the transaction
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
            # The study may have been closed while the file was stored: the file is removed below.
            require_study_open(patient.study_id)
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
            # A photo coded missing at this visit now has its value: the code is voided ("value recorded").
            missing_items_clear(visit=visit, item_kind=ItemKind.PHOTO, item_codes=[expression], by=by)
            if queue:
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
    """The same bytes are already stored. The message says only that: which patient and visit hold
    the file is told (`described`) only to someone who may see that photo."""

    def __init__(self, existing: Photo):
        self.existing = existing
        super().__init__(
            "This exact file is already in the study; a photo file can be stored only once. "
            "Check that you chose the right file.",
            code="duplicate",
        )

    @property
    def described(self) -> str:
        existing = self.existing
        return (
            f"This exact file was already uploaded for {existing.patient}, "
            f"{existing.visit.scheduled_visit.name}, {existing.get_expression_display()}."
        )


def photo_claim(*, photo_id: int) -> uuid.UUID | None:
    """Atomically take a photo for scoring. None when another worker has it or it is done."""
    now = timezone.now()
    token = uuid.uuid4()
    # One conditional UPDATE: of two workers racing, the second re-reads the row after the
    # first commits, no longer matches, and updates nothing. A claim older than the hard time limit
    # cannot belong to a live task (STALE_CLAIM_AFTER) and may be taken over.
    updated = (
        Photo.objects.filter(pk=photo_id)
        .filter(Q(status=Photo.Status.PENDING) | Q(status=Photo.Status.PROCESSING, claimed_at__lt=now - _stale_claim()))
        .update(status=Photo.Status.PROCESSING, claimed_at=now, claim_token=token, attempts=F("attempts") + 1)
    )
    return token if updated == 1 else None


def photo_score(*, photo_id: int) -> str:
    """Score one photo: the only place where the engine meets the database. Returns the outcome.

    Not refused on a closed study (`require_study_open`): a photo uploaded before the database lock is
    still scored; scoring is the system measuring what was entered, not a coordinator's write. So are
    the sweep, a data manager's retry and a rescore after an engine upgrade (a new score row beside the
    old ones, which a statistician may need after the lock)."""
    token = photo_claim(photo_id=photo_id)
    if token is None:
        return "skipped"
    from .visit_scale import reference_geometry, score_needs_redo, visit_scale_reference

    photo = Photo.objects.select_related("patient").get(pk=photo_id)
    existing = photo.scores.filter(engine_version=engine.ENGINE_VERSION).first()
    # The visit's open-eye reference, for a photo whose own irises cannot set its frame and scale.
    reference = visit_scale_reference(visit_id=photo.visit_id, exclude_photo_id=photo.pk)
    if score_needs_redo(existing, reference):
        with photo.original.open("rb") as handle:  # through the storage API: works on shared storage
            data = handle.read()
        result = engine.score_image_bytes(
            data,
            expression=photo.expression,
            affected_side=photo.patient.affected_side,
            reference=reference_geometry(reference),
        )
    else:
        result = None  # scored before a crash lost the status update
    outcome = _photo_save_result(photo=photo, token=token, result=result, reference=reference)
    if photo.is_current and result is not None:
        from .visit_scale import visit_rescore_dependants

        with transaction.atomic():  # queued on commit
            visit_rescore_dependants(visit_id=photo.visit_id)
    return outcome


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


def _save_jpeg(name: str, image: Image.Image) -> str:
    # Re-encoded, so it carries no EXIF (no location, no camera serial).
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=88)
    if not default_storage.exists(name):  # two workers at once: the first write wins
        default_storage.save(name, ContentFile(buffer.getvalue()))
    return name


def _decode_for_derived(photo: Photo):
    with photo.original.open("rb") as handle:
        return engine.decode_image(handle.read(), target_long_side=VIEW_PX)


def photo_overlay(*, photo: Photo, score: PhotoScore, decoded=None) -> str:
    """The quality-check overlay of a score, kept in storage (drawn once, by the worker)."""
    name = derived_image_name(photo, "overlay", score)
    if default_storage.exists(name):
        return name
    decoded = decoded or _decode_for_derived(photo)
    overlay = engine.render_overlay(*engine.crop_to_face(decoded.rgb, _score_as_result(score)))
    return _save_jpeg(name, overlay)


def photo_derive_images(*, photo_id: int) -> list[str]:
    """Build what is missing of the preview, thumbnail and overlay of a scored or failed photo.

    Run by the worker after scoring, never in a web request: decoding a photo costs
    hundreds of megabytes at the pixel ceiling. Idempotent, so a retried task simply
    finishes the job. The original is decoded at most once.
    """
    photo = Photo.objects.get(pk=photo_id)
    if photo.status not in (Photo.Status.SCORED, Photo.Status.FAILED):
        return []
    score = photo.scores.filter(engine_version=engine.ENGINE_VERSION).first()
    wanted = [derived_image_name(photo, "view"), derived_image_name(photo, "thumbnail")]
    if score is not None and score.landmarks:
        wanted.append(derived_image_name(photo, "overlay", score))
    if all(default_storage.exists(name) for name in wanted):
        return wanted
    try:
        decoded = _decode_for_derived(photo)
    except engine.EngineError as exc:
        # Unreadable originals are already marked failed by scoring; there is nothing to show.
        logger.info("Photo %s has no derived images: %s", photo_id, exc.reason)
        return []
    view = Image.fromarray(decoded.rgb)
    _save_jpeg(wanted[0], view)
    thumbnail = view.copy()
    thumbnail.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    _save_jpeg(wanted[1], thumbnail)
    if score is not None and len(wanted) == 3:
        photo_overlay(photo=photo, score=score, decoded=decoded)
    return wanted


def _score_fields(*, photo: Photo, result, reference: PhotoScore | None) -> dict:
    scale_photo: Photo | None = None
    if result.scale_source == "reference" and reference is not None:
        scale_photo = reference.photo
    elif result.scale_source == "own":
        scale_photo = photo
    return {
        "engine_version": result.engine_version,
        "model_version": result.model_version,
        "status": result.status,
        "reason": result.reason or "",
        "mm_per_px": result.mm_per_px,
        "metrics": result.metrics or {},
        "landmarks": _landmarks_list(result),
        "image_width": (result.image_size or (None, None))[0],
        "image_height": (result.image_size or (None, None))[1],
        "scale_photo": scale_photo,
        "scale_note": (result.scale_note or "")[:200],
        "quality": {k: float(v) for k, v in (result.quality or {}).items()},
        **{name: (getattr(result, "pose", None) or {}).get(name) for name in ("yaw_deg", "pitch_deg", "roll_deg")},
    }


@transaction.atomic
def _photo_save_result(*, photo: Photo, token: uuid.UUID, result, reference: PhotoScore | None = None) -> str:
    locked = Photo.objects.select_for_update().get(pk=photo.pk)
    if locked.claim_token != token or locked.status != Photo.Status.PROCESSING:
        return "superseded"  # another worker reclaimed it after we stalled; its result wins
    score = locked.scores.filter(engine_version=engine.ENGINE_VERSION).first()
    if score is None:
        score = PhotoScore(photo=locked, **_score_fields(photo=locked, result=result, reference=reference))
        set_history_reason(score, "Scored")
        score.save()
    elif result is not None:
        # Scored again under the same engine because its scale reference changed: the score's
        # history keeps the values it replaces (nothing is lost), with why.
        before = score.scale_photo_id
        for name, value in _score_fields(photo=locked, result=result, reference=reference).items():
            setattr(score, name, value)
        set_history_reason(
            score,
            f"Scored again: scale reference changed from photo {before or 'none'} to photo "
            f"{score.scale_photo_id or 'none'}",
        )
        score.save()
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
        status=Photo.Status.PENDING, claim_token=None, claimed_at=None, queued_at=None, last_error=error[:2000]
    )
    logger.warning("Scoring photo %s failed with %s; released for retry.", photo_id, error)


MAX_ATTEMPTS = 5
GAVE_UP_REASON = (
    "Scoring failed repeatedly because of an error in the scoring service, not because of the photo. "
    "The photo is listed on the data manager's dashboard, where scoring can be retried once the cause "
    "is fixed; there is no need to upload it again."
)


def _history_of_bulk_change(ids: list[int], *, reason: str) -> None:
    """A bulk update() bypasses the audit trail: write the photos' new state into it, with why,
    so that the patient's history shows rescoring and scoring given up like any other change."""
    if ids:
        Photo.history.bulk_history_create(
            list(Photo.objects.filter(pk__in=ids)), update=True, default_change_reason=reason
        )


def photos_sweep() -> dict:
    """Re-queue photos that a dead worker or a missing broker left behind. Run by Celery beat."""
    now = timezone.now()
    stale_processing = Photo.objects.filter(status=Photo.Status.PROCESSING, claimed_at__lt=now - _stale_claim())
    reset = stale_processing.update(status=Photo.Status.PENDING, claim_token=None, claimed_at=None, queued_at=None)
    give_up = Photo.objects.filter(status=Photo.Status.PENDING, attempts__gte=MAX_ATTEMPTS)
    gave_up_ids = list(give_up.values_list("pk", flat=True))
    gave_up = give_up.filter(pk__in=gave_up_ids).update(
        status=Photo.Status.FAILED, failure_code=Photo.SCORING_ERROR, failure_reason=GAVE_UP_REASON
    )
    if gave_up_ids:
        logger.error(
            "Scoring gave up on photos %s after %s attempts; listed for data managers.", gave_up_ids, MAX_ATTEMPTS
        )
    _history_of_bulk_change(gave_up_ids, reason="Scoring failed repeatedly; given up")
    waiting = Photo.objects.filter(status=Photo.Status.PENDING).filter(queued_at__isnull=True) | Photo.objects.filter(
        status=Photo.Status.PENDING, queued_at__lt=now - _stale_queue()
    )
    queued = 0
    for photo_id in waiting.values_list("pk", flat=True)[:1000]:
        _enqueue(photo_id)
        queued += 1
    return {"reset": reset, "queued": queued, "gave_up": gave_up}


def photo_retry_scoring(*, photo_id: int, by) -> Photo:
    """Put a photo the scoring service gave up on back in the queue, with a fresh count of attempts.

    Audited: the history row records who retried it, when, and (last_error) the error it had failed with.
    """
    with transaction.atomic():
        photo = Photo.objects.select_for_update().get(pk=photo_id)
        if photo.status != Photo.Status.FAILED or photo.failure_code != Photo.SCORING_ERROR:
            raise ValidationError(
                "Only a photo whose scoring failed with a service error can be retried; this one is "
                f"“{photo.get_status_display()}”. A photo that failed a quality check needs a retake.",
                code="not_retryable",
            )
        photo.status, photo.failure_code, photo.failure_reason = Photo.Status.PENDING, "", ""
        photo.attempts, photo.claim_token, photo.claimed_at, photo.queued_at = 0, None, None, None
        set_history_user(photo, by)
        set_history_reason(photo, "Scoring retried by a data manager after repeated service errors")
        photo.save()
        transaction.on_commit(lambda: _enqueue(photo.pk))
    return photo


def photos_rescore(*, study_code: str | None = None) -> int:
    """Queue every photo without a score from the current engine. Old scores stay alongside."""
    photos = Photo.objects.exclude(scores__engine_version=engine.ENGINE_VERSION).exclude(
        status__in=[Photo.Status.PROCESSING]
    )
    if study_code:
        photos = photos.filter(patient__study__code=study_code)
    ids = list(photos.values_list("pk", flat=True))
    Photo.objects.filter(pk__in=ids).update(status=Photo.Status.PENDING, queued_at=None, attempts=0)
    _history_of_bulk_change(ids, reason=f"Queued for rescoring by engine {engine.ENGINE_VERSION}")
    for photo_id in ids:
        _enqueue(photo_id)
    return len(ids)
