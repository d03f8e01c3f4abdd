from django.contrib.admin.apps import AdminConfig


class TrialAdminConfig(AdminConfig):
    """The admin site that admits data managers only (patients/admin_scope.py)."""

    default_site = "patients.admin_scope.TrialAdminSite"
