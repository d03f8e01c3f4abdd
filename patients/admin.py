"""The data manager's tools: study set-up, corrections, the randomization list, users and tokens.

Every change made here needs a reason, kept in the audit trail with who and when, whether it
was made in the form or only in one of its inlines. Clinical records cannot be deleted here
either: they are withdrawn or voided; users are deactivated. Each data manager reaches only
the studies where they hold the role (`admin_scope`).
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from . import (
    admin_tokens,  # noqa: F401  (registers the API-token admin)
    services,
)
from .admin_scope import ScopedAdminMixin, ScopedInlineMixin, is_data_manager
from .audit import history_written_by
from .eligibility_models import EligibilityCriterion
from .missing_codes import GRADE_ITEMS, ItemKind
from .models import (
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    PseudonymKey,
    RandomizationSlot,
    RandomizationStratum,
    RecordStatus,
    ScaleAssessment,
    Study,
    StudyOutcome,
    StudyRole,
    Visit,
)
from .pseudonyms import pseudonym_key_rotate
from .selectors import access_for
from .services.common import REASON_REQUIRED, require_study_open


def _patient_study_id(instance) -> int | None:
    """The study of a patient's record (a visit, a session), for the lock of a closed study; None for
    anything else. A patient and their identifiers go through `services.patient_update`, which checks it."""
    patient_id = getattr(instance, "patient_id", None)
    if patient_id is None:
        return None
    return Patient.objects.filter(pk=patient_id).values_list("study_id", flat=True).first()


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
            self.add_error("change_reason", REASON_REQUIRED)
        return cleaned

    def _post_clean(self):
        super()._post_clean()  # the instance now holds the submitted values (its patient too)
        # A closed study's records are locked for the data manager as well: reopen it first.
        study_id = _patient_study_id(self.instance)
        if study_id is not None and self.has_changed():
            try:
                require_study_open(study_id)
            except ValidationError as error:
                self.add_error(None, error)


class ReasonFormSet(forms.BaseInlineFormSet):
    """An inline changed on an existing record needs the form's reason too: without it a change
    made only in an inline (a patient's identifiers, a point's units, a point added) was saved
    as "Changed". A voided row is never restored here."""

    def clean(self):
        super().clean()
        existing_parent = self.instance.pk is not None and not self.instance._state.adding
        changed = any(form.has_changed() for form in self.forms)  # a row added is a change too
        if existing_parent and changed and not (self.data.get("change_reason") or "").strip():
            raise ValidationError(f"Reason for this change: {REASON_REQUIRED}")
        study_id = _patient_study_id(self.instance)
        if changed and study_id is not None:
            require_study_open(study_id)  # a change made only in an inline is locked too
        for form in self.forms:
            restored = form.initial.get("status") == RecordStatus.VOIDED and form.cleaned_data.get("status") not in (
                None,
                RecordStatus.VOIDED,
            )
            if restored:
                raise ValidationError("A voided row stays voided (its void is part of the record); record it again.")


class AuditedInline(ScopedInlineMixin):
    formset = ReasonFormSet
    extra = 0
    can_delete = False


class HistoryReadOnly(SimpleHistoryAdmin):
    """The history pages of every audited admin: each past version can be read, none brought back.

    simple-history's version page saves the version it shows when posted, whatever its button says,
    which would bypass the services' rules (a study's blank seed, a voided visit un-voided, a correction
    without its reason). SIMPLE_HISTORY_REVERT_DISABLED hides the button; this refuses the post."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("This record is changed on its own page, not by bringing back a version.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class AuditedAdmin(ScopedAdminMixin, HistoryReadOnly):
    """Requires a reason for edits (inlines included), never deletes, and reaches only the data
    manager's studies."""

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

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if getattr(obj, "is_voided", False):
            # A voided record stays voided, with its reason: one entered in error is recorded
            # again, never restored (its void would vanish from the record).
            readonly += [name for name in ("status", "void_reason") if name not in readonly]
        return readonly


class IdentifiersFormSet(ReasonFormSet):
    def clean(self):
        super().clean()
        changes = {
            name: form.cleaned_data[name]
            for form in self.forms
            if form.instance.pk and hasattr(form, "cleaned_data")
            for name in form.changed_data
            if name in services.PATIENT_IDENTIFIER_FIELDS
        }
        if changes and not any(self.errors):
            try:
                services.patient_update_validate(patient=self.instance, as_data_manager=True, **changes)
            except ValidationError as error:
                raise ValidationError(error.messages) from None


class IdentifiersInline(AuditedInline, admin.StackedInline):
    model = PatientIdentifiers
    formset = IdentifiersFormSet


PATIENT_CORRECTIONS_HELP = (
    "Study, site, status and arm are not changed here. Withdrawal and completion are recorded on the "
    "patient's page; an arm assigned outside the system is recorded there by a data manager. A randomized "
    "patient keeps the site and baseline House-Brackmann band of the stratum they were randomized in: if "
    "either was wrong, correct nothing here and write a re-stratification note (a protocol deviation) "
    "for the statistician; the allocation stands."
)


@admin.register(Patient)
class PatientAdmin(AuditedAdmin):
    """Corrections go through `services.patient_update`, like the coordinator's: recorded visits must
    still fit a moved enrollment date, a randomized patient's stratum is fixed, and nobody is
    un-withdrawn. Patients are registered by their site's coordinator (`patient_register`), not here."""

    list_display = ["study_code", "site", "status", "arm", "enrollment_date"]
    list_select_related = ["site", "arm"]
    list_filter = ["study", "site", "status", "arm"]
    search_fields = ["study_code"]
    inlines = [IdentifiersInline]
    fields = [
        "study_code",
        "study",
        "site",
        "status",
        "how_to_change",
        *services.PATIENT_CLINICAL_FIELDS,
        "withdrawn_on",
        "withdrawal_reason",
        "arm",
        "arm_assignment",
        "arm_assignment_reason",
        "arm_assigned_at",
        "arm_assigned_by",
    ]

    def get_readonly_fields(self, request, obj=None):
        editable = set(services.PATIENT_CLINICAL_FIELDS)
        if obj is not None and obj.is_randomized:
            editable.discard("baseline_house_brackmann")  # the stratum's band
        return [name for name in self.fields if name not in editable]

    @admin.display(description="How to change the read-only fields")
    def how_to_change(self, obj):
        return PATIENT_CORRECTIONS_HELP

    def has_add_permission(self, request, *args):
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class PatientRulesForm(form):
            def clean(self):
                cleaned = super().clean()
                changes = self.clinical_changes()
                if changes and not self.errors:
                    try:
                        services.patient_update_validate(patient=self.instance, as_data_manager=True, **changes)
                    except ValidationError as error:
                        self.add_error(None, error)
                return cleaned

            def clinical_changes(self):
                return {
                    name: self.cleaned_data[name]
                    for name in self.changed_data
                    if name in services.PATIENT_CLINICAL_FIELDS and name in self.cleaned_data
                }

        return PatientRulesForm

    def save_model(self, request, obj, form, change):
        """Nothing is saved here: `save_related` saves the form and its identifiers in one service call."""

    def save_related(self, request, form, formsets, change):
        changes = form.clinical_changes()
        for formset in formsets:
            # What formset.save() would have noted, for the admin's own log of the change.
            formset.new_objects, formset.deleted_objects = [], []
            formset.changed_objects = [(f.instance, f.changed_data) for f in formset.forms if f.has_changed()]
            for inline_form in formset.forms:
                changes.update(
                    {
                        name: inline_form.cleaned_data[name]
                        for name in inline_form.changed_data
                        if name in services.PATIENT_IDENTIFIER_FIELDS
                    }
                )
        if changes:
            services.patient_update(
                patient=form.instance,
                by=request.user,
                reason=form.cleaned_data.get("change_reason") or "",
                as_data_manager=True,
                **changes,
            )


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
        # Who recorded a visit, and whose visit it is, are facts of the record, not corrections;
        # the rules of every audited record (a voided one stays voided) still apply.
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += [name for name in ("patient", "created_by") if name not in readonly]
        return readonly

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A grade the data manager enters here is the value a missing-data code stood for: void the code.
        graded = [name for name in GRADE_ITEMS if getattr(obj, name) is not None]
        if obj.status == RecordStatus.RECORDED and graded:
            services.missing_items_clear(visit=obj, item_kind=ItemKind.GRADE, item_codes=graded, by=request.user)

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


class PointRulesFormSet(ReasonFormSet):
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


class PointInline(AuditedInline, admin.TabularInline):
    model = InjectionPoint
    formset = PointRulesFormSet


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
        return is_data_manager(request)


class DataManagerOnly:
    """The allocation list is concealed: only data managers may even view it."""

    def has_module_permission(self, request):
        return is_data_manager(request)

    def has_view_permission(self, request, obj=None):
        return is_data_manager(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RandomizationSlot)
class RandomizationSlotAdmin(DataManagerOnly, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["stratum", "position", "block_number", "block_size", "arm", "patient", "allocated_at"]
    list_select_related = ["stratum__site", "arm", "patient"]
    list_filter = ["stratum__study", "stratum__site", "stratum__severity_band"]


@admin.register(ScaleAssessment)
class ScaleAssessmentAdmin(DataManagerOnly, ScopedAdminMixin, HistoryReadOnly):
    """The item-level gradings, read with their history: written only through the scale services
    (the coordinator's form at the visit, which computes the scores), so never edited here."""

    list_display = ["visit", "scale", "source", "total", "complete", "status"]
    list_select_related = ["visit__patient", "visit__scheduled_visit"]
    list_filter = ["visit__patient__study", "scale", "source", "complete", "status"]


@admin.register(RandomizationStratum)
class RandomizationStratumAdmin(DataManagerOnly, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["study", "site", "severity_band"]
    list_select_related = ["study", "site"]


class DataManagerUserAdmin(ScopedAdminMixin, UserAdmin):
    """Data managers administer the accounts of their studies, but only a superuser may grant
    superuser or staff powers or change permissions. Accounts are deactivated, never deleted:
    the audit trail names them (`audit.refuse_deleting_history_users`)."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "is_staff", "user_permissions", "groups"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Nobody but a superuser edits a superuser's account, and a data manager edits (deactivates,
        # renames, resets) only an account whose every role is in studies they manage: one who also
        # works in another study is that study's business too, so they see it read-only.
        if obj is not None and not request.user.is_superuser:
            if obj.is_superuser or self._has_roles_elsewhere(request, obj):
                return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @staticmethod
    def _has_roles_elsewhere(request, obj) -> bool:
        managed = access_for(request.user).data_manager_study_ids
        return obj.study_roles.exclude(study_id__in=managed).exists()

    def user_change_password(self, request, id, form_url=""):
        self._require_in_scope(request, id)
        user = self.get_object(request, id)
        if user is not None and not self.has_change_permission(request, user):
            raise PermissionDenied("This account also has roles in studies you do not manage; ask a superuser.")
        return super().user_change_password(request, id, form_url)

    def get_deleted_objects(self, objs, request):
        # The superuser's delete page lists an account that wrote history as protected, so the
        # refusal is a page, not an error at the moment of deletion.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = list(protected) + [f"{user}: {why}" for user in objs if (why := history_written_by(user))]
        return deleted, counts, perms_needed, protected


class ReadOnlyGroupAdmin(GroupAdmin):
    """A data manager sees the groups (what the "Data managers" group grants) but cannot change
    them: one who could would grant their own group the right to delete users."""

    def has_module_permission(self, request):
        return is_data_manager(request)

    def has_view_permission(self, request, obj=None):
        return is_data_manager(request)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


admin.site.unregister(User)
admin.site.register(User, DataManagerUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, ReadOnlyGroupAdmin)


@admin.register(StudyOutcome)
class StudyOutcomeAdmin(AuditedAdmin):
    """Data managers define a study's own numeric outcomes (name, unit, allowed range)."""

    list_display = ["study", "code", "name", "unit", "min_value", "max_value"]
    list_filter = ["study"]


# --- Pseudonym keys (API tokens: patients/admin_tokens.py) ----------------------------------


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
class PseudonymKeyAdmin(ScopedAdminMixin, DataManagerOnly, HistoryReadOnly):
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
        return is_data_manager(request)

    def has_change_permission(self, request, obj=None):
        return is_data_manager(request) and (
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


# --- Eligibility checklist --------------------------------------------------------------------------


@admin.register(EligibilityCriterion)
class EligibilityCriterionAdmin(AuditedAdmin):
    """Data managers define each study's inclusion and exclusion criteria; coordinators answer them
    per patient before randomization (`services.patient_eligibility_record`). Once a patient has
    answered a criterion its wording is fixed (the answer was given to those words): retire it
    (untick Active) and add a new one instead."""

    list_display = ["study", "kind", "order", "text", "active"]
    list_filter = ["study", "kind", "active"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.answers.exists():
            readonly += ["study", "kind", "text"]
        return readonly


# The study's own pages and the adverse-event page live in their own modules (this one is long);
# importing them registers them.
from . import admin_adverse_events, admin_missing_codes  # noqa: E402, F401, I001
from .admin_study import CLOSE_FIELD, REOPEN_FIELD  # noqa: E402, F401
