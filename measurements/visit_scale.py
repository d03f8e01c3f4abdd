"""Visit-aware scoring: which photo of a visit lends its frame and scale to the others, and rescoring
the photos that depend on it when it changes (docs/metrics.md, "A visit-level frame and scale").

An eye-closure photo (and any photo whose own irises the engine doubts) takes its frame and
millimetre scale from the visit's reference: the first current photo, in `REFERENCE_ORDER`, that
scored on its own, trusted irises under the running engine. Its landmarks go to the engine as a
`ReferenceGeometry`; the engine stays pure. Scoring order does not matter:

- a dependant scored before any reference exists comes back `no_reference` (a stated reason on the
  photo, counted in the outcome exclusions); once a reference scores, it is queued again;
- when the reference changes (retaken, replaced, or a better-placed photo scored later), every
  dependant scored from another reference is queued again, and its score is replaced with the old
  values kept in the score's history;
- a visit left with no usable reference gives its eye-closure photos `no_reference` again.
"""

import logging

from django.db import transaction
from django.db.models import F

from . import engine
from .models import Photo, PhotoScore

logger = logging.getLogger(__name__)

# Rest first (the protocol's reference), then the other open-eye expressions, calmest first.
REFERENCE_ORDER: tuple[str, ...] = (
    "rest",
    "brow_raise",
    "smile_closed",
    "pucker",
    "lower_lip_depression",
    "smile_open",
)


def visit_scale_reference(*, visit_id: int, exclude_photo_id: int | None = None) -> PhotoScore | None:
    """The visit's reference score under the running engine, or None when no open-eye photo has
    scored on its own trusted irises."""
    scores = (
        PhotoScore.objects.filter(
            photo__visit_id=visit_id,
            photo__is_current=True,
            photo__expression__in=REFERENCE_ORDER,
            engine_version=engine.ENGINE_VERSION,
            status="scored",
            scale_photo_id=F("photo_id"),
            scale_note="",
        )
        .exclude(photo_id=exclude_photo_id)
        .select_related("photo")
    )
    ranked = sorted(scores, key=lambda s: REFERENCE_ORDER.index(s.photo.expression))
    return ranked[0] if ranked else None


def reference_geometry(score: PhotoScore | None) -> engine.ReferenceGeometry | None:
    if score is None or not score.landmarks:
        return None
    return engine.ReferenceGeometry.from_landmarks(score.landmarks, label=str(score.photo_id))


def score_needs_redo(score: PhotoScore | None, reference: PhotoScore | None) -> bool:
    """Whether a photo's score under the running engine must be computed (again) given the visit's
    current reference: it has none, it waited for a reference that now exists, or it was scaled
    from a reference that is no longer the visit's."""
    if score is None:
        return True
    if score.status == engine.errors.NO_REFERENCE:
        return reference is not None
    if score.scaled_from_reference:
        return reference is None or reference.photo_id != score.scale_photo_id
    return False


def visit_rescore_dependants(*, visit_id: int) -> list[int]:
    """Queue again every current photo of the visit whose score depends on a reference that has
    changed (or that was waiting for one). Returns their ids. Called after a photo of the visit is
    scored; a dependant's own rescoring changes no reference, so this never loops."""
    from .services import _enqueue, _history_of_bulk_change

    reference = visit_scale_reference(visit_id=visit_id)
    scores = PhotoScore.objects.filter(
        photo__visit_id=visit_id, photo__is_current=True, engine_version=engine.ENGINE_VERSION
    ).exclude(photo_id=reference.photo_id if reference else None)
    stale = [s.photo_id for s in scores if score_needs_redo(s, reference)]
    if not stale:
        return []
    ids = list(
        Photo.objects.filter(pk__in=stale, status__in=[Photo.Status.SCORED, Photo.Status.FAILED]).values_list(
            "pk", flat=True
        )
    )
    Photo.objects.filter(pk__in=ids).update(status=Photo.Status.PENDING, queued_at=None, attempts=0)
    _history_of_bulk_change(ids, reason="Queued for rescoring: the visit's scale reference photo changed")
    for photo_id in ids:
        transaction.on_commit(lambda photo_id=photo_id: _enqueue(photo_id))
    if ids:
        logger.info("Visit %s: photos %s queued again for their new scale reference.", visit_id, ids)
    return ids
