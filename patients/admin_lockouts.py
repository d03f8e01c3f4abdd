"""Sign-in lock-outs in the admin: data managers see who is locked out and unlock them.

django-axes registers its own admin, reachable only through model permissions that
no role grants; here the lock-out list is opened to the data-manager role instead
(registered from PatientsConfig.ready, after axes' own admin module has loaded).
Unlocking deletes the account's failed-attempt record, which is what axes counts.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages

from .selectors import access_for


def _is_data_manager(request) -> bool:
    return request.user.is_superuser or access_for(request.user).is_data_manager


class LockoutAdmin(AccessAttemptAdmin):
    actions = ["unlock"]

    def has_module_permission(self, request):
        return _is_data_manager(request)

    def has_view_permission(self, request, obj=None):
        return _is_data_manager(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return _is_data_manager(request)

    @admin.action(description="Unlock the selected accounts (clear their failed sign-ins)", permissions=["delete"])
    def unlock(self, request, queryset):
        usernames = sorted(set(queryset.values_list("username", flat=True)))
        # All of an account's records, whatever address they came from: the lock-out is per user name.
        AccessAttempt.objects.filter(username__in=usernames).delete()
        messages.success(request, f"Unlocked: {', '.join(usernames)}.")


def register() -> None:
    if admin.site.is_registered(AccessAttempt):
        admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, LockoutAdmin)
