"""The audit trail of a patient and its records, as the history page shows it.

A selector: reads only, in a fixed number of queries (one per audited model, not one per entry),
with foreign keys shown by name and identifiers only for users who may see them: the identifying
fields' values and typed change reasons are shown to others as recorded, not read (`identifiers`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.text import capfirst

from . import identifiers
from .formatting import units_display
from .models import (
    AdverseEvent,
    EligibilityAnswer,
    EligibilityCriterion,
    InjectionPoint,
    InjectionSession,
    MissingItem,
    Patient,
    PatientIdentifiers,
    Visit,
)


@dataclass
class HistoryEntry:
    when: datetime
    who: str
    action: str  # created, changed, deleted
    subject: str
    reason: str
    changes: list[tuple[str, str | None, str]]  # (field label, old or None when created, new)

    @property
    def is_change(self) -> bool:
        return self.action == "changed"


_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}

# Other apps add the trail of their own records of a patient (measurements: photos), without
# this app importing theirs: each source is `source(patient, with_identifiers=...) -> [HistoryEntry]`.
_EXTRA_SOURCES: list = []


def register_source(source) -> None:
    if source not in _EXTRA_SOURCES:
        _EXTRA_SOURCES.append(source)


def patient_history(patient: Patient, *, with_identifiers: bool) -> list[HistoryEntry]:
    """The audit trail of a patient and its records, newest first, in a fixed number of queries.

    One query per audited model (not per entry); foreign keys are shown by name
    from lookups built once. Identifiers appear only for users who may see them.
    """
    session_history = InjectionSession.history.filter(patient_id=patient.pk)
    sources = [
        (Patient, Patient.history.filter(id=patient.pk)),
        (Visit, Visit.history.filter(patient_id=patient.pk)),
        (InjectionSession, session_history),
        (InjectionPoint, InjectionPoint.history.filter(session_id__in=session_history.values("id"))),
        (AdverseEvent, AdverseEvent.history.filter(patient_id=patient.pk)),
        (EligibilityAnswer, EligibilityAnswer.history.filter(patient_id=patient.pk)),
        (MissingItem, MissingItem.history.filter(visit__patient_id=patient.pk)),
    ]
    if with_identifiers:
        sources.insert(1, (PatientIdentifiers, PatientIdentifiers.history.filter(patient_id=patient.pk)))
    records = {
        model: list(queryset.select_related("history_user").order_by("history_date", "history_id"))
        for model, queryset in sources
    }

    schedule = {s.pk: s.name for s in patient.study.schedule.all()}
    visits = {
        r.id: f"{schedule.get(r.scheduled_visit_id, 'visit')} of {r.date_performed:%Y-%m-%d}" for r in records[Visit]
    }
    sessions = {r.id: f"session of {r.date:%Y-%m-%d}" for r in records[InjectionSession]}
    criteria = dict(EligibilityCriterion.objects.filter(study_id=patient.study_id).values_list("pk", "text"))
    user_ids = {
        getattr(r, name)
        for model in (Patient, Visit, InjectionSession, AdverseEvent, EligibilityAnswer, MissingItem)
        for r in records[model]
        for name in ("arm_assigned_by_id", "created_by_id", "answered_by_id")
        if getattr(r, name, None)
    }
    User = get_user_model()
    lookups = {
        "patients.patient": {patient.pk: patient.study_code},
        "patients.study": {patient.study_id: patient.study.code},
        # Every site of the study, not only the current one: a patient moved between sites shows
        # the old site by name.
        "patients.site": {site.pk: str(site) for site in patient.study.sites.all()},
        "patients.treatmentarm": {a.pk: a.name for a in patient.study.arms.all()},
        "patients.scheduledvisit": schedule,
        "patients.visit": visits,
        "patients.injectionsession": sessions,
        "patients.eligibilitycriterion": criteria,
        User._meta.label_lower: {u.pk: user_label(u) for u in User.objects.filter(pk__in=user_ids)},
    }

    def subject(model, record) -> str:
        if model is Patient:
            return f"Patient {patient.study_code}"
        if model is PatientIdentifiers:
            return "Identifiers"
        if model is Visit:
            return f"Visit: {visits[record.id]}"
        if model is InjectionSession:
            return f"Injection {sessions[record.id]}"
        if model is AdverseEvent:
            return f"Adverse event: {record.get_term_display()} from {record.onset_date:%Y-%m-%d}"
        if model is EligibilityAnswer:
            return f"Eligibility: {criteria.get(record.criterion_id, 'criterion')}"
        if model is MissingItem:
            return f"Missing-data code: {visits.get(record.visit_id, 'visit')}, {record.item_kind} {record.item_code}"
        point = f"{record.get_muscle_display()}, {record.get_side_display().lower()}, {units_display(record.units)} U"
        return f"Injection point ({sessions.get(record.session_id, 'session')}): {point}"

    def show(model, name, value) -> str:
        return _show(model, name, value, lookups)

    entries = []
    for model, model_records in records.items():
        previous: dict[int, Any] = {}  # object id -> its last history row (simple-history's generated model)
        for record in model_records:
            object_id = getattr(record, model._meta.pk.attname)
            before = previous.get(object_id)
            changes: list[tuple[str, str | None, str]]
            if record.history_type == "~" and before is not None:
                delta = record.diff_against(before)
                changed = [c.field for c in delta.changes]
                changes = [
                    (
                        _label(model, c.field),
                        _visible(model, c.field, show(model, c.field, c.old), with_identifiers),
                        _visible(model, c.field, show(model, c.field, c.new), with_identifiers),
                    )
                    for c in delta.changes
                ]
            elif record.history_type == "+":
                changed = [f.name for f in model._meta.concrete_fields if getattr(record, f.attname) not in (None, "")]
                changes = [
                    (
                        _label(model, f.name),
                        None,
                        _visible(model, f.name, show(model, f.name, getattr(record, f.attname)), with_identifiers),
                    )
                    for f in model._meta.concrete_fields
                    if f.editable
                    and not f.primary_key
                    and getattr(record, f.attname) not in (None, "")
                    and f.name not in ("patient", "session", "study", "site", "created_by")
                ]
            else:
                changed, changes = [], []
            previous[object_id] = record
            entries.append(
                HistoryEntry(
                    when=record.history_date,
                    who=user_label(record.history_user) if record.history_user else "system",
                    action=_ACTIONS.get(record.history_type, record.history_type),
                    subject=subject(model, record),
                    reason=identifiers.shown_reason(
                        record.history_change_reason or "",
                        can_see=with_identifiers,
                        about_identifying_field=any(_identifying(model, name) for name in changed),
                    ),
                    changes=changes,
                )
            )
    for source in _EXTRA_SOURCES:
        entries.extend(source(patient, with_identifiers=with_identifiers))
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries


def user_label(user) -> str:
    return user.get_full_name() or user.get_username()


def _label(model, name: str) -> str:
    return capfirst(model._meta.get_field(name).verbose_name)


def _identifying(model, name: str) -> bool:
    return identifiers.is_identifying(model._meta.app_label, model._meta.model_name, name)


def _visible(model, name: str, text: str, with_identifiers: bool) -> str:
    """The one list (`patients.identifiers`) decides: an identifying value is shown as recorded, not read."""
    if text == "—":
        return text
    meta = model._meta
    return identifiers.shown(
        text, app_label=meta.app_label, model_name=meta.model_name, field=name, can_see=with_identifiers
    )


def _show(model, name: str, value, lookups) -> str:
    if value in (None, ""):
        return "—"
    field = model._meta.get_field(name)
    if field.is_relation:
        return lookups.get(field.related_model._meta.label_lower, {}).get(value, f"#{value}")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return units_display(value)
    if isinstance(value, datetime):
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    return str(value)
