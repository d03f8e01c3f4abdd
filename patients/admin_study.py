"""The study's own pages in the admin: the study (closing and reopening it, the allocation list), its
sites, arms and visit schedule.

A running study's settings are saved through `services.study_setting_save`: once a patient has an
arm, what decides the allocation (the randomization mode, the arms' codes and weights, the sites'
codes) is read only here and refused by the service; a change of a visit's day or window states how
many recorded visits it moves in or out of their window, and is saved only once that has been seen
and confirmed, with a reason. The randomization seed is shown nowhere.

Registered from the end of `patients/admin.py`, whose audited admin it extends.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import services
from .admin import AuditedAdmin, AuditedInline, ReasonForm
from .admin_scope import ScopedInlineMixin
from .allocation_list import allocation_list_csv
from .allocation_models import AllocationListDownload
from .models import SCALE_CHOICES, RecordStatus, ScheduledVisit, Site, Study, TreatmentArm, Visit
from .services.study_settings import schedule_changes

# Never a field, a column or a line of the history of any admin page.
NEVER_SHOWN = ["randomization_seed"]
EFFECT_SEEN, EFFECT_CONFIRMED = "schedule_effect_seen", "schedule_effect_confirmed"


def _allocation_started(study_id: int | None) -> bool:
    return bool(study_id) and services.allocated_patients(study_id) > 0


def _visits_recorded(study_id: int | None) -> bool:
    return bool(study_id) and Visit.objects.filter(patient__study_id=study_id, status=RecordStatus.RECORDED).exists()


def _add_errors(form, error: ValidationError) -> None:
    """A refusal beside its field, or above the form when the field is not on it (read only)."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


class StudySettingsCheck(forms.ModelForm):
    """The allocation lock, checked when the form is: a refusal is shown beside its field."""

    def _post_clean(self):
        super()._post_clean()  # the instance holds the submitted values
        if self.errors:
            return
        instance = self.instance
        stored = type(instance).objects.filter(pk=instance.pk).first() if instance.pk else None
        try:
            services.study_setting_check(instance=instance, stored=stored)
        except ValidationError as error:
            _add_errors(self, error)


class StudySettingsForm(StudySettingsCheck, ReasonForm):
    pass


class StudySettingsInlineForm(StudySettingsCheck):
    pass


class ScheduledVisitForm(StudySettingsForm):
    """A change of a visit's day or window is shown with its effect on the visits already recorded
    ("12 visits change from in-window to out-of-window ..."), and saved only once confirmed."""

    schedule_effect_seen = forms.CharField(required=False, widget=forms.HiddenInput)
    schedule_effect_confirmed = forms.BooleanField(
        required=False,
        label="Save with this effect",
        help_text="Shown when a change of the day or window moves recorded visits in or out of their window.",
    )

    def _post_clean(self):
        super()._post_clean()
        instance = self.instance
        stored = ScheduledVisit.objects.filter(pk=instance.pk).first() if instance.pk else None
        if self.errors or not schedule_changes(instance, stored=stored):
            return
        assert stored is not None
        effect = services.schedule_change_effect(scheduled_visit=instance, stored=stored)
        seen = self.cleaned_data.get(EFFECT_SEEN)
        if not effect.changes_anything or (self.cleaned_data.get(EFFECT_CONFIRMED) and seen == effect.text):
            self.cleaned_data[EFFECT_SEEN] = effect.text
            return
        # Shown before anything is saved; the page comes back carrying the effect it showed, so that a
        # confirmation counts only for the effect the data manager saw (a changed value shows it again).
        self.data = self.data.copy()
        self.data[self.add_prefix(EFFECT_SEEN)] = effect.text
        self.add_error(EFFECT_CONFIRMED, f"{effect.text} Tick “Save with this effect” to save the change.")


class StudySettingsAdmin(AuditedAdmin):
    """Saved through `services.study_setting_save`, which refuses what the allocation lock forbids
    whatever the form. The history's revert is not offered: an old version of a setting brought back
    would skip the form (and once carried a blank seed)."""

    form = StudySettingsForm

    def save_model(self, request, obj, form, change):
        effect = services.study_setting_save(
            instance=obj,
            by=request.user,
            reason=form.cleaned_data.get("change_reason") or "",
            schedule_effect_seen=form.cleaned_data.get(EFFECT_SEEN),
        )
        if effect is not None:
            self.message_user(request, f"{obj}: {effect.text}", messages.WARNING)

    def save_formset(self, request, form, formset, change):
        reason = form.cleaned_data.get("change_reason") or ("Changed" if change else "Created")
        for obj in formset.save(commit=False):
            services.study_setting_save(instance=obj, by=request.user, reason=reason)
        formset.save_m2m()

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not isinstance(obj, Study):
            readonly.append("study")  # a site, arm or visit never moves to another study
            if _allocation_started(obj.study_id):
                readonly += [name for name in services.ALLOCATION_FIELDS.get(type(obj), ()) if name not in readonly]
        return readonly


class LockedInline(AuditedInline):
    """An inline of the study page: its allocation fields read only once a patient has an arm (and no row
    added here then: a new row would need them), its schedule fields once a visit is recorded (changed on
    the visit's own page, which shows the effect first)."""

    form = StudySettingsInlineForm
    locked_fields: tuple[str, ...] = ()
    locked_when = staticmethod(_allocation_started)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self.locked_when(obj.pk):
            readonly += [name for name in self.locked_fields if name not in readonly]
        return readonly

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not (obj is not None and self.locked_when(obj.pk))


class AllocationListDownloadInline(ScopedInlineMixin, admin.TabularInline):
    """Who downloaded the concealed list and when: read on the study's page, written only by the
    download itself."""

    model = AllocationListDownload
    verbose_name = "download of the allocation list"
    verbose_name_plural = "downloads of the allocation list"
    fields = readonly_fields = ["created_at", "user", "file_name"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SiteInline(LockedInline, admin.TabularInline):
    model = Site
    locked_fields = services.ALLOCATION_FIELDS[Site]


class ArmInline(LockedInline, admin.StackedInline):
    # Stacked: the description box in a table row made the Study page wider than a laptop screen.
    model = TreatmentArm
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}
    locked_fields = services.ALLOCATION_FIELDS[TreatmentArm]


class ScheduleInline(LockedInline, admin.TabularInline):
    model = ScheduledVisit
    show_change_link = True  # the visit's own page, where a change of its window shows its effect first
    locked_fields = services.SCHEDULE_FIELDS
    locked_when = staticmethod(_visits_recorded)


# The change form's lock box: one name per direction, so that a form opened before someone else
# closed (or reopened) the study can never do the opposite of what its box said.
CLOSE_FIELD, REOPEN_FIELD = "close_study", "reopen_study"


def _lock_field(study: Study) -> str:
    return REOPEN_FIELD if study.is_closed else CLOSE_FIELD


@admin.register(Study)
class StudyAdmin(StudySettingsAdmin):
    """Closing a study (locking its database) and reopening it: a box on the change form, saved with
    the form's reason through `services.study_close` / `study_reopen`. The lock date is never edited
    as a field. Whether coordinators see the results once it is closed is an ordinary field, audited
    with a reason like every change here. The randomization seed is never shown, not even in the
    history (`set_history_delta_changes`); the allocation list is downloaded from here, audited."""

    list_display = [
        "code",
        "title",
        "randomization",
        "max_units_per_point",
        "max_units_per_session",
        "closed_on",
        "results_open_to_coordinators",
    ]
    form = StudySettingsForm
    inlines = [SiteInline, ArmInline, ScheduleInline, AllocationListDownloadInline]
    actions = ["generate_randomization_list"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "scales":  # a list of codes, chosen by box rather than typed as JSON
            return forms.MultipleChoiceField(
                choices=SCALE_CHOICES,
                widget=forms.CheckboxSelectMultiple,
                required=False,
                label=db_field.verbose_name.capitalize(),
                help_text="Sunnybrook and eFACE are graded item by item at each visit (docs/grading.md).",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The lock date is set and cleared by closing and reopening. The seed is no field of any page:
        # whoever holds it can rebuild the concealed list (keyed_random).
        readonly = ["closed_on"]
        if obj is not None:
            readonly += ["allocation", "allocation_list"]
            if _allocation_started(obj.pk):
                readonly += list(services.ALLOCATION_FIELDS[Study])
        return readonly

    @admin.display(description="Allocation")
    def allocation(self, obj):
        count = services.allocated_patients(obj)
        if not count:
            return (
                "No patient has an arm yet: the allocation settings (arms' weights and codes, site codes, "
                "the randomization mode) can still be changed."
            )
        return (
            f"{count} patient{'s' if count != 1 else ''} allocated: the randomization mode, the arms' codes and "
            "allocation weights and the sites' codes are locked (they decide the concealed list). A change of "
            "a visit's day or window shows its effect on recorded visits before it is saved."
        )

    @admin.display(description="Concealed allocation list")
    def allocation_list(self, obj):
        if not obj.randomizes_in_system:
            return "Arms are assigned outside the system: there is no list."
        url = reverse("admin:patients_study_allocation_list", args=[obj.pk])
        return format_html(
            '<a href="{}">Download the allocation list (CSV)</a> — every download is recorded with who and when '
            "(the list of downloads below).",
            url,
        )

    def get_urls(self):
        download = self.admin_site.admin_view(self.allocation_list_download)
        return [
            path("<path:object_id>/allocation-list.csv", download, name="patients_study_allocation_list"),
            *super().get_urls(),
        ]

    def allocation_list_download(self, request, object_id):
        """The concealed list for the study's data managers; every download is recorded (who, when)."""
        self._require_in_scope(request, object_id)  # another study's list is a 404
        study = self.get_object(request, object_id)
        if study is None or not self.has_view_permission(request, study):
            raise PermissionDenied("Only the study's data managers download its allocation list.")
        name = f"{study.code}-allocation-list-{timezone.localdate():%Y-%m-%d}.csv"
        content = allocation_list_csv(study)
        AllocationListDownload.objects.create(user=request.user, study=study, file_name=name)
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"  # concealed: no copy in a shared workstation's cache
        return response

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """simple-history lists each version's changed fields; the seed's (blank to its value when the
        list was generated) must not be one of them."""
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(
                    current, excluded_fields=NEVER_SHOWN, foreign_keys_are_objs=foreign_keys_are_objs
                )
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(delta)
            previous = current

    def has_add_permission(self, request, *args):
        # A new study is a new room: set up by a superuser (services.study_set_up), then given
        # its data managers. A data manager's new study would be outside their own scope.
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def get_fields(self, request, obj=None):
        lock_fields = (CLOSE_FIELD, REOPEN_FIELD, "change_reason")
        fields = [name for name in super().get_fields(request, obj) if name not in lock_fields]
        if obj is not None:  # a new study is set up open
            fields.append(_lock_field(obj))
        return [*fields, "change_reason"]

    def get_form(self, request, obj=None, **kwargs):
        # The lock box is added below, not a field of the model (the history's version page asks
        # without naming the fields: they come from the fieldsets, the box among them).
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"]:  # None when Django asks which fields the form has (get_fields)
            kwargs["fields"] = [name for name in kwargs["fields"] if name not in (CLOSE_FIELD, REOPEN_FIELD)]
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form
        if obj.is_closed:
            label = "Reopen the study (unlock its database)"
            help_text = (
                f"Closed on {obj.closed_on:%Y-%m-%d}. Reopening lets data be entered and corrected again, and "
                "hides the outcome results from its coordinators until it is closed again. Give the reason below."
            )
        else:
            label = "Close the study (lock its database)"
            help_text = (
                "From then on nobody can enter or correct any of its data, here or on the coordinators' pages "
                "or the API, until a data manager reopens it. Give the reason below."
            )
        # A declared field: a box that changes counts as a change, so ReasonForm asks for the reason.
        return type(
            "StudyLockForm",
            (form,),
            {_lock_field(obj): forms.BooleanField(required=False, label=label, help_text=help_text)},
        )

    def save_model(self, request, obj, form, change):
        lock = change and form.cleaned_data.get(_lock_field(obj))
        if not lock or set(form.changed_data) - {CLOSE_FIELD, REOPEN_FIELD, "change_reason"}:
            super().save_model(request, obj, form, change)
        if not lock:
            return
        lock_service = services.study_reopen if obj.is_closed else services.study_close
        try:
            study = lock_service(study=obj, by=request.user, reason=form.cleaned_data["change_reason"])
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        except PermissionDenied as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            obj.closed_on = study.closed_on
            if study.is_closed:
                done = f"{study.code} is closed: its database is locked (since {study.closed_on:%Y-%m-%d})."
            else:
                done = f"{study.code} is reopened: data can be entered and corrected again."
            self.message_user(request, done, messages.WARNING)

    @admin.action(description="Generate the concealed randomization list")
    def generate_randomization_list(self, request, queryset):
        for study in queryset:
            try:
                created = services.randomization_list_generate(study=study)
            except ValidationError as exc:
                self.message_user(request, f"{study}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{study}: {created} allocation slots created.")


@admin.register(Site, TreatmentArm)
class StudyPartAdmin(StudySettingsAdmin):
    pass


@admin.register(ScheduledVisit)
class ScheduledVisitAdmin(StudySettingsAdmin):
    form = ScheduledVisitForm
    list_display = ["name", "study", "day_offset", "window_before_days", "window_after_days"]
    list_filter = ["study"]

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj) if name not in (EFFECT_SEEN, EFFECT_CONFIRMED)]
        if obj is None:
            return fields
        return [*fields[:-1], EFFECT_SEEN, EFFECT_CONFIRMED, fields[-1]]  # change_reason stays last
