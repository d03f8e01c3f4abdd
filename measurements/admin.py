from django.contrib import admin

from patients.admin_scope import ScopedAdminMixin, ScopedInlineMixin

from .models import Photo, PhotoScore


class ScoreInline(ScopedInlineMixin, admin.TabularInline):
    model = PhotoScore
    fk_name = "photo"
    extra = 0
    can_delete = False
    fields = [
        "engine_version",
        "model_version",
        "status",
        "reason",
        "mm_per_px",
        "scale_photo",
        "scale_note",
        "yaw_deg",
        "pitch_deg",
        "roll_deg",
        "created_at",
    ]
    readonly_fields = fields


@admin.register(Photo)
class PhotoAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Read-only for data managers: photos are replaced by retakes, never edited or deleted."""

    list_display = ["patient", "visit", "expression", "status", "is_current", "uploaded_at"]
    list_filter = ["status", "expression", "is_current", "patient__study"]
    search_fields = ["patient__study_code"]
    exclude = ["original", "claim_token"]
    inlines = [ScoreInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
