"""The eligibility checklist: inclusion and exclusion criteria a data manager defines per study,
and each patient's answers, which must pass before the patient is randomized.

Kept out of models.py (which is long already) and imported from there, so Django registers it
with the patients app. Answers are audited like every clinical record; a criterion that no
longer applies is retired (`active`), never deleted, so the answers given to it stay readable.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

# Loaded from the end of models.py (Django imports that module first), so Study and Patient are there.
from .models import Patient, Study


class EligibilityCriterion(models.Model):
    class Kind(models.TextChoices):
        INCLUSION = "inclusion", "Inclusion"
        EXCLUSION = "exclusion", "Exclusion"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="eligibility_criteria")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.CharField(
        max_length=300,
        help_text="As the coordinator is asked it, e.g. “Aged 18 or over” (inclusion) or “Pregnant or "
        "breastfeeding” (exclusion).",
    )
    order = models.PositiveSmallIntegerField(default=0, help_text="Position in the checklist, within its kind.")
    active = models.BooleanField(
        default=True,
        help_text="Untick to retire a criterion: new patients are no longer asked it; answers given to it stay.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "kind", "order", "id"]
        verbose_name_plural = "eligibility criteria"
        constraints = [
            models.UniqueConstraint(fields=["study", "kind", "text"], name="eligibility_criterion_unique_text"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.text}"


class EligibilityAnswer(models.Model):
    """One patient's answer to one criterion: does it hold for the patient? An inclusion criterion
    passes when it holds, an exclusion criterion when it does not."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="eligibility_answers")
    criterion = models.ForeignKey(EligibilityCriterion, on_delete=models.PROTECT, related_name="answers")
    holds = models.BooleanField("holds for the patient")
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "criterion"], name="eligibility_answer_one_per_criterion"),
        ]

    def __str__(self):
        return f"{self.patient}: {self.criterion.text} – {'yes' if self.holds else 'no'}"

    @property
    def passes(self) -> bool:
        return self.holds if self.criterion.kind == EligibilityCriterion.Kind.INCLUSION else not self.holds
