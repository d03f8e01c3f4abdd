"""The data manager's view of missing-data codes: every code of their studies with its history, read only.

Codes are marked and withdrawn on the coordinator's pages (patients/missing_code_views.py), through
`patients.services.missing_codes`; a visit's grade corrected here voids its code (VisitAdmin).
Registered from the end of `patients/admin.py`, whose audited admin it extends.
"""

from django.contrib import admin

from .admin import AuditedAdmin
from .missing_codes import MissingItem


@admin.register(MissingItem)
class MissingItemAdmin(AuditedAdmin):
    list_display = ["visit", "item_kind", "item_code", "code", "status"]
    list_select_related = ["visit__patient", "visit__scheduled_visit"]
    list_filter = ["visit__patient__study", "item_kind", "code", "status"]
    search_fields = ["visit__patient__study_code"]
    raw_id_fields = ["visit", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
