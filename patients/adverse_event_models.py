"""Adverse events, each its own audited record, as a BoNT-A trial reports harms per arm.

Kept out of models.py (which is long already) and imported from there, so Django registers it
with the patients app. The term list holds the events expected after facial botulinum toxin
injections; anything else is "other", named in free text.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

# Loaded from the end of models.py (Django imports that module first), so RecordStatus is there.
from .models import RecordStatus


class AdverseEventTerm(models.TextChoices):
    EYELID_PTOSIS = "eyelid_ptosis", "Eyelid ptosis"
    BROW_PTOSIS = "brow_ptosis", "Brow ptosis"
    LIP_INCOMPETENCE = "lip_incompetence", "Lip incompetence or oral weakness"
    DROOLING = "drooling", "Drooling"
    DYSPHAGIA = "dysphagia", "Dysphagia"
    SMILE_ASYMMETRY_WORSE = "smile_asymmetry_worse", "Asymmetric smile worsening"
    INJECTION_SITE = "injection_site", "Injection-site bruising or pain"
    HEADACHE = "headache", "Headache"
    FLU_LIKE = "flu_like", "Flu-like symptoms"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class SeriousnessCriterion(models.TextChoices):
    # ICH E2A's criteria of a serious adverse event.
    DEATH = "death", "Resulted in death"
    LIFE_THREATENING = "life_threatening", "Life-threatening"
    HOSPITALISATION = "hospitalisation", "Required or prolonged hospitalisation"
    DISABILITY = "disability", "Persistent or significant disability"
    CONGENITAL_ANOMALY = "congenital_anomaly", "Congenital anomaly"
    IMPORTANT_MEDICAL_EVENT = "important_medical_event", "Other important medical event"


class Relatedness(models.TextChoices):
    NOT_RELATED = "not_related", "Not related"
    UNLIKELY = "unlikely", "Unlikely"
    POSSIBLE = "possible", "Possible"
    PROBABLE = "probable", "Probable"
    DEFINITE = "definite", "Definite"


class ActionTaken(models.TextChoices):
    NONE = "none", "None"
    TREATED = "treated", "Treated (medication or procedure)"
    INJECTIONS_INTERRUPTED = "injections_interrupted", "Study injections interrupted or dose reduced"
    INJECTIONS_STOPPED = "injections_stopped", "Study injections stopped"
    WITHDRAWN = "withdrawn", "Patient withdrawn from the study"


class AdverseEventOutcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered / resolved"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", "Recovered with sequelae"
    RECOVERING = "recovering", "Recovering / resolving"
    NOT_RECOVERED = "not_recovered", "Not recovered / not resolved"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


def accepts_adverse_events(patient) -> bool:
    """Harms are still reported after the last visit (a completed patient); a withdrawn record is closed."""
    return patient.status in ("enrolled", "completed")


# Outcomes that end the event, so that a resolution date belongs with them.
RESOLVED_OUTCOMES = frozenset({"recovered", "recovered_with_sequelae", "fatal"})


class AdverseEvent(models.Model):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="adverse_events")
    visit = models.ForeignKey(
        "patients.Visit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reported_adverse_events",
        help_text="The visit at which it was reported, if any.",
    )
    term = models.CharField(max_length=25, choices=AdverseEventTerm.choices)
    term_other = models.CharField("other event", max_length=200, blank=True, help_text="Only when the term is Other.")
    description = models.TextField(blank=True)
    onset_date = models.DateField()
    resolution_date = models.DateField(null=True, blank=True, help_text="Empty while the event is ongoing.")
    # Blank only on events carried over from the old free-text field, until someone reviews them.
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    serious = models.BooleanField(default=False)
    seriousness_criterion = models.CharField(max_length=25, choices=SeriousnessCriterion.choices, blank=True)
    relatedness = models.CharField(
        "relatedness to the study drug", max_length=12, choices=Relatedness.choices, blank=True
    )
    action_taken = models.CharField(max_length=25, choices=ActionTaken.choices, blank=True)
    outcome = models.CharField(max_length=25, choices=AdverseEventOutcome.choices, blank=True)
    from_free_text = models.BooleanField(
        default=False, editable=False, help_text="Carried over from the visit's free-text field; to be reviewed."
    )
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RECORDED)
    void_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "onset_date", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(term="other") | ~Q(term_other=""), name="adverse_event_other_named"),
            models.CheckConstraint(
                condition=Q(serious=False, seriousness_criterion="") | Q(serious=True) & ~Q(seriousness_criterion=""),
                name="adverse_event_serious_has_criterion",
            ),
            models.CheckConstraint(
                condition=Q(resolution_date__isnull=True) | Q(resolution_date__gte=models.F("onset_date")),
                name="adverse_event_resolved_after_onset",
            ),
            models.CheckConstraint(
                condition=Q(from_free_text=True)
                | (~Q(severity="") & ~Q(relatedness="") & ~Q(action_taken="") & ~Q(outcome="")),
                name="adverse_event_structured_fields_given",
            ),
            models.CheckConstraint(
                condition=~Q(status="voided") | ~Q(void_reason=""), name="adverse_event_void_has_reason"
            ),
        ]
        indexes = [
            # Serves the data manager's dashboard: the serious events of a study, newest first.
            models.Index(fields=["serious", "onset_date"], condition=Q(status="recorded"), name="ae_serious_idx"),
        ]

    def __str__(self):
        return f"{self.patient} {self.get_term_display()} {self.onset_date:%Y-%m-%d}"

    def get_absolute_url(self):
        return reverse("adverse_event_edit", args=[self.patient_id, self.pk])

    @property
    def is_voided(self) -> bool:
        return self.status == RecordStatus.VOIDED

    @property
    def is_ongoing(self) -> bool:
        return self.resolution_date is None

    @property
    def is_other(self) -> bool:
        return self.term == AdverseEventTerm.OTHER

    @property
    def needs_review(self) -> bool:
        return self.from_free_text and not (self.severity and self.relatedness and self.action_taken and self.outcome)
