"""Reads of the trial's records, always through the user's access.

`access_for(user)` is the one place that decides who sees what; views ask it and
raise Http404 (for a record the user may not see: its existence is not revealed)
or PermissionDenied (for an action the user may not take on a record they see).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst

from . import identifiers
from .models import (
    InjectionPoint,
    InjectionSession,
    Patient,
    RecordStatus,
    ScheduledVisit,
    Site,
    Study,
    StudyRole,
    TreatmentArm,
    Visit,
)


@dataclass(frozen=True)
class Access:
    coordinator_site_ids: frozenset[int] = field(default_factory=frozenset)
    investigator_study_ids: frozenset[int] = field(default_factory=frozenset)
    data_manager_study_ids: frozenset[int] = field(default_factory=frozenset)
    api_study_ids: frozenset[int] = field(default_factory=frozenset)
    coordinator_study_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_coordinator(self) -> bool:
        return bool(self.coordinator_site_ids)

    @property
    def is_investigator(self) -> bool:
        return bool(self.investigator_study_ids)

    @property
    def is_data_manager(self) -> bool:
        return bool(self.data_manager_study_ids)

    @property
    def has_any_role(self) -> bool:
        return bool(self.coordinator_site_ids or self.investigator_study_ids or self.data_manager_study_ids)

    @property
    def study_ids(self) -> frozenset[int]:
        return self.coordinator_study_ids | self.investigator_study_ids | self.data_manager_study_ids

    def can_view(self, patient: Patient) -> bool:
        return (
            patient.site_id in self.coordinator_site_ids
            or patient.study_id in self.investigator_study_ids
            or patient.study_id in self.data_manager_study_ids
        )

    def can_edit(self, patient: Patient) -> bool:
        # Data managers correct records through the admin, with a reason; the
        # coordinator's forms are for the coordinator's own sites.
        return patient.site_id in self.coordinator_site_ids

    def can_see_identifiers(self, patient: Patient) -> bool:
        return patient.site_id in self.coordinator_site_ids or patient.study_id in self.data_manager_study_ids

    @property
    def sees_identifiers_somewhere(self) -> bool:
        """Whether `can_see_identifiers` holds for any patient at all (the patient list's name column)."""
        return bool(self.coordinator_site_ids or self.data_manager_study_ids)

    def shown(self, record, field: str):
        """A field of a patient's record as this user may see it: the value, or for an identifying
        field (`patients.identifiers`) of a patient whose identifiers they may not see, that a
        value exists. The one rule for pages; templates call it through `{% shown %}`."""
        can_see = self.can_see_identifiers(_patient_of(record))
        meta = record._meta
        return identifiers.shown(
            getattr(record, field), app_label=meta.app_label, model_name=meta.model_name, field=field, can_see=can_see
        )

    def can_assign_arm(self, patient: Patient) -> bool:
        # An arm allocated outside the system is entered after the fact by the study's data
        # manager, never by a coordinator (who could otherwise choose a patient's arm).
        return patient.study_id in self.data_manager_study_ids


def _patient_of(record) -> Patient:
    """The patient a record belongs to: itself, or through its patient, session or photo."""
    while not isinstance(record, Patient):
        for link in ("patient", "session", "photo"):
            if hasattr(record, link):
                record = getattr(record, link)
                break
        else:
            raise TypeError(f"{type(record).__name__} does not belong to a patient")
    return record


def access_for(user) -> Access:
    if not user.is_authenticated or not user.is_active:
        return Access()
    cached = getattr(user, "_trial_access", None)
    if cached is not None:
        return cached
    coordinator_sites, coordinator_studies, investigator, data_manager, api = set(), set(), set(), set(), set()
    for role, study_id, site_id in StudyRole.objects.filter(user=user).values_list("role", "study_id", "site_id"):
        if role == StudyRole.Role.COORDINATOR:
            coordinator_sites.add(site_id)
            coordinator_studies.add(study_id)
        elif role == StudyRole.Role.INVESTIGATOR:
            investigator.add(study_id)
        elif role == StudyRole.Role.DATA_MANAGER:
            data_manager.add(study_id)
        elif role == StudyRole.Role.API_CLIENT:
            api.add(study_id)
    access = Access(
        coordinator_site_ids=frozenset(coordinator_sites),
        investigator_study_ids=frozenset(investigator),
        data_manager_study_ids=frozenset(data_manager),
        api_study_ids=frozenset(api),
        coordinator_study_ids=frozenset(coordinator_studies),
    )
    user._trial_access = access
    return access


def require_role(user) -> Access:
    access = access_for(user)
    if not access.has_any_role:
        raise PermissionDenied("You have no role in any study.")
    return access


def patients_visible(access: Access) -> QuerySet[Patient]:
    return Patient.objects.filter(
        Q(site_id__in=access.coordinator_site_ids)
        | Q(study_id__in=access.investigator_study_ids)
        | Q(study_id__in=access.data_manager_study_ids)
    )


def patient_get(access: Access, pk: int, *, for_edit: bool = False) -> Patient:
    patient = patients_visible(access).select_related("study", "site", "arm", "arm_assigned_by").filter(pk=pk).first()
    if patient is None:
        raise Http404("No such patient.")
    if for_edit and not access.can_edit(patient):
        raise PermissionDenied("You can view this patient but not change the record.")
    return patient


def studies_visible(access: Access) -> QuerySet[Study]:
    return Study.objects.filter(pk__in=access.study_ids)


def sites_for_registration(access: Access) -> QuerySet[Site]:
    return Site.objects.filter(pk__in=access.coordinator_site_ids).select_related("study")


def sites_visible(access: Access) -> QuerySet[Site]:
    return Site.objects.filter(
        Q(pk__in=access.coordinator_site_ids)
        | Q(study_id__in=access.investigator_study_ids | access.data_manager_study_ids)
    ).select_related("study")


def arms_visible(access: Access) -> QuerySet[TreatmentArm]:
    return TreatmentArm.objects.filter(study_id__in=access.study_ids)


def patient_list(
    access: Access, *, query: str = "", site_id: int | None = None, arm_id: int | str | None = None, status: str = ""
) -> QuerySet[Patient]:
    patients = patients_visible(access).select_related("site", "arm", "study").order_by("study_code")
    if query:
        patients = patients.filter(study_code__icontains=query.strip())
    if site_id:
        patients = patients.filter(site_id=site_id)
    if arm_id == "none":
        patients = patients.filter(arm__isnull=True)
    elif arm_id:
        patients = patients.filter(arm_id=int(arm_id))  # the filter form's choices are the arms' ids
    if status:
        patients = patients.filter(status=status)
    return patients


def recorded_points() -> Prefetch:
    """A session's points as they stand: points removed by a correction are voided, not shown."""
    return Prefetch("points", queryset=InjectionPoint.objects.filter(status=RecordStatus.RECORDED).order_by("id"))


def injection_sessions_with_totals(queryset: QuerySet[InjectionSession]) -> QuerySet[InjectionSession]:
    return queryset.annotate(
        annotated_total_units=Coalesce(
            Sum("points__units", filter=Q(points__status=RecordStatus.RECORDED)),
            Value(0),
            output_field=DecimalField(max_digits=8, decimal_places=2),
        )
    ).prefetch_related(recorded_points())


@dataclass
class TimelineRow:
    scheduled: ScheduledVisit
    earliest: date | None
    target: date | None
    latest: date | None
    visit: Visit | None
    state: str  # "done", "due", "overdue", "upcoming", "closed", "not-enrolled"
    voided: list[Visit]

    @property
    def is_open(self) -> bool:
        """Its window is open or has passed, and it is not recorded: the coordinator may record it now."""
        return self.state in ("due", "overdue")

    @property
    def state_label(self) -> str:
        return "Not enrolled" if self.state == "not-enrolled" else capfirst(self.state)


def _visit_state(scheduled: ScheduledVisit, enrollment: date | None, visit: Visit | None, today: date) -> str:
    if visit is not None:
        return "done"
    if enrollment is None:
        return "not-enrolled"
    earliest, _, latest = scheduled.window_for(enrollment)
    if today < earliest:
        return "upcoming"
    if today <= latest:
        return "due"
    return "overdue"


def patient_timeline(patient: Patient) -> list[TimelineRow]:
    today = timezone.localdate()
    visits = list(patient.visits.select_related("scheduled_visit", "created_by").order_by("date_performed", "id"))
    recorded = {v.scheduled_visit_id: v for v in visits if v.status == RecordStatus.RECORDED}
    voided = defaultdict(list)
    for v in visits:
        if v.status == RecordStatus.VOIDED:
            voided[v.scheduled_visit_id].append(v)
    rows = []
    for scheduled in patient.study.schedule.all():
        window = scheduled.window_for(patient.enrollment_date) if patient.enrollment_date else (None, None, None)
        visit = recorded.get(scheduled.pk)
        state = _visit_state(scheduled, patient.enrollment_date, visit, today)
        if patient.status in (Patient.Status.WITHDRAWN, Patient.Status.COMPLETED) and state in (
            "due",
            "overdue",
            "upcoming",
        ):
            state = "closed"
        earliest, target, latest = window
        rows.append(
            TimelineRow(scheduled, earliest, target, latest, visit=visit, state=state, voided=voided[scheduled.pk])
        )
    return rows


def patient_injection_sessions(patient: Patient) -> list[InjectionSession]:
    return list(
        injection_sessions_with_totals(patient.injection_sessions.select_related("visit__scheduled_visit")).order_by(
            "date", "id"
        )
    )


@dataclass
class DueVisit:
    patient: Patient
    scheduled: ScheduledVisit
    earliest: date
    latest: date
    state: str


@dataclass
class Dashboard:
    studies: list[Study]
    arms: list[TreatmentArm]
    sites: list[Site]
    enrolled: dict  # (site_id, arm_id or None) -> count
    arm_totals: Counter
    site_totals: Counter
    total: int
    status_counts: Counter
    due: list[DueVisit]
    overdue: list[DueVisit]


def dashboard(access: Access) -> Dashboard:
    """Counts per arm and site, and the visits due or overdue, in a fixed number of queries."""
    visible = patients_visible(access)
    rows = visible.values("site_id", "arm_id", "status").annotate(n=Count("id"))
    enrolled: dict = Counter()
    arm_totals: Counter = Counter()
    site_totals: Counter = Counter()
    status_counts: Counter = Counter()
    total = 0
    for row in rows:
        status_counts[row["status"]] += row["n"]
        if row["status"] == Patient.Status.SCREENING:
            continue
        enrolled[(row["site_id"], row["arm_id"])] += row["n"]
        arm_totals[row["arm_id"]] += row["n"]
        site_totals[row["site_id"]] += row["n"]
        total += row["n"]

    studies = list(studies_visible(access))
    schedule = list(ScheduledVisit.objects.filter(study__in=studies).order_by("day_offset"))
    by_study = defaultdict(list)
    for s in schedule:
        by_study[s.study_id].append(s)
    active = list(visible.filter(status=Patient.Status.ENROLLED).select_related("site", "arm").order_by("study_code"))
    done = set(
        Visit.objects.filter(
            patient__in=visible, status=RecordStatus.RECORDED, patient__status=Patient.Status.ENROLLED
        ).values_list("patient_id", "scheduled_visit_id")
    )
    today = timezone.localdate()
    due: list[DueVisit] = []
    overdue: list[DueVisit] = []
    for patient in active:
        for scheduled in by_study[patient.study_id]:
            if (patient.pk, scheduled.pk) in done:
                continue
            state = _visit_state(scheduled, patient.enrollment_date, None, today)
            if state in ("due", "overdue"):
                earliest, _, latest = scheduled.window_for(patient.enrollment_date)
                (due if state == "due" else overdue).append(DueVisit(patient, scheduled, earliest, latest, state))
    due.sort(key=lambda d: d.latest)
    overdue.sort(key=lambda d: d.latest)
    return Dashboard(
        studies=studies,
        arms=list(TreatmentArm.objects.filter(study__in=studies).order_by("study_id", "id")),
        sites=list(sites_visible(access).order_by("study_id", "code")),
        enrolled=enrolled,
        arm_totals=arm_totals,
        site_totals=site_totals,
        total=total,
        status_counts=status_counts,
        due=due,
        overdue=overdue,
    )
