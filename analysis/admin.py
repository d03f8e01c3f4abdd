from django.contrib import admin

from patients.admin_scope import ScopedAdminMixin

from .models import AnalysisDownload


@admin.register(AnalysisDownload)
class AnalysisDownloadAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """The audit trail is read-only: nobody edits or deletes who downloaded what. A data manager
    sees the downloads of their own studies only (`patients.admin_scope`)."""

    list_display = ["created_at", "user", "study", "what", "file_format", "file_name"]
    list_filter = ["study", "what", "file_format"]
    readonly_fields = ["created_at", "user", "study", "what", "file_format", "filters", "file_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
