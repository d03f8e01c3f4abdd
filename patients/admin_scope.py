"""The admin's rooms: a data manager reaches the records of the studies where they hold the role.

Staff status and Django model permissions open nothing on their own: the admin site admits a
user only with the data-manager role (`TrialAdminSite`, superusers excepted), and every model
admin, inline and lookup filters its rows through `scope()`. A record of another study is a 404,
whether asked for by its change form, its history (simple-history's views), a raw-id or
`?_to_field` popup, or an autocomplete. A model `scope()` does not know reaches nothing
(fail closed): a new admin must say how its rows belong to a study.
"""

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from .selectors import access_for

# model label -> the lookup from that model to its study's id.
STUDY_LOOKUPS: dict[str, str] = {
    "patients.study": "pk",
    "patients.site": "study",
    "patients.treatmentarm": "study",
    "patients.scheduledvisit": "study",
    "patients.patient": "study",
    "patients.patientidentifiers": "patient__study",
    "patients.visit": "patient__study",
    "patients.injectionsession": "patient__study",
    "patients.injectionpoint": "session__patient__study",
    "patients.studyrole": "study",
    "patients.randomizationstratum": "study",
    "patients.randomizationslot": "stratum__study",
    "measurements.photo": "patient__study",
    "measurements.photoscore": "photo__patient__study",
    "patients.studyoutcome": "study",
    "patients.visitoutcomevalue": "visit__patient__study",
    "patients.scaleassessment": "visit__patient__study",
    "patients.missingitem": "visit__patient__study",
    "patients.adverseevent": "patient__study",
    "patients.eligibilitycriterion": "study",
    "patients.eligibilityanswer": "patient__study",
    "patients.apitoken": "study",
    "patients.pseudonymkey": "study",
    "patients.allocationlistdownload": "study",
    "analysis.analysisdownload": "study",
}


def is_data_manager(request) -> bool:
    user = request.user
    return user.is_active and (user.is_superuser or access_for(user).is_data_manager)


def scope(queryset: QuerySet, request) -> QuerySet:
    """The rows of `queryset` the request's user may reach in the admin."""
    if request.user.is_active and request.user.is_superuser:
        return queryset
    study_ids = access_for(request.user).data_manager_study_ids
    model = queryset.model
    if model is get_user_model():
        # The accounts of the data manager's studies, and accounts with no role yet (to be given
        # one); never a superuser's.
        in_scope = model.objects.filter(
            Q(study_roles__study_id__in=study_ids) | Q(study_roles__isnull=True), is_superuser=False
        )
        return queryset.filter(pk__in=in_scope.values("pk"))
    lookup = STUDY_LOOKUPS.get(model._meta.label_lower)
    if lookup is None or not study_ids:
        return queryset.none()
    # A subquery rather than a join: a lookup through a many-valued relation (a token's user's
    # roles) would repeat rows.
    return queryset.filter(pk__in=model._base_manager.filter(**{f"{lookup}__in": study_ids}).values("pk"))


class TrialAdminSite(admin.AdminSite):
    site_header = "Trial data management"
    site_title = "Trial data management"

    def has_permission(self, request):
        return request.user.is_active and request.user.is_staff and is_data_manager(request)


class ScopedFieldsMixin:
    """Drop-downs, raw-id boxes and their popups offer (and accept) only records in the user's scope."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope(field.queryset, request)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = scope(field.queryset, request)
        return field


class ScopedAdminMixin(ScopedFieldsMixin):
    """A model admin limited to the data manager's studies; the role is required on top of the
    model permissions (which the "Data managers" group grants, and which alone grant nothing)."""

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request)

    def get_list_filter(self, request):
        # Django's filter by a related field offers every row of the related table (every study's
        # sites and arms, by name); this one offers only the values found in the scoped list.
        return [
            (name, admin.RelatedOnlyFieldListFilter)
            if isinstance(name, str) and get_fields_from_path(self.model, name)[-1].is_relation
            else name
            for name in super().get_list_filter(request)
        ]

    def has_module_permission(self, request):
        return is_data_manager(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_data_manager(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return is_data_manager(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_data_manager(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_data_manager(request) and super().has_delete_permission(request, obj)

    def _require_in_scope(self, request, object_id) -> None:
        """Django's admin answers an unreachable id with a redirect and a message naming the id;
        here it is a 404, like the rest of the application, whatever view asked."""
        try:
            found = self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        except (ValidationError, ValueError, TypeError):
            found = False
        if not found:
            raise Http404("No such record.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._require_in_scope(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        # simple-history falls back to the history rows when get_queryset() misses, which would
        # show another study's record; Django's own history view is covered the same way.
        self._require_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_in_scope(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)


class ScopedInlineMixin(ScopedFieldsMixin):
    def has_view_permission(self, request, obj=None):
        return is_data_manager(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return is_data_manager(request) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return is_data_manager(request) and super().has_change_permission(request, obj)
