"""The data manager's tools: study set-up, corrections, the randomization list, users and tokens.

Every change made here needs a reason, kept in the audit trail with who and when.
Clinical records cannot be deleted here either: they are withdrawn or voided.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.admin import SimpleHistoryAdmin

from . import services
from .models import (
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    RandomizationSlot,
    RandomizationStratum,
    RecordStatus,
    ScheduledVisit,
    Site,
    Study,
    StudyRole,
    TreatmentArm,
    Visit,
)
from .selectors import access_for


class ReasonForm(forms.ModelForm):
    change_reason = forms.CharField(
        label="Reason for this change",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for any change to an existing record; kept in the audit trail.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.has_changed() and not (cleaned.get("change_reason") or "").strip():
            self.add_error("change_reason", "Give a reason for this change.")
        return cleaned


class AuditedAdmin(SimpleHistoryAdmin):
    """Requires a reason for edits and never deletes."""

    form = ReasonForm

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if "change_reason" not in fields:
            fields.append("change_reason")
        return fields

    def save_model(self, request, obj, form, change):
        obj._change_reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        for obj in formset.save(commit=False):
            obj._change_reason = reason
            obj.save()
        formset.save_m2m()

    def has_delete_permission(self, request, obj=None):
        return False


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0
    can_delete = False


class ArmInline(admin.StackedInline):
    # Stacked: the description box in a table row made the Study page wider than a laptop screen.
    model = TreatmentArm
    extra = 0
    can_delete = False
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}


class ScheduleInline(admin.TabularInline):
    model = ScheduledVisit
    extra = 0
    can_delete = False


@admin.register(Study)
class StudyAdmin(AuditedAdmin):
    list_display = ["code", "title", "randomization", "max_units_per_point", "max_units_per_session"]
    inlines = [SiteInline, ArmInline, ScheduleInline]
    actions = ["generate_randomization_list"]

    def get_readonly_fields(self, request, obj=None):
        # The seed is shown to data managers only, for audit; it is never editable.
        return ["randomization_seed"] if _is_data_manager(request) else []

    @admin.action(description="Generate the concealed randomization list")
    def generate_randomization_list(self, request, queryset):
        for study in queryset:
            try:
                created = services.randomization_list_generate(study=study)
            except ValidationError as exc:
                self.message_user(request, f"{study}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{study}: {created} allocation slots created.")


@admin.register(Site, TreatmentArm, ScheduledVisit)
class StudyPartAdmin(AuditedAdmin):
    pass


class IdentifiersInline(admin.StackedInline):
    model = PatientIdentifiers
    can_delete = False


@admin.register(Patient)
class PatientAdmin(AuditedAdmin):
    list_display = ["study_code", "site", "status", "arm", "enrollment_date"]
    list_filter = ["study", "site", "status", "arm"]
    search_fields = ["study_code"]
    readonly_fields = ["study_code", "arm", "arm_assignment", "arm_assigned_at", "arm_assigned_by"]
    inlines = [IdentifiersInline]


@admin.register(Visit)
class VisitAdmin(AuditedAdmin):
    """Corrections here obey the same rules as the coordinator's form: dates, window, baseline first."""

    list_display = ["patient", "scheduled_visit", "date_performed", "status"]
    list_filter = ["scheduled_visit__study", "scheduled_visit", "status"]
    search_fields = ["patient__study_code"]

    def get_readonly_fields(self, request, obj=None):
        # Who recorded a visit, and whose visit it is, are facts of the record, not corrections.
        return ["patient", "created_by"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class VisitRulesForm(form):
            def _post_clean(self):
                super()._post_clean()  # the instance now holds the submitted values
                visit = self.instance
                if (
                    not self.errors
                    and visit.status == RecordStatus.RECORDED
                    and visit.patient_id
                    and visit.scheduled_visit_id
                ):
                    try:
                        services.visit_validate(
                            patient=visit.patient, scheduled_visit=visit.scheduled_visit, visit=visit
                        )
                    except ValidationError as error:
                        self.add_error(None, error)

        return VisitRulesForm


class PointRulesFormSet(forms.BaseInlineFormSet):
    """A recorded session corrected here obeys the coordinator's rules: each point within the
    study's per-point ceiling, the session's total within its ceiling, and so on."""

    def clean(self):
        super().clean()
        session = self.instance  # holds the submitted session values (the admin saves it uncommitted first)
        if any(self.errors) or session.status != RecordStatus.RECORDED or not session.patient_id:
            return
        points = [
            {
                "muscle": form.cleaned_data.get("muscle"),
                "muscle_other": form.cleaned_data.get("muscle_other", ""),
                "side": form.cleaned_data.get("side"),
                "units": form.cleaned_data.get("units"),
            }
            for form in self.forms
            if form.cleaned_data and form.cleaned_data.get("status", RecordStatus.RECORDED) == RecordStatus.RECORDED
        ]
        try:
            services.injection_session_validate(patient=session.patient, session=session, points=points)
        except ValidationError as error:
            raise ValidationError(error.messages) from None


class PointInline(admin.TabularInline):
    model = InjectionPoint
    formset = PointRulesFormSet
    extra = 0
    can_delete = False


@admin.register(InjectionSession)
class InjectionSessionAdmin(AuditedAdmin):
    list_display = ["patient", "date", "product", "lot_number", "status"]
    search_fields = ["patient__study_code", "lot_number"]
    inlines = [PointInline]


@admin.register(StudyRole)
class StudyRoleAdmin(AuditedAdmin):
    list_display = ["user", "study", "role", "site"]
    list_filter = ["study", "role", "site"]

    def has_delete_permission(self, request, obj=None):
        # Roles are access grants, not clinical data: a data manager revokes them.
        return _is_data_manager(request)


def _is_data_manager(request) -> bool:
    return request.user.is_superuser or access_for(request.user).is_data_manager


class DataManagerOnly:
    """The allocation list is concealed: only data managers may even view it."""

    def has_module_permission(self, request):
        return _is_data_manager(request)

    def has_view_permission(self, request, obj=None):
        return _is_data_manager(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RandomizationSlot)
class RandomizationSlotAdmin(DataManagerOnly, admin.ModelAdmin):
    list_display = ["stratum", "position", "block_number", "block_size", "arm", "patient", "allocated_at"]
    list_filter = ["stratum__study", "stratum__site", "stratum__severity_band"]


@admin.register(RandomizationStratum)
class RandomizationStratumAdmin(DataManagerOnly, admin.ModelAdmin):
    list_display = ["study", "site", "severity_band"]


class DataManagerUserAdmin(UserAdmin):
    """Data managers administer accounts, but only a superuser may grant superuser or staff powers."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "is_staff", "user_permissions", "groups"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Nobody but a superuser edits a superuser's account.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)


admin.site.unregister(User)
admin.site.register(User, DataManagerUserAdmin)
