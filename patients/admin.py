"""The data manager's tools: study set-up, corrections, the randomization list, users and tokens.

Every change made here needs a reason, kept in the audit trail with who and when.
Clinical records cannot be deleted here either: they are withdrawn or voided.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from analysis.export.pseudonyms import pseudonym_key_rotate

from . import services
from .models import (
    ApiToken,
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    PseudonymKey,
    RandomizationSlot,
    RandomizationStratum,
    RecordStatus,
    ScheduledVisit,
    Site,
    Study,
    StudyOutcome,
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
    list_select_related = ["site", "arm"]
    list_filter = ["study", "site", "status", "arm"]
    search_fields = ["study_code"]
    readonly_fields = ["study_code", "arm", "arm_assignment", "arm_assigned_at", "arm_assigned_by"]
    inlines = [IdentifiersInline]


@admin.register(Visit)
class VisitAdmin(AuditedAdmin):
    """Corrections here obey the same rules as the coordinator's form: dates, window, baseline first."""

    list_display = ["patient", "scheduled_visit", "date_performed", "status"]
    list_select_related = ["patient", "scheduled_visit"]
    # A drop-down of every patient (or user) grows with the study: an id box with the chosen
    # one's name costs one query whatever the size.
    raw_id_fields = ["patient", "created_by"]
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
    list_select_related = ["patient"]
    # Each option of a visit drop-down is labelled with its patient and scheduled visit: two
    # queries per visit of the study. An id box with the chosen one's name costs one.
    raw_id_fields = ["patient", "visit", "created_by"]
    search_fields = ["patient__study_code", "lot_number"]
    inlines = [PointInline]


@admin.register(StudyRole)
class StudyRoleAdmin(AuditedAdmin):
    list_display = ["user", "study", "role", "site"]
    list_select_related = ["user", "study", "site"]
    raw_id_fields = ["user"]
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
    list_select_related = ["stratum__site", "arm", "patient"]
    list_filter = ["stratum__study", "stratum__site", "stratum__severity_band"]


@admin.register(RandomizationStratum)
class RandomizationStratumAdmin(DataManagerOnly, admin.ModelAdmin):
    list_display = ["study", "site", "severity_band"]
    list_select_related = ["study", "site"]


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


@admin.register(StudyOutcome)
class StudyOutcomeAdmin(AuditedAdmin):
    """Data managers define a study's own numeric outcomes (name, unit, allowed range)."""

    list_display = ["study", "code", "name", "unit", "min_value", "max_value"]
    list_filter = ["study"]


# --- API tokens and pseudonym keys -------------------------------------------------------


class ApiTokenCreateForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=730, initial=90, help_text="The token stops working after this many days."
    )

    class Meta:
        model = ApiToken
        fields = ["client_name", "study", "user"]
        help_texts = {"user": "The account the client acts as: it needs a role in the study (usually API client)."}

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        studies = (
            Study.objects.all()
            if request.user.is_superuser
            else Study.objects.filter(pk__in=access_for(request.user).data_manager_study_ids)
        )
        self.fields["study"].queryset = studies
        self.fields["user"].queryset = User.objects.filter(study_roles__study__in=studies, is_active=True).distinct()

    def clean(self):
        cleaned = super().clean()
        study, user = cleaned.get("study"), cleaned.get("user")
        if study and user and not StudyRole.objects.filter(user=user, study=study).exists():
            self.add_error("user", "This account has no role in the study; give it one first.")
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Data managers issue tokens for their own studies; the token is shown once, then only its hash is kept."""

    list_display = ["client_name", "token_key", "study", "user", "created", "expiry", "last_used_at", "revoked_at"]
    list_filter = ["study"]
    actions = ["revoke"]
    readonly_fields = [
        "client_name",
        "study",
        "user",
        "token_key",
        "created",
        "created_by",
        "expiry",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]

    def get_queryset(self, request):
        tokens = super().get_queryset(request).select_related("study", "user")
        if request.user.is_superuser:
            return tokens
        return tokens.filter(study_id__in=access_for(request.user).data_manager_study_ids)

    def has_module_permission(self, request):
        return _is_data_manager(request)

    def has_view_permission(self, request, obj=None):
        return _is_data_manager(request)

    def has_add_permission(self, request):
        return _is_data_manager(request)

    def has_change_permission(self, request, obj=None):
        return _is_data_manager(request) and obj is None  # the list page (for the revoke action); no edits

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the record of who held a token stays

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, **kwargs)

        class BoundForm(ApiTokenCreateForm):
            def __init__(self, *args, **kw):
                super().__init__(*args, request=request, **kw)

        return BoundForm

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["client_name", "study", "user", "expires_in_days"]

    def save_model(self, request, obj, form, change):
        instance, token = ApiToken.objects.create(
            user=form.cleaned_data["user"],
            expiry=timedelta(days=form.cleaned_data["expires_in_days"]),
            client_name=form.cleaned_data["client_name"],
            study=form.cleaned_data["study"],
            created_by=request.user,
        )
        form.instance = instance
        obj.pk = instance.pk
        self.message_user(
            request,
            f"Token for {instance.client_name}: {token} — copy it now: only its hash is stored, "
            "it will not be shown again.",
            messages.WARNING,
        )

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:patients_apitoken_changelist"))

    def log_addition(self, request, obj, message):
        return None  # knox's create() made the row; the token's own fields record who and when

    @admin.action(description="Revoke the selected tokens (effective on their next request)")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=request.user)
        self.message_user(request, f"{count} token(s) revoked.")


class PseudonymKeyForm(forms.ModelForm):
    reason = forms.CharField(
        label="Reason for rotating",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Saving gives every subject of the study a new subject_id; earlier exports can no longer be "
        "linked to later ones. Kept in the audit trail.",
    )

    class Meta:
        model = PseudonymKey
        fields = ["study"]


@admin.register(PseudonymKey)
class PseudonymKeyAdmin(DataManagerOnly, SimpleHistoryAdmin):
    """Rotation of a study's pseudonym key: an audited data-manager action. The secret is never shown."""

    form = PseudonymKeyForm
    list_display = ["study", "rotated_at", "rotated_by"]
    readonly_fields = ["rotated_at", "rotated_by", "rotation_reason"]

    def get_queryset(self, request):
        keys = super().get_queryset(request)
        if request.user.is_superuser:
            return keys
        return keys.filter(study_id__in=access_for(request.user).data_manager_study_ids)

    def has_add_permission(self, request, obj=None):
        return _is_data_manager(request)

    def has_change_permission(self, request, obj=None):
        return _is_data_manager(request) and (
            obj is None or request.user.is_superuser or obj.study_id in access_for(request.user).data_manager_study_ids
        )

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not request.user.is_superuser:
            form.base_fields["study"].queryset = Study.objects.filter(
                pk__in=access_for(request.user).data_manager_study_ids
            )
        return form

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "study"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        rotated = pseudonym_key_rotate(study=obj.study, by=request.user, reason=form.cleaned_data["reason"])
        obj.pk = rotated.pk
        self.message_user(request, f"{obj.study}: every subject has a new subject_id.")
