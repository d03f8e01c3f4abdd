"""Which recorded visits lack which forms and photos: the coordinator's report of missing data.

A selector. The visit's own fields (House–Brackmann grade, a Sunnybrook composite typed in), the
scales the study grades item by item (`ScaleAssessment`: missing, or incomplete) and the study's
own outcomes (`StudyOutcome`) are checked here; other apps add what they hold about a visit without
this app importing theirs (measurements: the standard photo set), as `patients.history` does: each
source is `source(visits) -> {visit id: [what is missing]}`.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .missing_codes import GRADE_ITEMS, ItemKind, visit_missing_items
from .models import RecordStatus, StudyOutcome, Visit, VisitOutcomeValue
from .scale_models import SHORT_NAMES, GradingSource, ScaleAssessment
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
        .select_related("patient__site", "patient__study", "scheduled_visit")
        .order_by("patient__study_code", "date_performed", "id")
    )
    gaps: dict[int, list[str]] = defaultdict(list)
    graded = {
        (visit_id, scale): complete
        for visit_id, scale, complete in ScaleAssessment.objects.filter(
            visit__in=visits, source=GradingSource.IN_PERSON, status=RecordStatus.RECORDED
        ).values_list("visit_id", "scale", "complete")
    }
    coded_items = visit_missing_items(visits)
    coded: dict[int, list[str]] = defaultdict(list)

    def gap(visit, kind: str, item_code: str, label: str, coded_label: str | None = None) -> None:
        # An item marked missing with a code is accounted for: reported with its code, not as a gap.
        item = coded_items.get(visit.pk, {}).get((kind, item_code))
        if item is None:
            gaps[visit.pk].append(label)
        else:
            coded[visit.pk].append(f"{coded_label or label}: {item.get_code_display().lower()}")

    for visit in visits:
        if visit.house_brackmann is None:
            gap(visit, ItemKind.GRADE, "house_brackmann", GRADE_ITEMS["house_brackmann"])
        for scale in visit.patient.study.scales or []:
            if scale not in SHORT_NAMES:
                continue  # House-Brackmann: the visit's own field, above
            complete = graded.get((visit.pk, scale))
            if complete is False:  # an incomplete scale counts as missing
                gaps[visit.pk].append(f"{SHORT_NAMES[scale]} (incomplete)")
            elif complete is None and scale == "sunnybrook":
                # A composite typed in without items still counts as the visit's Sunnybrook grade; a
                # missing-data code on that composite accounts for it too.
                if visit.sunnybrook_composite is None:
                    gap(
                        visit,
                        ItemKind.GRADE,
                        "sunnybrook_composite",
                        SHORT_NAMES[scale],
                        GRADE_ITEMS["sunnybrook_composite"],
                    )
            elif complete is None:
                gaps[visit.pk].append(SHORT_NAMES[scale])
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
