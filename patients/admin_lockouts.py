"""Sign-in lock-outs in the admin: data managers see who is locked out and unlock them.

django-axes registers its own admin, reachable only through model permissions that
no role grants; here the lock-out list is opened to the data-manager role instead
(registered from PatientsConfig.ready, after axes' own admin module has loaded).
Unlocking deletes the account's failed-attempt record, which is what axes counts. The list is
scoped like the rest of the admin: another study's accounts are not listed.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q

from .admin_scope import is_data_manager as _is_data_manager
from .admin_scope import scope


class LockoutAdmin(AccessAttemptAdmin):
    actions = ["unlock"]

    def get_queryset(self, request):
        """The lock-outs of the accounts of the data manager's studies, and of names that are no
        account at all (a guess, or an address locked for trying many): never another study's users."""
        users = get_user_model().objects
        in_scope = scope(users.all(), request).values("username")
        return (
            super()
            .get_queryset(request)
            .filter(Q(username__in=in_scope) | ~Q(username__in=users.values("username")) | Q(username__isnull=True))
        )

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
