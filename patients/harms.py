"""Harms per arm: the adverse-event table a BoNT-A trial reports (CONSORT harms extension).

A selector: reads only, in three queries, with no free text (the "other" events are counted as
"Other", never named), so it can be shown to investigators and exported. The outcomes page shows it.

Counted: recorded (not voided) events of randomized patients, by the arm they were randomized to.
Events carried over from the old free-text field and not yet reviewed have no severity: they are
counted under "Not graded" so that the table says how many still need review.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count

from .adverse_event_models import AdverseEvent, AdverseEventTerm, SeriousnessCriterion, Severity
from .models import RecordStatus, Study, TreatmentArm

NOT_GRADED = "Not graded"
SEVERITY_COLUMNS = [label for _, label in Severity.choices] + [NOT_GRADED]


@dataclass
class ArmHarms:
    arm: TreatmentArm
    patients: int  # randomized to the arm: the denominator
    patients_with_event: int = 0
    patients_with_serious_event: int = 0
    events: int = 0
    serious_events: int = 0

    @property
    def percent_with_event(self) -> float | None:
        return 100 * self.patients_with_event / self.patients if self.patients else None

    @property
    def percent_with_serious_event(self) -> float | None:
        return 100 * self.patients_with_serious_event / self.patients if self.patients else None


@dataclass
class TermRow:
    term: str
    label: str
    # arm id -> severity label -> events; "total" -> events of the term in that arm
    counts: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def cells(self, arms: list[ArmHarms]) -> list[list[int]]:
        """Per arm, the events by severity column then the total: the table's row, in order."""
        return [
            [self.counts[a.arm.pk][label] for label in SEVERITY_COLUMNS] + [self.counts[a.arm.pk]["total"]]
            for a in arms
        ]


@dataclass
class SeriousEvent:
    arm: str
    study_code: str
    term: str  # never the free text
    onset_date: date
    criterion: str
    relatedness: str
    outcome: str


@dataclass
class HarmsTable:
    study: Study
    arms: list[ArmHarms]
    terms: list[TermRow]  # only terms that occurred, in the pick-list's order
    serious: list[SeriousEvent]
    severity_columns: list[str] = field(default_factory=lambda: list(SEVERITY_COLUMNS))


def harms_table(study: Study) -> HarmsTable:
    arms = {arm.pk: arm for arm in study.arms.order_by("id")}
    sizes = dict(
        study.patients.filter(arm__isnull=False)
        .values_list("arm_id")
        .annotate(n=Count("id"))
        .values_list("arm_id", "n")
    )
    per_arm = {pk: ArmHarms(arm=arm, patients=sizes.get(pk, 0)) for pk, arm in arms.items()}
    events = (
        AdverseEvent.objects.filter(patient__study=study, patient__arm__isnull=False, status=RecordStatus.RECORDED)
        .select_related("patient")
        .order_by("onset_date", "id")
    )
    term_labels = dict(AdverseEventTerm.choices)
    severity_labels = dict(Severity.choices)
    rows: dict[str, TermRow] = {}
    with_event: dict[int, set[int]] = defaultdict(set)
    with_serious: dict[int, set[int]] = defaultdict(set)
    serious: list[SeriousEvent] = []
    for event in events:
        arm_id = event.patient.arm_id
        harms = per_arm[arm_id]
        harms.events += 1
        with_event[arm_id].add(event.patient_id)
        row = rows.setdefault(event.term, TermRow(event.term, term_labels[event.term]))
        row.counts[arm_id][severity_labels.get(event.severity, NOT_GRADED)] += 1
        row.counts[arm_id]["total"] += 1
        if event.serious:
            harms.serious_events += 1
            with_serious[arm_id].add(event.patient_id)
            serious.append(
                SeriousEvent(
                    arm=arms[arm_id].name,
                    study_code=event.patient.study_code,
                    term=term_labels[event.term],
                    onset_date=event.onset_date,
                    criterion=SeriousnessCriterion(event.seriousness_criterion).label,
                    relatedness=event.get_relatedness_display() or NOT_GRADED,
                    outcome=event.get_outcome_display() or NOT_GRADED,
                )
            )
    for arm_id, harms in per_arm.items():
        harms.patients_with_event = len(with_event[arm_id])
        harms.patients_with_serious_event = len(with_serious[arm_id])
    order = {term: index for index, term in enumerate(AdverseEventTerm.values)}
    return HarmsTable(
        study=study,
        arms=list(per_arm.values()),
        terms=sorted(rows.values(), key=lambda r: order[r.term]),
        serious=serious,
    )
