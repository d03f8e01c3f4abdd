"""The coordinator's pages. Short views: access through selectors, writes through services.

Every view starts with `selectors.require_role` (an account without a study role,
or an API client, gets 403) and, for a patient, `selectors.patient_get`, which
answers 404 for a patient the user may not see and 403 for a change they may not make.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from . import forms, history, selectors, services
from .adverse_event_models import accepts_adverse_events
from .missing_codes import visit_missing_items
from .missing_data import missing_data_report
from .models import (
    AdverseEvent,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    StudyOutcome,
    Visit,
    VisitOutcomeValue,
)

PATIENTS_PER_PAGE = 25


def _data(request):
    return request.POST if request.method == "POST" else None


def _editable_patient(request, pk):
    access = selectors.require_role(request.user)
    return selectors.patient_get(access, pk, for_edit=True)


@login_required
def dashboard(request):
    access = selectors.require_role(request.user)
    board = selectors.dashboard(access)
    statuses = [(label, board.status_counts.get(value, 0)) for value, label in Patient.Status.choices]
    context = {
        "dashboard": board,
        "tables": _enrollment_tables(board),
        "statuses": statuses,
        "can_register": _can_register(access),
    }
    return render(request, "patients/dashboard.html", context)


def _can_register(access) -> bool:
    """The "Register a patient" button: a coordinator with a site in a study that is open."""
    return access.is_coordinator and selectors.sites_for_registration(access).exists()


def _enrollment_tables(board) -> list[dict]:
    """One sites x arms table per study, from the dashboard's counts (no queries)."""
    tables = []
    for study in board.studies:
        arms = [arm for arm in board.arms if arm.study_id == study.pk]
        rows = [
            (
                site,
                [(board.enrolled.get((site.pk, arm.pk), 0), arm) for arm in arms],
                board.enrolled.get((site.pk, None), 0),
                board.site_totals.get(site.pk, 0),
            )
            for site in board.sites
            if site.study_id == study.pk
        ]
        tables.append(
            {
                "study": study,
                "arms": arms,
                "rows": rows,
                "totals": [(board.arm_totals.get(arm.pk, 0), arm) for arm in arms],
                "not_randomized": sum(row[2] for row in rows),
                "total": sum(row[3] for row in rows),
            }
        )
    return tables


@login_required
def patient_list(request):
    access = selectors.require_role(request.user)
    filters = forms.PatientFilterForm(
        request.GET,
        sites=selectors.sites_visible(access).order_by("code"),
        arms=selectors.arms_visible(access),
        identifiers=selectors.can_search_identifiers(access),
    )
    filters.is_valid()  # an invalid filter is ignored (and marked); the valid ones still apply
    criteria = filters.cleaned_data
    site = criteria.get("site")
    patients = selectors.patient_list(
        access,
        query=criteria.get("q", ""),
        site_id=int(site) if site else None,
        arm_id=criteria.get("arm") or None,
        status=criteria.get("status", ""),
    )
    show_names = access.sees_identifiers_somewhere
    if show_names:
        patients = patients.select_related("identifiers")  # one join, not one query per row
    page = Paginator(patients, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(patient, _full_name(access, patient) if show_names else None) for patient in page]
    return render(
        request,
        "patients/patient_list.html",
        {
            "filters": filters,
            "page": page,
            "rows": rows,
            "show_names": show_names,
            "can_register": _can_register(access),
        },
    )


MISSING_VISITS_PER_PAGE = 50


@login_required
def missing_data(request):
    """The visits recorded without every form and photo, for the coordinator to complete."""
    access = selectors.require_role(request.user)
    sites = list(selectors.sites_visible(access).order_by("code"))
    site = next((s for s in sites if str(s.pk) == request.GET.get("site")), None)
    report = missing_data_report(access, site_id=site.pk if site else None)
    page = Paginator(report.visits, MISSING_VISITS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"report": report, "page": page, "sites": sites, "site": site}
    return render(request, "patients/missing_data.html", context)


def _full_name(access, patient) -> str:
    if not access.can_see_identifiers(patient):
        return ""
    try:
        return patient.identifiers.full_name
    except PatientIdentifiers.DoesNotExist:
        return ""


def _validate_all(form, validate) -> bool:
    """The form's own checks and the service's rules in one round: `validate(**fields)` sees the
    fields that passed the form, so every problem is shown after one save. True if all passed."""
    form_valid = form.is_valid()
    try:
        validate(**form.cleaned_data)
    except ValidationError as error:
        forms.add_service_errors(form, error)
    return form_valid and not form.errors


@login_required
def patient_create(request):
    access = selectors.require_role(request.user)
    if not access.is_coordinator:
        raise PermissionDenied("Only a site's coordinator registers its patients.")
    sites = selectors.sites_for_registration(access)
    if not sites.exists():
        raise PermissionDenied("Your studies are closed (their databases are locked); no patient can be registered.")
    form = forms.PatientCreateForm(_data(request), sites=sites)
    if request.method == "POST" and _validate_all(form, services.patient_register_validate):
        try:
            patient = services.patient_register(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.study_code} registered ({patient.get_status_display().lower()}).")
            return redirect(patient)
    return render(request, "patients/patient_form.html", {"form": form, "title": "Register a patient"})


@login_required
def patient_detail(request, pk):
    access = selectors.require_role(request.user)
    patient = selectors.patient_get(access, pk)
    return render_patient_page(request, access, patient)


def render_patient_page(request, access, patient, *, status: int = 200, **extra):
    """The patient page; another view may render it to show its errors where the user was. (A photo
    upload does not: it redirects here and its report comes from the session, measurements.upload_report.)"""
    can_edit = access.can_change(patient)  # nothing is offered on a closed study: read only
    identifiers = None
    if access.can_see_identifiers(patient):
        identifiers = PatientIdentifiers.objects.filter(patient=patient).first()
    accepts_data = can_edit and patient.accepts_new_data
    timeline = selectors.patient_timeline(patient)
    _attach_missing_codes(patient, timeline)
    context = {
        "patient": patient,
        "identifiers": identifiers,
        "can_edit": can_edit,
        "can_record": accepts_data,
        "can_record_visit": accepts_data and any(row.can_record for row in timeline),
        "can_inject": accepts_data and not injection_refusal(patient),
        "can_randomize": can_edit and _randomizable(patient),
        "can_withdraw": can_edit and not patient.is_withdrawn,
        "can_complete": can_edit and patient.status == patient.Status.ENROLLED,
        "can_assign_arm": access.can_assign_arm(patient)
        and not patient.study.is_closed
        and not patient.is_randomized
        and not patient.is_screening,
        "timeline": timeline,
        "eligibility": services.patient_eligibility(patient),
        "sessions": selectors.patient_injection_sessions(patient),
        "adverse_events": selectors.patient_adverse_events(patient),
        "can_report_adverse_event": can_edit and accepts_adverse_events(patient),
        **extra,
    }
    return render(request, "patients/patient_detail.html", context, status=status)


def _attach_missing_codes(patient, timeline) -> None:
    """Each recorded visit's missing-data codes, for the timeline: `coded` (every code) and the grades',
    and `outcomes_missing`, the study outcomes with neither a value nor a code (each offered a link)."""
    visits = [row.visit for row in timeline if row.visit]
    coded = visit_missing_items(visits)
    outcomes = list(StudyOutcome.objects.filter(study_id=patient.study_id).order_by("id"))
    entered = (
        set(VisitOutcomeValue.objects.filter(visit__in=visits).values_list("visit_id", "outcome_id"))
        if outcomes
        else set()
    )
    for row in timeline:
        if row.visit:
            items = coded.get(row.visit.pk, {})
            row.visit.coded = list(items.values())
            row.visit.coded_house_brackmann = items.get(("grade", "house_brackmann"))
            row.visit.coded_sunnybrook = items.get(("grade", "sunnybrook_composite"))
            row.visit.outcomes_missing = [
                o for o in outcomes if (row.visit.pk, o.pk) not in entered and ("outcome", o.code) not in items
            ]


def _randomizable(patient) -> bool:
    return (
        patient.status == patient.Status.ENROLLED and not patient.is_randomized and patient.study.randomizes_in_system
    )


def _form_page(request, patient, form, *, save, title: str, done: str, warning: str = "", validate=None):
    """The shape of every small patient form: valid -> service -> message and back to the patient;
    a refusal from the service is shown beside its field. With `validate`, the service's rules run
    with the form's own checks, so one save shows every problem (`_validate_all`)."""
    posted = request.method == "POST"
    if posted and (_validate_all(form, validate) if validate is not None else form.is_valid()):
        try:
            save(form.cleaned_data)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, done)
            return redirect(patient)
    context = {"form": form, "patient": patient, "title": title, "warning": warning}
    return render(request, "patients/patient_form.html", context)


def _edit_page(request, patient, form, *, update, title: str, done: str):
    """Correct a record with a reason: the changed fields only, through the service; shared by edits."""
    if request.method == "POST" and form.is_valid() and not form.changes():
        messages.info(request, "Nothing was changed.")
        return redirect(patient)

    def save(data):
        update(by=request.user, reason=data["reason"], **form.changes())

    return _form_page(request, patient, form, save=save, title=title, done=done)


@login_required
def patient_edit(request, pk):
    patient = _editable_patient(request, pk)
    identifiers = PatientIdentifiers.objects.filter(patient=patient).first()
    form = forms.PatientEditForm(_data(request), patient=patient, identifiers=identifiers)
    return _edit_page(
        request,
        patient,
        form,
        update=lambda **kw: services.patient_update(patient=patient, **kw),
        title=f"Edit {patient}",
        done=f"{patient.study_code} updated.",
    )


@login_required
def patient_enroll(request, pk):
    patient = _editable_patient(request, pk)
    form = forms.EnrollForm(_data(request), initial={"consent_date": patient.consent_date})

    def save(data):
        services.patient_enroll(patient=patient, by=request.user, **data)

    return _form_page(request, patient, form, save=save, title="Enroll", done=f"{patient.study_code} enrolled.")


@login_required
def patient_eligibility(request, pk):
    patient = _editable_patient(request, pk)
    eligibility = services.patient_eligibility(patient)
    title = "Eligibility checklist"
    if not eligibility.required:
        reason = "This study defines no eligibility criteria; a data manager adds them in the admin (the study's page)."
        return render(request, "patients/not_offered.html", {"patient": patient, "title": title, "reason": reason})
    form = forms.EligibilityForm(_data(request), eligibility=eligibility)

    def save(data):
        answers = form.answers()
        services.patient_eligibility_record(
            patient=patient, by=request.user, answers=answers, reason=data.get("reason", "")
        )

    done = f"Eligibility checklist of {patient.study_code} saved."
    return _form_page(request, patient, form, save=save, title=title, done=done)


@login_required
@require_http_methods(["GET", "POST"])
def patient_randomize(request, pk):
    patient = _editable_patient(request, pk)
    refusal = None
    if request.method == "POST":
        try:
            arm = services.patient_randomize(patient=patient, by=request.user)
        except ValidationError as error:
            refusal = " ".join(error.messages)
            patient.refresh_from_db()
        else:
            messages.success(request, f"{patient.study_code} was randomized to {arm.name}.")
            return redirect(patient)
    eligibility = services.patient_eligibility(patient)
    if refusal is None and _randomizable(patient):
        try:
            services.require_eligible(patient)
        except ValidationError as error:
            refusal = " ".join(error.messages)
    return render(
        request,
        "patients/patient_randomize.html",
        {
            "patient": patient,
            "refusal": refusal,
            "can_randomize": _randomizable(patient) and (not eligibility.required or eligibility.passed),
            "eligibility": eligibility,
        },
    )


@login_required
def patient_withdraw(request, pk):
    patient = _editable_patient(request, pk)
    form = forms.WithdrawForm(_data(request), initial={"withdrawn_on": timezone.localdate()})

    def save(data):
        services.patient_withdraw(
            patient=patient, by=request.user, reason=data["reason"], withdrawn_on=data["withdrawn_on"]
        )

    done = f"{patient.study_code} withdrawn. The record is kept."
    return _form_page(request, patient, form, save=save, title="Withdraw", done=done)


@login_required
def patient_complete(request, pk):
    patient = _editable_patient(request, pk)
    form = forms.CompleteForm(_data(request))
    missing = [row.scheduled.name for row in selectors.patient_timeline(patient) if row.visit is None]
    warning = ""
    if missing:
        warning = (
            f"Not recorded: {', '.join(missing)}. Completing closes the record to new data; those visits "
            "stay missing in the outcome tables."
        )

    def save(data):
        services.patient_complete(patient=patient, by=request.user)

    done = f"{patient.study_code} completed the study. The record is closed to new data."
    return _form_page(request, patient, form, save=save, title="Complete the study", done=done, warning=warning)


@login_required
def patient_assign_arm(request, pk):
    access = selectors.require_role(request.user)
    patient = selectors.patient_get(access, pk)
    if not access.can_assign_arm(patient):
        raise PermissionDenied("Only a data manager records an arm assigned outside the system.")
    form = forms.AssignArmForm(_data(request), arms=patient.study.arms.all())
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_assign_arm_externally(patient=patient, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.study_code}: arm {form.cleaned_data['arm'].name} recorded.")
            return redirect(patient)
    return render(
        request, "patients/patient_form.html", {"form": form, "patient": patient, "title": "Record an external arm"}
    )


@login_required
def patient_history(request, pk):
    access = selectors.require_role(request.user)
    patient = selectors.patient_get(access, pk)
    entries = history.patient_history(patient, with_identifiers=access.can_see_identifiers(patient))
    return render(request, "patients/patient_history.html", {"patient": patient, "entries": entries})


# --- Visits ---------------------------------------------------------------------------------------


@login_required
def visit_create(request, pk):
    patient = _editable_patient(request, pk)
    form = forms.VisitForm(
        _data(request),
        schedule=patient.study.schedule.all(),
        outcomes=patient.study.outcomes.all(),
        windows=selectors.visit_windows(patient),
        refusals=selectors.visit_record_refusals(patient),
        initial={"scheduled_visit": request.GET.get("scheduled")},
    )

    def validate(*, scheduled_visit=None, date_performed=None, **fields):
        if scheduled_visit is None:
            return
        values = {name: value for name, value in fields.items() if name in services.VISIT_FIELDS}
        visit = Visit(patient=patient, scheduled_visit=scheduled_visit, date_performed=date_performed, **values)
        services.visit_validate(patient=patient, scheduled_visit=scheduled_visit, visit=visit)

    if request.method == "POST" and _validate_all(form, validate):
        try:
            with transaction.atomic():
                visit = services.visit_record(
                    patient=patient,
                    by=request.user,
                    scheduled_visit=form.cleaned_data["scheduled_visit"],
                    **form.values(),
                )
                services.visit_outcomes_record(visit=visit, by=request.user, values=form.outcome_values())
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"{visit.scheduled_visit.name} recorded for {patient.study_code}.")
            return redirect(patient)
    return render(request, "patients/visit_form.html", {"form": form, "patient": patient, "title": "Record a visit"})


@login_required
def visit_edit(request, pk, visit_pk):
    patient = _editable_patient(request, pk)
    visit = get_object_or_404(Visit.objects.select_related("scheduled_visit"), pk=visit_pk, patient=patient)
    window = selectors.visit_window(visit.scheduled_visit, patient.enrollment_date)
    form = forms.VisitEditForm(_data(request), visit=visit, window=window, outcomes=patient.study.outcomes.all())

    @transaction.atomic
    def update(*, by, reason, outcome_values=None, **changes):
        if changes:
            services.visit_update(visit=visit, by=by, reason=reason, **changes)
        if outcome_values:
            services.visit_outcomes_record(visit=visit, by=by, reason=reason, values=outcome_values)

    return _edit_page(
        request,
        patient,
        form,
        update=update,
        title=f"Edit {visit.scheduled_visit.name} of {patient}",
        done=f"{visit.scheduled_visit.name} updated.",
    )


def _void_page(request, patient, *, void, title: str, warning: str, done: str):
    """Confirm with a reason, then void: shared by visits and injection sessions."""
    form = forms.VoidForm(_data(request))

    def save(data):
        void(by=request.user, reason=data["reason"])

    return _form_page(request, patient, form, save=save, title=title, done=done, warning=warning)


@login_required
def visit_void(request, pk, visit_pk):
    patient = _editable_patient(request, pk)
    visit = get_object_or_404(Visit.objects.select_related("scheduled_visit"), pk=visit_pk, patient=patient)
    return _void_page(
        request,
        patient,
        void=lambda **kw: services.visit_void(visit=visit, **kw),
        title=f"Void {visit.scheduled_visit.name} of {visit.date_performed:%Y-%m-%d}",
        warning="The visit stays in the record and the audit trail, marked as voided.",
        done=f"{visit.scheduled_visit.name} voided. It stays in the record, struck through.",
    )


# --- Injection sessions ---------------------------------------------------------------------------


def _rows_requested(request, default: int = 3) -> int:
    """Empty point rows to offer: ?rows=N, the no-JavaScript way to ask for more."""
    try:
        return max(1, int(request.GET.get("rows", default)))
    except ValueError:
        return default


def _injection_form(request, patient, *, form_class, session=None):
    """Bind (or offer) the session form and its points; handles the no-JS 'more rows' button."""
    if request.method == "POST" and "add_rows" in request.POST:
        # Re-offer what was typed, unbound (no errors yet), with three more empty rows.
        rows = forms.points_from_post(request.POST)
        form = form_class(initial=request.POST.dict(), patient=patient)
        return form, forms.point_formset(initial=rows, extra=3), False
    if request.method == "POST":
        return form_class(request.POST, patient=patient), forms.point_formset(data=request.POST), True
    if session is None:
        return form_class(patient=patient), forms.point_formset(extra=_rows_requested(request)), False
    initial = {name: getattr(session, name) for name in services.SESSION_FIELDS}
    points = [{name: getattr(p, name) for name in forms.POINT_FIELDS} for p in session.points.all()]
    return (
        form_class(initial=initial, patient=patient),
        forms.point_formset(initial=points, extra=_rows_requested(request, default=1)),
        False,
    )


def _save_injection(form, formset, save, *, patient, session=None) -> bool:
    """Validate the forms and the service's rules in one round (every row's errors, the ceilings
    and the arm together), call `save(points=..., **fields)`, map its errors back. True if saved."""
    form_valid, formset_valid = form.is_valid(), formset.is_valid()  # both, so that every row shows its errors
    rows = [row for row in formset if not row.is_blank()]
    if not (form_valid and formset_valid):
        # What passed the form, through the service's rules, so the ceilings are not a second round.
        fields = {name: value for name, value in form.cleaned_data.items() if name in services.SESSION_FIELDS}
        draft = InjectionSession(patient=patient, **{**_session_values(session), **fields})
        points = [getattr(row, "cleaned_data", {}) for row in rows]
        try:
            services.injection_session_validate(patient=patient, session=draft, points=points)
        except services.InjectionValidationError as error:
            _show_injection_errors(form, rows, error)
        return False
    try:
        save(points=[row.point() for row in rows], **form.values())
    except services.InjectionValidationError as error:
        _show_injection_errors(form, rows, error)
        return False
    except ValidationError as error:
        forms.add_service_errors(form, error)
        return False
    return True


def _session_values(session) -> dict:
    return {name: getattr(session, name) for name in services.SESSION_FIELDS} if session is not None else {}


def _show_injection_errors(form, rows, error) -> None:
    """The service's errors beside their fields and rows; a field the form refused keeps its own message."""
    for field, messages_ in error.session_errors.items():
        if field in form.fields:
            if field not in form.errors:
                form.add_error(field, messages_)
        else:
            form.add_error(None, messages_)
    for index, fields in error.point_errors.items():
        row = rows[index]
        for field, messages_ in fields.items():
            if field not in row.fields:
                row.add_error(None, messages_)
            elif field not in row.errors:
                row.add_error(field, messages_)


def _injection_context(patient, form, formset, title, **extra):
    rows = [row.cleaned_data if row.is_bound and hasattr(row, "cleaned_data") else row.initial for row in formset]
    return {
        "patient": patient,
        "form": form,
        "formset": formset,
        "title": title,
        "total": forms.total_units(rows),
        "max_units_per_point": patient.study.max_units_per_point,
        "max_units_per_session": patient.study.max_units_per_session,
        **extra,
    }


def injection_refusal(patient) -> str:
    """Why no injection session can be recorded for this patient at all, or "" if one can: the
    patient page offers no link then, and the form's address answers with this instead of a form."""
    if patient.arm is None:
        return f"Randomize {patient.study_code} before recording an injection session."
    if not patient.arm.receives_injections:
        return (
            f"{patient.study_code} is in the {patient.arm.name} arm, which receives no injections: "
            "no injection session is recorded for this patient."
        )
    return ""


@login_required
def injection_create(request, pk):
    patient = _editable_patient(request, pk)
    refusal = injection_refusal(patient)
    if refusal:
        context = {"patient": patient, "title": "Record an injection session", "reason": refusal}
        return render(request, "patients/not_offered.html", context, status=409)
    form, formset, bound = _injection_form(request, patient, form_class=forms.InjectionSessionForm)

    def save(**fields):
        return services.injection_session_record(patient=patient, by=request.user, **fields)

    if bound and _save_injection(form, formset, save, patient=patient):
        messages.success(request, f"Injection session recorded for {patient.study_code}.")
        return redirect(patient)
    return render(
        request,
        "patients/injection_form.html",
        _injection_context(patient, form, formset, "Record an injection session"),
    )


@login_required
def injection_edit(request, pk, session_pk):
    patient = _editable_patient(request, pk)
    session = get_object_or_404(
        InjectionSession.objects.prefetch_related(selectors.recorded_points()), pk=session_pk, patient=patient
    )
    form, formset, bound = _injection_form(request, patient, form_class=forms.InjectionSessionEditForm, session=session)

    def save(**fields):
        reason = form.cleaned_data["reason"]
        return services.injection_session_update(session=session, by=request.user, reason=reason, **fields)

    if bound and _save_injection(form, formset, save, patient=patient, session=session):
        messages.success(request, f"Injection session of {session.date:%Y-%m-%d} updated.")
        return redirect(patient)
    title = f"Edit the injection session of {session.date:%Y-%m-%d}"
    return render(request, "patients/injection_form.html", _injection_context(patient, form, formset, title))


@login_required
def injection_void(request, pk, session_pk):
    patient = _editable_patient(request, pk)
    session = get_object_or_404(InjectionSession, pk=session_pk, patient=patient)
    return _void_page(
        request,
        patient,
        void=lambda **kw: services.injection_session_void(session=session, **kw),
        title=f"Void the injection session of {session.date:%Y-%m-%d}",
        warning="The session and its points stay in the record and the audit trail, marked as voided.",
        done=f"Injection session of {session.date:%Y-%m-%d} voided. It stays in the record.",
    )


# --- Adverse events -------------------------------------------------------------------------------


def _adverse_event_patient(request, pk):
    """A patient whose adverse events the user may record or correct now: on a closed study the forms
    are read only, like the patient page that no longer links them (the services refuse the write too)."""
    access = selectors.require_role(request.user)
    patient = selectors.patient_get(access, pk, for_edit=True)
    if not access.can_change(patient):
        raise PermissionDenied(
            f"Study {patient.study.code} is closed (database locked): its adverse events are read only."
        )
    return patient


def _adverse_event(patient, event_pk) -> AdverseEvent:
    return get_object_or_404(AdverseEvent.objects.select_related("patient", "visit"), pk=event_pk, patient=patient)


@login_required
def adverse_event_create(request, pk):
    patient = _adverse_event_patient(request, pk)
    initial = {"visit": request.GET.get("visit"), "onset_date": timezone.localdate()}
    form = forms.AdverseEventForm(_data(request), patient=patient, initial=initial)

    def save(data):
        services.adverse_event_record(patient=patient, by=request.user, **form.values())

    def validate(**fields):
        values = {name: fields[name] for name in services.ADVERSE_EVENT_FIELDS if name in fields}
        services.adverse_event_validate(patient=patient, event=AdverseEvent(patient=patient, **values))

    done = f"Adverse event recorded for {patient.study_code}."
    return _form_page(request, patient, form, save=save, title="Record an adverse event", done=done, validate=validate)


@login_required
def adverse_event_edit(request, pk, event_pk):
    patient = _adverse_event_patient(request, pk)
    event = _adverse_event(patient, event_pk)
    form = forms.AdverseEventEditForm(_data(request), event=event)
    return _edit_page(
        request,
        patient,
        form,
        update=lambda **kw: services.adverse_event_update(event=event, **kw),
        title=f"Edit the adverse event of {event.onset_date:%Y-%m-%d}",
        done="Adverse event updated.",
    )


@login_required
def adverse_event_void(request, pk, event_pk):
    patient = _adverse_event_patient(request, pk)
    event = _adverse_event(patient, event_pk)
    return _void_page(
        request,
        patient,
        void=lambda **kw: services.adverse_event_void(event=event, **kw),
        title=f"Void the adverse event of {event.onset_date:%Y-%m-%d}",
        warning="The event stays in the record and the audit trail, marked as voided; it leaves the harms tables.",
        done="Adverse event voided. It stays in the record, struck through.",
    )
