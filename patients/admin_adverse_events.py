"""The data manager's adverse-event page: review every event of their studies, complete the ones carried
over from the old free-text field, correct or void one with a reason, record one the coordinator could
not (a withdrawn patient's). Every write goes through `services.adverse_event_*` (`as_data_manager`),
the coordinator's own rules; a closed study's events, and a voided event, are shown read only.

Registered from the end of `patients/admin.py`, whose audited admin it extends.
"""

import copy

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from . import services
from .admin import AuditedAdmin, ReasonForm
from .adverse_event_models import AdverseEvent

VOID_FIELD = "void_event"


class AdverseEventAdminForm(ReasonForm):
    void_event = forms.BooleanField(
        required=False,
        label="Void this event",
        help_text="It stays in the record and the audit trail, marked voided, and leaves the harms tables. "
        "Give the reason below.",
    )  # offered on the change form only (get_fieldsets)

    class Meta:
        model = AdverseEvent
        fields = ["patient", *services.ADVERSE_EVENT_FIELDS]

    def clean(self):
        cleaned = super().clean()
        changed = set(self.changed_data) - {VOID_FIELD, "change_reason"}
        if cleaned.get(VOID_FIELD):
            if changed:
                raise ValidationError("Void the event, or correct it: not both in one save.")
            return cleaned
        # The coordinator's rules, beside their fields, before the model's constraints (which would say
        # only "constraint violated"): a field with an error here is left out of those checks.
        event = construct_instance(self, copy.copy(self.instance))
        if event.patient_id and not self.errors:
            try:
                services.adverse_event_validate(patient=event.patient, event=event)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class NeedsReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("needed", "Carried over from free text, to complete"), ("carried", "Carried over from free text")]

    def queryset(self, request, queryset):
        if self.value() == "carried":
            return queryset.filter(from_free_text=True)
        if self.value() == "needed":
            incomplete = (
                queryset.filter(severity="") | queryset.filter(relatedness="") | queryset.filter(action_taken="")
            ) | queryset.filter(outcome="")
            return incomplete.filter(from_free_text=True)
        return queryset


@admin.register(AdverseEvent)
class AdverseEventAdmin(AuditedAdmin):
    form = AdverseEventAdminForm
    list_display = [
        "patient",
        "term_shown",
        "onset_date",
        "resolution_date",
        "severity",
        "serious",
        "relatedness",
        "outcome",
        "needs_review",
        "status",
    ]
    list_select_related = ["patient"]
    list_filter = ["patient__study", NeedsReviewFilter, "serious", "severity", "term", "status"]
    search_fields = ["patient__study_code"]
    # An id box with the chosen one's name: one query, however many patients and visits the study has.
    raw_id_fields = ["patient", "visit"]
    RECORD_FIELDS = ("status", "void_reason", "from_free_text", "created_by", "created_at")

    @admin.display(description="event", ordering="term")
    def term_shown(self, obj):
        return obj.term_other if obj.is_other else obj.get_term_display()

    @admin.display(description="to review", boolean=True)
    def needs_review(self, obj):
        return obj.needs_review

    def get_fieldsets(self, request, obj=None):
        why = ["change_reason"] if obj is None else [VOID_FIELD, "change_reason"]
        return [
            ("Event", {"fields": ["patient", "visit", "term", "term_other", "description"]}),
            ("Dates", {"fields": ["onset_date", "resolution_date"]}),
            (
                "Assessment",
                {"fields": ["severity", "serious", "seriousness_criterion", "relatedness", "action_taken", "outcome"]},
            ),
            *([("Record", {"fields": list(self.RECORD_FIELDS)})] if obj is not None else []),
            ("Why", {"fields": why}),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["patient", *self.RECORD_FIELDS]

    def has_change_permission(self, request, obj=None):
        # Read only once the study is closed (its database is locked), and once voided (recorded again instead).
        if obj is not None and (obj.is_voided or obj.patient.study.is_closed):
            return False
        return super().has_change_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("patient__study")  # has_change_permission reads it

    def save_model(self, request, obj, form, change):
        """Nothing is saved by the form: the services record, correct and void, under their rules."""
        data = form.cleaned_data
        reason = data.get("change_reason") or ""
        try:
            if not change:
                fields = {name: data[name] for name in services.ADVERSE_EVENT_FIELDS if name in data}
                event = services.adverse_event_record(
                    patient=data["patient"], by=request.user, as_data_manager=True, **fields
                )
                obj.pk = event.pk
            elif data.get(VOID_FIELD):
                services.adverse_event_void(event=obj, by=request.user, reason=reason, as_data_manager=True)
            else:
                changes = {name: data[name] for name in form.changed_data if name in services.ADVERSE_EVENT_FIELDS}
                if changes:
                    services.adverse_event_update(
                        event=obj, by=request.user, reason=reason, as_data_manager=True, **changes
                    )
        except ValidationError as error:  # a race only: the form has checked the same rules
            self.message_user(request, " ".join(error.messages), messages.ERROR)

    def save_related(self, request, form, formsets, change):
        """No inlines, no many-to-many: the service saved the event."""
