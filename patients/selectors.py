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

from . import identifiers, schedule
from .models import (
    AdverseEvent,
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    RecordStatus,
    ScheduledVisit,
    Site,
    Study,
    StudyRole,
    TreatmentArm,
    Visit,
)
from .scale_models import SHORT_NAMES, GradingSource, ScaleAssessment


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
    def is_api_client_only(self) -> bool:
        """An account made for a program: it has the API and none of these pages."""
        return bool(self.api_study_ids) and not self.has_any_role

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

    def can_change(self, patient: Patient) -> bool:
        """Whether the coordinator's forms and links are offered for this patient now: `can_edit`, in a
        study that is open. A closed study's pages are read only (its database is locked: the services
        refuse every write, `services.common.require_study_open`)."""
        return self.can_edit(patient) and not patient.study.is_closed

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
    access = _access_from_roles(StudyRole.objects.filter(user=user))
    user._trial_access = access
    return access


def access_for_token(token) -> Access:
    """What a request carrying this API token may do: read the token's study as an API client, and
    nothing else. Tokens are issued only to accounts whose one role in the study is API client
    (`ApiToken.clean`); should such an account be given another role later, or hold roles in other
    studies, its token still carries only this one."""
    user = token.user
    if not user.is_authenticated or not user.is_active:
        return Access()
    roles = StudyRole.objects.filter(user=user, study_id=token.study_id, role=StudyRole.Role.API_CLIENT)
    return _access_from_roles(roles)


def _access_from_roles(roles: QuerySet[StudyRole]) -> Access:
    coordinator_sites, coordinator_studies, investigator, data_manager, api = set(), set(), set(), set(), set()
    for role, study_id, site_id in roles.values_list("role", "study_id", "site_id"):
        if role == StudyRole.Role.COORDINATOR:
            coordinator_sites.add(site_id)
            coordinator_studies.add(study_id)
        elif role == StudyRole.Role.INVESTIGATOR:
            investigator.add(study_id)
        elif role == StudyRole.Role.DATA_MANAGER:
            data_manager.add(study_id)
        elif role == StudyRole.Role.API_CLIENT:
            api.add(study_id)
    return Access(
        coordinator_site_ids=frozenset(coordinator_sites),
        investigator_study_ids=frozenset(investigator),
        data_manager_study_ids=frozenset(data_manager),
        api_study_ids=frozenset(api),
        coordinator_study_ids=frozenset(coordinator_studies),
    )


def require_role(user) -> Access:
    access = access_for(user)
    if access.is_api_client_only:
        raise PermissionDenied("This account is an API client: it reads the trial's data through the API, not here.")
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
    """The coordinator's sites in open studies: a closed study registers no one."""
    return Site.objects.filter(pk__in=access.coordinator_site_ids, study__closed_on__isnull=True).select_related(
        "study"
    )


def studies_closed(access: Access) -> QuerySet[Study]:
    """The user's studies that are closed (database locked), for the read-only banner on every page."""
    return Study.objects.filter(pk__in=access.study_ids, closed_on__isnull=False).order_by("code")


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
    if query.strip():
        patients = patients.filter(patient_search(access, query))
    if site_id:
        patients = patients.filter(site_id=site_id)
    if arm_id == "none":
        patients = patients.filter(arm__isnull=True)
    elif arm_id:
        patients = patients.filter(arm_id=int(arm_id))  # the filter form's choices are the arms' ids
    if status:
        patients = patients.filter(status=status)
    return patients


SEARCH_WORDS_MAX = 4


def can_search_identifiers(access: Access) -> bool:
    return bool(access.coordinator_site_ids or access.data_manager_study_ids)


def patient_search(access: Access, query: str) -> Q:
    """Patients whose study code, or (where this user sees identifiers) name or record number, holds
    every word of the query, in any order, ignoring case.

    The database matches: each word is one `UPPER(column) LIKE '%WORD%'` that the trigram indexes of
    migration 0003 serve, inside `id IN (subquery)` so that the planner can use them (an OR across
    the join would force a scan). Names and record numbers are matched only at the sites and studies
    whose identifiers this user may see: an investigator cannot find a patient by name, nor learn
    from an empty result that a name is not in the trial.
    """
    condition = Q()
    for word in query.split()[:SEARCH_WORDS_MAX]:
        matches = Q(pk__in=Patient.objects.filter(study_code__icontains=word).values("pk"))
        if can_search_identifiers(access):
            in_reach = Q(patient__site_id__in=access.coordinator_site_ids) | Q(
                patient__study_id__in=access.data_manager_study_ids
            )
            by_identifier = PatientIdentifiers.objects.filter(in_reach).filter(
                Q(full_name__icontains=word) | Q(medical_record_number__icontains=word)
            )
            matches |= Q(pk__in=by_identifier.values("patient_id"))
        condition &= matches
    return condition


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
class ScaleCell:
    """One chosen scale at one recorded visit, as the patient page shows it."""

    code: str
    name: str
    assessment: ScaleAssessment | None
    # The composite typed in on the visit before item-level grading: shown, never recomputed.
    typed_composite: int | None = None

    @property
    def text(self) -> str:
        if self.assessment is not None:
            if not self.assessment.complete:
                return "incomplete"
            return f"{self.assessment.total:.4g}"
        if self.typed_composite is not None:
            return f"{self.typed_composite} (entered without items)"
        return "—"


@dataclass
class TimelineRow:
    scheduled: ScheduledVisit
    earliest: date | None
    target: date | None
    latest: date | None
    visit: Visit | None
    state: str  # one of patients.schedule's states
    voided: list[Visit]
    can_record: bool = False  # the schedule's rule, before the user's own right to edit
    scales: list[ScaleCell] = field(default_factory=list)  # the study's item-level scales at the visit

    @property
    def is_missed(self) -> bool:
        return self.state == schedule.MISSED

    @property
    def state_label(self) -> str:
        return schedule.LABELS.get(self.state, capfirst(self.state))


def visit_window(scheduled: ScheduledVisit, enrollment: date | None) -> schedule.Window | None:
    return enrolled_visit_window(scheduled, enrollment) if enrollment else None


def enrolled_visit_window(scheduled: ScheduledVisit, enrollment: date) -> schedule.Window:
    """The window of a visit for a patient known to be enrolled."""
    return schedule.Window(*scheduled.window_for(enrollment))


def patient_timeline(patient: Patient) -> list[TimelineRow]:
    today = timezone.localdate()
    visits = list(patient.visits.select_related("scheduled_visit", "created_by").order_by("date_performed", "id"))
    recorded = {v.scheduled_visit_id: v for v in visits if v.status == RecordStatus.RECORDED}
    voided = defaultdict(list)
    for v in visits:
        if v.status == RecordStatus.VOIDED:
            voided[v.scheduled_visit_id].append(v)
    closed = patient.status in (Patient.Status.WITHDRAWN, Patient.Status.COMPLETED)
    planned = list(patient.study.schedule.all())
    baseline_recorded = any(s.is_baseline and s.pk in recorded for s in planned)
    scale_names = SHORT_NAMES
    chosen = [code for code in patient.study.scales or [] if code in scale_names]
    assessments = {
        (a.visit_id, a.scale): a
        for a in ScaleAssessment.objects.filter(
            visit__in=list(recorded.values()), source=GradingSource.IN_PERSON, status=RecordStatus.RECORDED
        )
    }
    rows = []
    for scheduled in planned:
        window = visit_window(scheduled, patient.enrollment_date)
        visit = recorded.get(scheduled.pk)
        state = schedule.visit_state(window=window, recorded=visit is not None, today=today, patient_closed=closed)
        can_record = schedule.may_record(
            state,
            is_baseline=scheduled.is_baseline,
            baseline_recorded=baseline_recorded,
            randomized=patient.is_randomized,
            accepts_data=patient.accepts_new_data,
        )
        rows.append(
            TimelineRow(
                scheduled,
                earliest=window.earliest if window else None,
                target=window.target if window else None,
                latest=window.latest if window else None,
                visit=visit,
                state=state,
                voided=voided[scheduled.pk],
                can_record=can_record,
                scales=[
                    ScaleCell(
                        code,
                        scale_names[code],
                        assessments.get((visit.pk, code)),
                        visit.sunnybrook_composite if code == "sunnybrook" else None,
                    )
                    for code in chosen
                ]
                if visit is not None
                else [],
            )
        )
    return rows


def visit_record_refusals(patient: Patient, timeline: list[TimelineRow] | None = None) -> dict[int, str]:
    """Why each scheduled visit the timeline does not offer to record (`schedule.may_record`)
    cannot be recorded now, by scheduled visit id. The visit form offers only the others and
    answers a request for one of these with its reason."""
    timeline = patient_timeline(patient) if timeline is None else timeline
    baseline_recorded = any(row.scheduled.is_baseline and row.visit is not None for row in timeline)
    refusals = {}
    for row in timeline:
        if row.can_record:
            continue
        name = row.scheduled.name
        if row.visit is not None:
            reason = (
                f"{name} was already recorded on {row.visit.date_performed:%Y-%m-%d}; correct it with Edit on "
                "the patient page (or void it to record it again)."
            )
        elif not patient.accepts_new_data:
            reason = f"{patient.study_code} is {patient.get_status_display().lower()}; no visit can be recorded."
        elif not patient.is_randomized:
            reason = f"Randomize {patient.study_code} before recording visits."
        elif row.state == schedule.UPCOMING and row.earliest is not None:
            reason = f"The window of {name} opens on {row.earliest:%Y-%m-%d}; it can be recorded from that day."
        elif not row.scheduled.is_baseline and not baseline_recorded:
            reason = "Record the baseline visit before any follow-up."
        else:
            reason = f"{name} cannot be recorded now ({row.state_label.lower()})."
        refusals[row.scheduled.pk] = reason
    return refusals


def visit_windows(patient: Patient) -> dict[int, schedule.Window]:
    """The window of each scheduled visit for this patient (none before enrollment), for the visit form."""
    if not patient.enrollment_date:
        return {}
    enrollment = patient.enrollment_date
    return {s.pk: enrolled_visit_window(s, enrollment) for s in patient.study.schedule.all()}


def patient_adverse_events(patient: Patient) -> list[AdverseEvent]:
    """Every adverse event of the patient, voided ones too (shown struck through), by onset."""
    return list(patient.adverse_events.select_related("visit__scheduled_visit").order_by("onset_date", "id"))


def patient_injection_sessions(patient: Patient) -> list[InjectionSession]:
    return list(
        injection_sessions_with_totals(patient.injection_sessions.select_related("visit__scheduled_visit")).order_by(
            "date", "id"
        )
    )


SERIOUS_EVENTS_SHOWN = 50


def serious_adverse_events(access: Access) -> list[AdverseEvent]:
    """Serious adverse events in the studies whose data this user manages and at the sites they
    coordinate, newest onset first: the dashboard's list (each is also e-mailed when recorded,
    `patients.notifications`)."""
    if not (access.data_manager_study_ids or access.coordinator_site_ids):
        return []
    return list(
        AdverseEvent.objects.filter(
            Q(patient__study_id__in=access.data_manager_study_ids)
            | Q(patient__site_id__in=access.coordinator_site_ids),
            serious=True,
            status=RecordStatus.RECORDED,
        )
        .select_related("patient__site", "patient__arm")
        .order_by("-onset_date", "-id")[:SERIOUS_EVENTS_SHOWN]
    )


@dataclass
class DueVisit:
    patient: Patient
    scheduled: ScheduledVisit
    earliest: date
    latest: date
    state: str


def study_missed_visits(study: Study, *, today: date | None = None) -> list[DueVisit]:
    """Every scheduled visit of a randomized patient whose window closed with nothing recorded,
    whatever the patient's status now: the visits the outcome tables count as missing
    (`missed-window`). Two queries; for the analysis, which owns those tables."""
    today = today or timezone.localdate()
    planned = list(study.schedule.order_by("day_offset"))
    patients = list(study.patients.filter(arm__isnull=False, enrollment_date__isnull=False).order_by("study_code"))
    recorded = set(
        Visit.objects.filter(patient__in=patients, status=RecordStatus.RECORDED).values_list(
            "patient_id", "scheduled_visit_id"
        )
    )
    missed = []
    for patient in patients:
        if patient.enrollment_date is None:
            continue
        for scheduled in planned:
            window = enrolled_visit_window(scheduled, patient.enrollment_date)
            done = (patient.pk, scheduled.pk) in recorded
            if schedule.visit_state(window=window, recorded=done, today=today) == schedule.MISSED:
                missed.append(DueVisit(patient, scheduled, window.earliest, window.latest, schedule.MISSED))
    return missed


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
    missed: list[DueVisit]  # windows closed unrecorded: missing in the outcome tables
    serious_events: list[AdverseEvent]  # for the studies this user manages the data of


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
    by_study = defaultdict(list)
    for s in ScheduledVisit.objects.filter(study__in=studies).order_by("day_offset"):
        by_study[s.study_id].append(s)
    # Only randomized patients are followed up: one registered but never randomized has no visits to chase.
    active = list(
        visible.filter(status=Patient.Status.ENROLLED, arm__isnull=False)
        .select_related("site", "arm")
        .order_by("study_code")
    )
    done = set(
        Visit.objects.filter(
            patient__in=visible, status=RecordStatus.RECORDED, patient__status=Patient.Status.ENROLLED
        ).values_list("patient_id", "scheduled_visit_id")
    )
    today = timezone.localdate()
    lists: dict[str, list[DueVisit]] = {schedule.DUE: [], schedule.OVERDUE: [], schedule.MISSED: []}
    for patient in active:
        if patient.enrollment_date is None:
            continue
        baseline_recorded = any(s.is_baseline and (patient.pk, s.pk) in done for s in by_study[patient.study_id])
        for scheduled in by_study[patient.study_id]:
            if (patient.pk, scheduled.pk) in done:
                continue
            window = enrolled_visit_window(scheduled, patient.enrollment_date)
            state = schedule.visit_state(window=window, recorded=False, today=today)
            if state == schedule.MISSED:
                lists[state].append(DueVisit(patient, scheduled, window.earliest, window.latest, state))
            elif state in lists and schedule.may_record(
                state,
                is_baseline=scheduled.is_baseline,
                baseline_recorded=baseline_recorded,
                randomized=True,
                accepts_data=True,
            ):
                lists[state].append(DueVisit(patient, scheduled, window.earliest, window.latest, state))
    due, overdue, missed = lists[schedule.DUE], lists[schedule.OVERDUE], lists[schedule.MISSED]
    due.sort(key=lambda d: d.latest)
    overdue.sort(key=lambda d: d.latest)
    missed.sort(key=lambda d: d.latest)
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
        missed=missed,
        serious_events=serious_adverse_events(access),
    )
