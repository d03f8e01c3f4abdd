"""Which recorded visits lack which forms and photos: the coordinator's report of missing data.

A selector. The visit's own fields (House–Brackmann grade, Sunnybrook composite) and the study's
own outcomes (`StudyOutcome`) are checked here; other apps add what they hold about a visit without
this app importing theirs (measurements: the standard photo set), as `patients.history` does: each
source is `source(visits) -> {visit id: [what is missing]}`.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .missing_codes import GRADE_ITEMS, ItemKind, visit_missing_items
from .models import RecordStatus, StudyOutcome, Visit, VisitOutcomeValue
from .selectors import Access, patients_visible
from .services.missing_codes import photo_items

_SOURCES: list = []


def register_source(source) -> None:
    if source not in _SOURCES:
        _SOURCES.append(source)


@dataclass
class VisitGaps:
    visit: Visit
    missing: list[str] = field(default_factory=list)
    coded: list[str] = field(default_factory=list)  # items marked missing, with their code: not gaps


@dataclass
class MissingDataReport:
    visits: list[VisitGaps]  # recorded visits with at least one gap, by patient and date
    visits_checked: int
    counts: list[tuple[str, int]]  # each kind of gap with how many visits have it, most first


def missing_data_report(access: Access, *, site_id: int | None = None) -> MissingDataReport:
    """Every recorded (not voided) visit of the patients this user may see, with what it lacks.
    A fixed number of queries: one for the visits, one per kind of record checked."""
    patients = patients_visible(access)
    if site_id is not None:
        patients = patients.filter(site_id=site_id)
    visits = list(
        Visit.objects.filter(patient__in=patients, status=RecordStatus.RECORDED)
        .select_related("patient__site", "scheduled_visit")
        .order_by("patient__study_code", "date_performed", "id")
    )
    gaps: dict[int, list[str]] = defaultdict(list)
    coded_items = visit_missing_items(visits)
    coded: dict[int, list[str]] = defaultdict(list)

    def gap(visit, kind: str, item_code: str, label: str) -> None:
        # An item marked missing with a code is accounted for: reported with its code, not as a gap.
        item = coded_items.get(visit.pk, {}).get((kind, item_code))
        if item is None:
            gaps[visit.pk].append(label)
        else:
            coded[visit.pk].append(f"{label}: {item.get_code_display().lower()}")

    for visit in visits:
        for name, label in GRADE_ITEMS.items():
            if getattr(visit, name) is None:
                gap(visit, ItemKind.GRADE, name, label)
    outcomes = defaultdict(list)
    for outcome in StudyOutcome.objects.filter(study_id__in={v.patient.study_id for v in visits}).order_by("id"):
        outcomes[outcome.study_id].append(outcome)
    entered = set(VisitOutcomeValue.objects.filter(visit__in=visits).values_list("visit_id", "outcome_id"))
    for visit in visits:
        for outcome in outcomes[visit.patient.study_id]:
            if (visit.pk, outcome.pk) not in entered:
                gap(visit, ItemKind.OUTCOME, outcome.code, outcome.name)
    for source in _SOURCES:
        for visit_id, missing in source(visits).items():
            gaps[visit_id].extend(missing)
    for visit_id, items in coded_items.items():  # the photo codes: the sources leave coded photos out
        coded[visit_id] += [
            f"Photo: {photo_items().get(item.item_code, item.item_code)}: {item.get_code_display().lower()}"
            for (kind, _), item in items.items()
            if kind == ItemKind.PHOTO
        ]
    rows = [VisitGaps(visit, gaps[visit.pk], coded[visit.pk]) for visit in visits if gaps[visit.pk]]
    counts = Counter(item for row in rows for item in row.missing)
    return MissingDataReport(visits=rows, visits_checked=len(visits), counts=counts.most_common())
