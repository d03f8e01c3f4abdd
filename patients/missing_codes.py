"""Missing-data codes: an expected item of a recorded visit marked missing, with a code and a reason,
instead of a value (docs/coordinator.md, "Marking an item missing").

An item is one of the visit's standard photos (its expression), a clinician grade (the visit's
House–Brackmann grade or typed Sunnybrook composite) or a study-defined outcome (its code). One
audited record per item, keyed by visit, kind and item; withdrawn by voiding, never deleted.
Kept out of models.py and imported from there, so that Django registers it with the patients app.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

# Loaded from the end of models.py (Django imports that module first), so these are there.
from .models import RecordStatus, Visit


class MissingCode(models.TextChoices):
    NOT_DONE = "not_done", "Not done"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    UNKNOWN = "unknown", "Unknown"
    DECLINED = "declined", "Asked but declined"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"
    OTHER = "other", "Other"


class ItemKind(models.TextChoices):
    PHOTO = "photo", "Photo"
    GRADE = "grade", "Clinician grade"
    OUTCOME = "outcome", "Study-defined outcome"


# The clinician grades a visit holds in its own fields: item code -> label.
GRADE_ITEMS = {"house_brackmann": "House–Brackmann grade", "sunnybrook_composite": "Sunnybrook composite"}


class MissingItem(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="missing_items")
    item_kind = models.CharField(max_length=10, choices=ItemKind.choices)
    # The photo's expression, the grade's field name (GRADE_ITEMS) or the study outcome's code.
    item_code = models.CharField(max_length=40)
    code = models.CharField("missing-data code", max_length=20, choices=MissingCode.choices)
    # Free text, like a void's reason: may name the patient or a relative. Identifying (patients/identifiers.py).
    missing_reason = models.TextField(
        "reason", blank=True, help_text="Why the item is missing; required for the code “other”."
    )
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RECORDED)
    void_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "item_kind", "item_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "item_kind", "item_code"],
                condition=Q(status="recorded"),
                name="missing_item_one_per_item",
                violation_error_message="This item is already marked missing.",
            ),
            models.CheckConstraint(
                condition=~Q(code="other") | ~Q(missing_reason=""), name="missing_item_other_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="voided") | ~Q(void_reason=""), name="missing_item_void_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.item_kind}:{self.item_code} missing ({self.get_code_display()})"

    @property
    def patient(self):
        return self.visit.patient

    @property
    def item_label(self) -> str:
        """What is missing, in words: the grade's name, "Photo: <expression>", or the outcome's code."""
        from .services.missing_codes import photo_items  # the services import this module

        if self.item_kind == ItemKind.GRADE:
            return GRADE_ITEMS.get(self.item_code, self.item_code)
        if self.item_kind == ItemKind.PHOTO:
            return f"Photo: {photo_items().get(self.item_code, self.item_code)}"
        return f"Outcome {self.item_code}"


def visit_missing_items(visits) -> dict[int, dict[tuple[str, str], "MissingItem"]]:
    """{visit id: {(kind, item code): its recorded code}}, one query."""
    out: dict[int, dict[tuple[str, str], MissingItem]] = {}
    for item in MissingItem.objects.filter(visit__in=visits, status=RecordStatus.RECORDED):
        out.setdefault(item.visit_id, {})[(item.item_kind, item.item_code)] = item
    return out
