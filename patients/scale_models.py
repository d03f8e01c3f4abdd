"""A clinician-graded scale recorded item by item at a visit (docs/grading.md).

Kept out of models.py (long already) and imported from there, so Django registers it with the
patients app. The item definitions and formulas live in `patients.grading` (pure, no Django):
this record stores the answers as given and the scores those formulas compute on save, never a
total typed in.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from .grading import SCALES, validate
from .grading import eface as eface_scale
from .grading import sunnybrook as sunnybrook_scale

# Loaded from the end of models.py (Django imports that module first), so these are there.
from .models import SCALE_CHOICES, RecordStatus, Visit

ITEM_SCALES = [(code, name) for code, name in SCALE_CHOICES if code in SCALES]
# What the patient page's visit row calls them, short enough for a phone.
SHORT_NAMES = {"sunnybrook": "Sunnybrook", "eface": "eFACE"}


class GradingSource(models.TextChoices):
    # A blinded assessor grading photo sets is the next source (issue 19); grades of different
    # sources are analysed apart, never mixed.
    IN_PERSON = "in_person", "In person, by the site clinician"


def computed_scores(scale_code: str, responses: dict) -> tuple[dict[str, float | None], bool]:
    """The scale's subscores and total from the pure formulas, and whether every item is answered."""
    result = (sunnybrook_scale.scores if scale_code == sunnybrook_scale.SUNNYBROOK.code else eface_scale.scores)(
        responses
    )
    values = {k: v for k, v in vars(result).items() if k != "missing"}
    return values, result.complete


class ScaleAssessment(models.Model):
    """One scale graded at one visit from one source: its item answers and the computed scores."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="scale_assessments")
    scale = models.CharField(max_length=20, choices=ITEM_SCALES)
    source = models.CharField(max_length=20, choices=GradingSource.choices, default=GradingSource.IN_PERSON)
    # Item code -> coded answer (a choice code or a slider's number), as `patients.grading` defines them.
    responses = models.JSONField(default=dict, blank=True)
    # Computed on save from `responses` (subscores and total by name, None until their items are answered).
    scores = models.JSONField(default=dict, blank=True, editable=False)
    total = models.FloatField(null=True, blank=True, editable=False)
    complete = models.BooleanField(default=False, editable=False)
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RECORDED)
    void_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "scale", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "scale", "source"],
                condition=Q(status="recorded"),
                name="scale_assessment_one_current_per_visit_scale_source",
                violation_error_message="This scale has already been recorded at this visit.",
            ),
            models.CheckConstraint(
                condition=~Q(status="voided") | ~Q(void_reason=""), name="scale_assessment_void_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.get_scale_display()} at {self.visit}"

    def save(self, *args, **kwargs):
        # Scores are only ever computed here, from the items: never typed in, never kept stale.
        if self.scale in SCALES and not validate(SCALES[self.scale], self.responses):
            self.scores, self.complete = computed_scores(self.scale, self.responses)
            self.total = self.scores.get("composite", self.scores.get("total"))
        super().save(*args, **kwargs)

    @property
    def is_voided(self) -> bool:
        return self.status == RecordStatus.VOIDED

    @property
    def patient(self):
        return self.visit.patient

    def clean(self):
        super().clean()
        if self.scale not in SCALES:
            return  # the field's choices say so
        if not isinstance(self.responses, dict):
            raise ValidationError({"responses": "Item answers must be a mapping of item code to answer."})
        errors = validate(SCALES[self.scale], self.responses)
        if errors:
            raise ValidationError(errors)
