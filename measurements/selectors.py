"""Reads of photos and scores, always through the patient's access (patients.selectors)."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from patients.models import Patient, RecordStatus, Visit
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
    """Every recorded visit with one slot per expression of the standard set, in three queries."""
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
