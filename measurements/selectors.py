"""Reads of photos and scores, always through the patient's access (patients.selectors)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from patients.missing_codes import ItemKind, MissingItem, visit_missing_items
from patients.models import Patient, RecordStatus, Study, Visit
from patients.selectors import Access, patients_visible

from . import engine, trend
from .models import Expression, Photo, PhotoScore


def photo_get(access: Access, pk: int, *, images: bool = False) -> Photo:
    """A photo the user may see. Faces are identifiers: images need identifier access."""
    photo = (
        Photo.objects.select_related("patient__study", "patient__site", "visit__scheduled_visit", "uploaded_by")
        .filter(pk=pk, patient__in=patients_visible(access))
        .first()
    )
    if photo is None or (images and not access.can_see_identifiers(photo.patient)):
        raise Http404("No such photo.")
    return photo


DERIVED_KINDS = ("thumbnail", "view", "overlay")


def derived_image_name(photo: Photo, kind: str, score: PhotoScore | None = None) -> str:
    """Where the worker keeps a derived image; the image view only serves what is there."""
    if kind == "overlay":
        if score is None:
            raise ValueError("An overlay belongs to a score.")
        # A photo framed from its visit's reference is drawn again when the reference changes.
        scaled = f"-scale{score.scale_photo_id}" if score.scaled_from_reference else ""
        return f"derived/overlays/{photo.sha256}-{score.engine_version}{scaled}.jpg"
    if kind not in DERIVED_KINDS:
        raise ValueError(f"No derived image {kind!r}.")
    return f"derived/{kind}/{photo.sha256}.jpg"


def current_score(photo: Photo) -> PhotoScore | None:
    """The score from the running engine, else the newest one (prefetched as `scores`)."""
    scores = list(photo.scores.all())
    for score in scores:
        if score.engine_version == engine.ENGINE_VERSION:
            return score
    return max(scores, key=lambda s: s.created_at, default=None)


@dataclass
class PhotoSlot:
    expression: str
    label: str
    photo: Photo | None
    score: PhotoScore | None
    retakes: int
    missing: MissingItem | None = None  # the missing-data code that stands for an absent photo


@dataclass
class VisitPhotos:
    visit: Visit
    slots: list[PhotoSlot]

    @property
    def any_photo(self) -> bool:
        return any(slot.photo for slot in self.slots)

    @property
    def empty_slots(self) -> list[PhotoSlot]:
        return [slot for slot in self.slots if slot.photo is None]


def patient_photos(patient: Patient) -> list[VisitPhotos]:
    """Every recorded visit with one slot per expression of the standard set, in four queries."""
    visits = list(
        patient.visits.filter(status=RecordStatus.RECORDED)
        .select_related("scheduled_visit")
        .order_by("scheduled_visit__day_offset")
    )
    photos = (
        Photo.objects.filter(visit__in=visits)
        .prefetch_related(Prefetch("scores", queryset=PhotoScore.objects.defer("landmarks")))
        .order_by("uploaded_at")
    )
    current: dict = {}
    retakes: dict = defaultdict(int)
    for photo in photos:
        if photo.is_current:
            current[(photo.visit_id, photo.expression)] = photo
        else:
            retakes[(photo.visit_id, photo.expression)] += 1
    coded = visit_missing_items(visits)
    result = []
    for visit in visits:
        slots = []
        for expression, label in Expression.choices:
            slot_photo = current.get((visit.pk, expression))
            slots.append(
                PhotoSlot(
                    expression=expression,
                    label=label,
                    photo=slot_photo,
                    score=current_score(slot_photo) if slot_photo else None,
                    retakes=retakes[(visit.pk, expression)],
                    missing=coded.get(visit.pk, {}).get((ItemKind.PHOTO, expression)),
                )
            )
        result.append(VisitPhotos(visit=visit, slots=slots))
    return result


def photos_scoring_errors(access: Access) -> QuerySet[Photo]:
    """Photos the scoring service gave up on, in the studies the user manages: the data manager's to-do."""
    return (
        Photo.objects.filter(
            status=Photo.Status.FAILED,
            failure_code=Photo.SCORING_ERROR,
            patient__study_id__in=access.data_manager_study_ids,
        )
        .select_related("patient", "visit__scheduled_visit")
        .order_by("uploaded_at")
    )


def photos_status(access: Access, ids: list[int]) -> QuerySet[Photo]:
    return Photo.objects.filter(pk__in=ids[:200], patient__in=patients_visible(access)).only(
        "pk", "status", "failure_reason", "failure_code", "patient_id"
    )


def metric_rows(score: PhotoScore | None) -> list[tuple]:
    if score is None or not score.metrics:
        return []
    return [(d, score.metrics[d.name]) for d in engine.METRIC_DEFINITIONS if d.name in score.metrics]


@dataclass
class MetricTableRow:
    label: str
    unit: str
    description: str
    right: float | None = None
    left: float | None = None
    deviation: float | None = None
    signed: float | None = None
    ratio: float | None = None  # affected / unaffected (the eye measures)
    value: float | None = None  # whole-face measures


def metric_table(score: PhotoScore | None) -> list[MetricTableRow]:
    """One row per measurement: right, left, deviation and signed side by side, as a clinician reads them."""
    rows: dict[str, MetricTableRow] = {}
    for definition, value in metric_rows(score):
        key = definition.base or definition.name
        row = rows.setdefault(
            key,
            MetricTableRow(
                label=engine.METRICS_BY_NAME[definition.name].label.split(",")[0].removesuffix(" deviation"),
                unit=definition.unit,
                description=definition.description,
            ),
        )
        setattr(row, definition.side or "value", value)
    return list(rows.values())


# The panel on the patient page: the primary outcome on the photos it is read from (docs/metrics.md).
TREND_METRIC = "commissure_height_deviation_mm"
TREND_EXPRESSIONS = (Expression.SMILE_CLOSED, Expression.SMILE_OPEN, Expression.REST)


@dataclass
class OutcomeTrend:
    expression: str
    label: str
    metric_label: str
    unit: str
    points: list[trend.TrendPoint]
    svg: str


def patient_outcome_trends(visit_photos: list[VisitPhotos]) -> list[OutcomeTrend]:
    """Per expression, the current photo's score at each recorded visit against the baseline's.

    From `patient_photos` (no further query). An expression with no scored photo at all is left
    out; a visit without a scored photo is a gap. Without a recorded baseline there is nothing to
    compare with, and the change columns stay empty.
    """
    definition = engine.METRICS_BY_NAME[TREND_METRIC]
    trends = []
    for expression in TREND_EXPRESSIONS:
        values: list[tuple[str, float | None]] = []
        for vp in visit_photos:
            slot = next(s for s in vp.slots if s.expression == expression)
            score = slot.score if slot.score is not None and slot.score.passed else None
            values.append((vp.visit.scheduled_visit.name, score.metrics.get(TREND_METRIC) if score else None))
        if all(value is None for _, value in values):
            continue
        if not visit_photos[0].visit.scheduled_visit.is_baseline:
            values.insert(0, ("Baseline", None))
        points = trend.against_baseline(values)
        label = Expression(expression).label
        trends.append(
            OutcomeTrend(
                expression=expression,
                label=label,
                metric_label=definition.label,
                unit=definition.unit,
                points=points,
                svg=trend.sparkline_svg(points, title=f"{definition.label}, {label}", unit=definition.unit),
            )
        )
    return trends


# The pace of scoring is read from the photos scored in this recent window (at most PACE_PHOTOS of
# them): long enough to smooth one slow photo, short enough that a pause (make run stopped and
# started again) does not drag the estimate down.
PACE_WINDOW = timedelta(minutes=5)
PACE_PHOTOS = 50


@dataclass(frozen=True)
class ScoringProgress:
    """How far the scoring of a study's photos has got, while some still wait."""

    study: Study
    done: int  # scored or failed a quality check
    total: int
    being_scored: int
    seconds_left: float | None  # None: no photo scored lately, so no pace to go by

    @property
    def waiting(self) -> int:
        return self.total - self.done

    @property
    def counted(self) -> str:
        return f"{self.done:,} of {self.total:,}"

    @property
    def time_left(self) -> str:
        if self.seconds_left is None:
            return ""
        minutes = round(self.seconds_left / 60)
        return "under a minute" if minutes < 1 else f"about {minutes} min"


def scoring_progress(access: Access, *, study: Study | None = None) -> list[ScoringProgress]:
    """The studies (of the user's patients) with photos still queued or being scored."""
    photos = Photo.objects.filter(patient__in=patients_visible(access), is_current=True)
    if study is not None:
        photos = photos.filter(patient__study=study)
    finished = [Photo.Status.SCORED, Photo.Status.FAILED]
    counts = (
        photos.order_by()
        .values("patient__study")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(status__in=finished)),
            being_scored=Count("pk", filter=Q(status=Photo.Status.PROCESSING)),
        )
        .filter(done__lt=F("total"))
    )
    rows = {row["patient__study"]: row for row in counts}
    since = timezone.now() - PACE_WINDOW
    progress = []
    for each in Study.objects.filter(pk__in=rows).order_by("code"):
        row = rows[each.pk]
        recent = [
            at
            for at in photos.filter(patient__study=each, scored_at__gte=since)
            .order_by("-scored_at")
            .values_list("scored_at", flat=True)[:PACE_PHOTOS]
            if at is not None
        ]
        seconds_left = None
        if len(recent) >= 2 and recent[0] > recent[-1]:
            per_photo = (recent[0] - recent[-1]).total_seconds() / (len(recent) - 1)
            seconds_left = per_photo * (row["total"] - row["done"])
        progress.append(
            ScoringProgress(
                study=each,
                done=row["done"],
                total=row["total"],
                being_scored=row["being_scored"],
                seconds_left=seconds_left,
            )
        )
    return progress
