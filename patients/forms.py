"""Forms of the coordinator's pages. They check input types only: the services decide what is allowed.

Fields are built from the model fields (label, help text, choices, required-ness)
so a form never disagrees with the model about what a field is called.
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from . import schedule as visit_schedule
from .adverse_event_models import AdverseEvent
from .formatting import plain_decimal
from .models import (
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    RecordStatus,
    Visit,
)
from .services import (
    ADVERSE_EVENT_FIELDS,
    PATIENT_CLINICAL_FIELDS,
    PATIENT_IDENTIFIER_FIELDS,
    SESSION_FIELDS,
    VISIT_FIELDS,
)
from .services.common import REASON_REQUIRED


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        # <input type="date"> only understands ISO dates, whatever the locale.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def model_field(model, name: str, **kwargs) -> forms.Field:
    field = model._meta.get_field(name)
    if isinstance(field, models.DateField):
        kwargs.setdefault("widget", DateInput())
    elif isinstance(field, models.TextField):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
    return field.formfield(**kwargs)


def reason_field(label: str = "Reason for change") -> forms.CharField:
    return forms.CharField(
        label=label,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit trail with your name and the time.",
        error_messages={"required": REASON_REQUIRED},
    )


class TrialForm(forms.Form):
    """A form for templates/partials/form.html: labels, required marks, help and errors beside each field."""

    # [(legend, [field names])]; None renders all fields in one group.
    fieldsets: list[tuple[str, list[str]]] | None = None

    def grouped_fields(self):
        if not self.fieldsets:
            return [(None, self.visible_fields())]
        return [(legend, [self[name] for name in names if name in self.fields]) for legend, names in self.fieldsets]


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: beside the field it names, else at the top.

    A field the form already refused keeps its own message only: the service saw it missing, and
    saying so twice would bury the other errors."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, errors in error.error_dict.items():
        if field in form.fields:
            if field not in form.errors:
                form.add_error(field, errors)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, errors)
        else:
            form.add_error(None, [f"{field.replace('_', ' ').capitalize()}: {m}" for e in errors for m in e.messages])


# --- Patients -------------------------------------------------------------------------------------


class PatientFilterForm(forms.Form):
    q = forms.CharField(label="Study code", required=False, max_length=100)
    site = forms.ChoiceField(label="Site", required=False)
    arm = forms.ChoiceField(label="Arm", required=False)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "All statuses"), *Patient.Status.choices])

    def __init__(self, *args, sites, arms, identifiers: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if identifiers:
            self.fields["q"].label = "Name, record number or study code"
        self.fields["site"].choices = [("", "All sites")] + [(str(s.pk), str(s)) for s in sites]
        self.fields["arm"].choices = [("", "All arms"), ("none", "Not randomized")] + [
            (str(a.pk), a.name) for a in arms
        ]


class PatientForm(TrialForm):
    """Clinical fields and identifiers of a patient, and the optional consent and enrollment dates."""

    sex = model_field(Patient, "sex")
    affected_side = model_field(Patient, "affected_side")
    aetiology = model_field(Patient, "aetiology")
    months_since_onset = model_field(Patient, "months_since_onset", max_value=1200)
    baseline_house_brackmann = model_field(Patient, "baseline_house_brackmann")
    full_name = model_field(PatientIdentifiers, "full_name")
    date_of_birth = model_field(PatientIdentifiers, "date_of_birth")
    medical_record_number = model_field(PatientIdentifiers, "medical_record_number")
    phone = model_field(PatientIdentifiers, "phone")
    email = model_field(PatientIdentifiers, "email")
    address = model_field(PatientIdentifiers, "address")
    consent_date = model_field(Patient, "consent_date")
    enrollment_date = model_field(
        Patient, "enrollment_date", help_text="With both dates the patient is enrolled at once; else in screening."
    )

    fieldsets = [
        ("Clinical", list(PATIENT_CLINICAL_FIELDS[:5])),
        (
            "Identifiers (seen only by the site's coordinators and data managers; never exported)",
            list(PATIENT_IDENTIFIER_FIELDS),
        ),
        ("Consent and enrollment", ["consent_date", "enrollment_date"]),
    ]


class PatientCreateForm(PatientForm):
    site = forms.ModelChoiceField(queryset=None, label="Site")

    fieldsets = [("Site", ["site"]), *PatientForm.fieldsets]

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        field.queryset = sites
        if len(sites) == 1:
            field.empty_label = None
            field.initial = sites[0].pk


class PatientEditForm(PatientForm):
    reason = reason_field()

    fieldsets = [*PatientForm.fieldsets, ("Why", ["reason"])]

    def __init__(self, *args, patient: Patient, identifiers: PatientIdentifiers | None, **kwargs):
        initial = {name: getattr(patient, name) for name in PATIENT_CLINICAL_FIELDS}
        if identifiers is not None:
            initial.update({name: getattr(identifiers, name) for name in PATIENT_IDENTIFIER_FIELDS})
        super().__init__(*args, initial=initial, **kwargs)
        if identifiers is None:  # a user who may edit but not see identifiers never gets their fields
            for name in PATIENT_IDENTIFIER_FIELDS:
                del self.fields[name]

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}


class EnrollForm(TrialForm):
    consent_date = model_field(Patient, "consent_date", required=True)
    enrollment_date = model_field(Patient, "enrollment_date", required=True)


class WithdrawForm(TrialForm):
    reason = reason_field("Reason for withdrawal")
    withdrawn_on = model_field(Patient, "withdrawn_on", label="Date of withdrawal", required=True)


class CompleteForm(TrialForm):
    confirm = forms.BooleanField(
        required=True,
        label="The patient has finished the study: no more visits, injections or photos will be recorded",
        error_messages={"required": "Tick the box to confirm that the patient has finished the study."},
    )


class AssignArmForm(TrialForm):
    arm = forms.ModelChoiceField(queryset=None, label="Arm")
    reason = reason_field("Reason (where and how the arm was allocated)")

    def __init__(self, *args, arms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["arm"].queryset = arms


class VoidForm(TrialForm):
    reason = reason_field("Reason for voiding")


# --- Visits ---------------------------------------------------------------------------------------


class ScheduledVisitSelect(forms.Select):
    """Each option carries its window for static/js/visit-window.js (dates as ISO strings)."""

    windows: dict = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        window = self.windows.get(getattr(value, "value", value))
        if window is not None:
            option["attrs"].update(
                {
                    "data-earliest": window.earliest.isoformat(),
                    "data-target": window.target.isoformat(),
                    "data-latest": window.latest.isoformat(),
                    "data-window-text": visit_schedule.window_text(window),
                }
            )
        return option


def _chosen_pk(value) -> int | None:
    try:
        return int(getattr(value, "pk", value))
    except (TypeError, ValueError):
        return None


class VisitForm(TrialForm):
    scheduled_visit = forms.ModelChoiceField(
        queryset=None, label="Scheduled visit", widget=ScheduledVisitSelect(attrs={"data-visit-window": ""})
    )
    date_performed = model_field(Visit, "date_performed")
    house_brackmann = model_field(Visit, "house_brackmann")
    sunnybrook_composite = model_field(Visit, "sunnybrook_composite", max_value=100)
    # Adverse events are records of their own (AdverseEventForm), no longer a free-text box here.
    notes = model_field(
        Visit, "notes", help_text="Adverse events are recorded on their own, one record each, from the patient page."
    )
    protocol_deviation_reason = model_field(Visit, "protocol_deviation_reason")

    def __init__(self, *args, schedule, windows=None, outcomes=(), refusals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.windows = windows or {}
        # The study's own outcomes (StudyOutcome), one optional number each, within its range.
        self.outcomes = {f"outcome_{o.code}": o for o in outcomes}
        for name, o in self.outcomes.items():
            low, high = plain_decimal(o.min_value), plain_decimal(o.max_value)
            self.fields[name] = forms.DecimalField(
                label=f"{o.name} ({o.unit})", required=False, min_value=low, max_value=high,
                help_text=f"{low} to {high}",
            )  # fmt: skip
        if "scheduled_visit" not in self.fields:
            return
        self.refusals = refusals or {}
        field = self.fields["scheduled_visit"]
        field.queryset = schedule  # every visit resolves, so that a refused one gets its reason
        # Offered: the visits `schedule.may_record` allows now (not those done or not yet open).
        field.choices = [("", field.empty_label)] + [(s.pk, str(s)) for s in schedule if s.pk not in self.refusals]
        field.widget.windows = self.windows
        # Stated on the first render too (the timeline's ?scheduled= link), without JavaScript.
        chosen = _chosen_pk(self._raw("scheduled_visit"))
        window = self.windows.get(chosen)
        if chosen in self.refusals:
            field.warning = self.refusals[chosen]  # the timeline's link to a visit no longer offered
            field.help_text = "Choose a visit to see its target date and window."
        elif window is not None:
            field.help_text = visit_schedule.window_text(window)
            # Shown beside the date, once: templates/partials/field.html leaves it out when the
            # date already carries the service's out-of-window error.
            self.fields["date_performed"].warning = self._outside_warning(window)
        elif len(field.choices) == 1:
            field.help_text = "No visit can be recorded now."
        elif self.windows:
            field.help_text = "Choose a visit to see its target date and window."
        else:
            field.help_text = "The windows start at enrollment."

    refusals: dict[int, str] = {}

    def clean_scheduled_visit(self):
        scheduled = self.cleaned_data["scheduled_visit"]
        if scheduled is not None and scheduled.pk in self.refusals:
            raise ValidationError(self.refusals[scheduled.pk])
        return scheduled

    def _raw(self, name: str):
        # Read without building the bound field, which would freeze the help text set here.
        return self.data.get(self.add_prefix(name)) if self.is_bound else self.initial.get(name)

    def _outside_warning(self, window) -> str:
        raw = self._raw("date_performed")
        try:
            day = forms.DateField().clean(raw) if raw else None
        except ValidationError:
            return ""
        return visit_schedule.outside_window_text(window, day) if day and not window.contains(day) else ""

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in VISIT_FIELDS if name in self.fields}

    def outcome_values(self) -> dict:
        return {o: self.cleaned_data.get(name) for name, o in self.outcomes.items()}


class VisitEditForm(VisitForm):
    reason = reason_field()

    def __init__(self, *args, visit: Visit, window=None, outcomes=(), **kwargs):
        initial = {name: getattr(visit, name) for name in VISIT_FIELDS}
        initial.update({f"outcome_{v.outcome.code}": v.value for v in visit.outcome_values.select_related("outcome")})
        self.base_fields = {k: v for k, v in self.base_fields.items() if k != "scheduled_visit"}
        super().__init__(*args, initial=initial, schedule=None, outcomes=outcomes, **kwargs)
        # The visit is fixed once recorded (void and re-record instead); its window is stated by the date.
        if window is not None:
            self.fields["date_performed"].help_text = visit_schedule.window_text(window)

    def changes(self) -> dict:
        changes = {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name != "reason" and name not in self.outcomes
        }
        outcome_changes = {self.outcomes[n]: self.cleaned_data[n] for n in self.changed_data if n in self.outcomes}
        if outcome_changes:
            changes["outcome_values"] = outcome_changes
        return changes


# --- Injection sessions ---------------------------------------------------------------------------


class VisitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, visit):
        return f"{visit.scheduled_visit.name} – {visit.date_performed:%Y-%m-%d}"


class InjectionSessionForm(TrialForm):
    visit = VisitChoiceField(queryset=None, required=False, label="Visit", empty_label="(not at a recorded visit)")
    date = model_field(InjectionSession, "date")
    product = model_field(InjectionSession, "product")
    product_other = model_field(InjectionSession, "product_other", help_text="Only when the product is Other.")
    lot_number = model_field(InjectionSession, "lot_number")
    diluent_ml_per_100_units = model_field(InjectionSession, "diluent_ml_per_100_units")
    injector = model_field(InjectionSession, "injector")
    notes = model_field(InjectionSession, "notes")

    fieldsets = [("Session", list(SESSION_FIELDS))]  # the edit form's reason goes below the points

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = patient.visits.filter(status=RecordStatus.RECORDED).select_related(
            "scheduled_visit"
        )

    def values(self) -> dict:
        return dict(self.cleaned_data)


class InjectionSessionEditForm(InjectionSessionForm):
    reason = reason_field()

    def values(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "reason"}


POINT_FIELDS = ("muscle", "muscle_other", "side", "units")


class InjectionPointForm(forms.Form):
    """One row of the points table. A row left empty is ignored; a started row must be complete."""

    muscle = model_field(InjectionPoint, "muscle", required=False)
    muscle_other = model_field(InjectionPoint, "muscle_other", required=False)
    side = model_field(InjectionPoint, "side", required=False)
    units = model_field(InjectionPoint, "units", required=False, min_value=Decimal("0.01"))

    def clean(self):
        cleaned = super().clean()
        if self.is_blank():
            return cleaned
        for name, message in (
            ("muscle", "Choose the muscle."),
            ("side", "Choose the side."),
            ("units", "Enter the units."),
        ):
            if cleaned.get(name) in (None, "") and name not in self.errors:
                self.add_error(name, message)
        return cleaned

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) not in (None, "") for name in POINT_FIELDS) and not self.errors

    def point(self) -> dict:
        return {name: self.cleaned_data[name] for name in POINT_FIELDS}


MAX_POINT_ROWS = 60


def point_formset(*, data=None, initial=None, extra: int = 3):
    extra = max(0, min(extra, MAX_POINT_ROWS))
    formset_class = forms.formset_factory(
        InjectionPointForm, extra=extra, max_num=MAX_POINT_ROWS, absolute_max=MAX_POINT_ROWS, validate_max=True
    )
    return formset_class(data=data, initial=initial, prefix="points")


def points_from_post(data) -> list[dict]:
    """The rows a user typed, as raw strings, to re-offer them unbound (after 'more rows')."""
    try:
        total = min(int(data.get("points-TOTAL_FORMS", 0)), MAX_POINT_ROWS)
    except ValueError:
        total = 0
    rows = []
    for index in range(total):
        row = {name: data.get(f"points-{index}-{name}", "") for name in POINT_FIELDS}
        if any(value.strip() for value in row.values()):
            rows.append(row)
    return rows


def total_units(rows) -> Decimal:
    total = Decimal("0")
    for row in rows:
        try:
            total += Decimal(str(row.get("units") or "0"))
        except ArithmeticError:
            continue
    return total


# --- Adverse events -------------------------------------------------------------------------------


class AdverseEventForm(TrialForm):
    visit = VisitChoiceField(
        queryset=None, required=False, label="Reported at visit", empty_label="(not at a recorded visit)"
    )
    term = model_field(AdverseEvent, "term", label="Event")
    term_other = model_field(AdverseEvent, "term_other")
    description = model_field(
        AdverseEvent, "description", help_text="Free text; seen only by the site's coordinators and data managers."
    )
    onset_date = model_field(AdverseEvent, "onset_date")
    resolution_date = model_field(AdverseEvent, "resolution_date")
    severity = model_field(AdverseEvent, "severity", required=True)
    serious = model_field(
        AdverseEvent, "serious", label="Serious adverse event", help_text="Tick if it meets a seriousness criterion."
    )
    seriousness_criterion = model_field(AdverseEvent, "seriousness_criterion", help_text="Only for a serious event.")
    relatedness = model_field(AdverseEvent, "relatedness", required=True)
    action_taken = model_field(AdverseEvent, "action_taken", required=True)
    outcome = model_field(AdverseEvent, "outcome", required=True)

    fieldsets = [
        ("Event", ["visit", "term", "term_other", "description"]),
        ("Dates", ["onset_date", "resolution_date"]),
        ("Assessment", ["severity", "serious", "seriousness_criterion", "relatedness", "action_taken", "outcome"]),
    ]

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["visit"].queryset = patient.visits.filter(status=RecordStatus.RECORDED).select_related(
            "scheduled_visit"
        )

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in ADVERSE_EVENT_FIELDS}


class AdverseEventEditForm(AdverseEventForm):
    reason = reason_field()

    fieldsets = [*AdverseEventForm.fieldsets, ("Why", ["reason"])]

    def __init__(self, *args, event: AdverseEvent, **kwargs):
        initial = {name: getattr(event, name) for name in ADVERSE_EVENT_FIELDS}
        initial["visit"] = event.visit_id
        super().__init__(*args, initial=initial, patient=event.patient, **kwargs)

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}


# --- Eligibility ----------------------------------------------------------------------------------

YES_NO = [("yes", "Yes"), ("no", "No")]


class EligibilityForm(TrialForm):
    """One yes/no question per active criterion of the study; a correction of an answer needs a reason."""

    def __init__(self, *args, eligibility, **kwargs):
        initial = {
            f"criterion_{row.criterion.pk}": "yes" if row.answer.holds else "no"
            for row in eligibility.rows
            if row.answer is not None
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.fieldsets = [
            ("Inclusion criteria: each must be met", []),
            ("Exclusion criteria: none may apply", []),
        ]
        for row in eligibility.rows:
            name = f"criterion_{row.criterion.pk}"
            self.fields[name] = forms.ChoiceField(
                label=row.criterion.text,
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={"required": "Answer yes or no."},
            )
            self.fieldsets[0 if row.criterion.kind == row.criterion.Kind.INCLUSION else 1][1].append(name)
        if initial:
            self.fields["reason"] = reason_field("Reason for changing an answer")
            self.fields["reason"].required = False
            self.fields[
                "reason"
            ].help_text = "Needed only if you change an answer already given; kept in the audit trail."
            self.fieldsets.append(("Why", ["reason"]))

    def answers(self) -> dict[int, bool]:
        return {
            int(name.removeprefix("criterion_")): value == "yes"
            for name, value in self.cleaned_data.items()
            if name.startswith("criterion_")
        }
