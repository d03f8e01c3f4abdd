"""Photos of a visit and their scores.

A photo's original bytes are stored untouched through the storage API (never
under a public URL); scores are kept per engine version, so a rescore under a
new engine adds a row and never overwrites the old one.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from patients.models import Patient, Visit


class Expression(models.TextChoices):
    # The standard photo set of docs/metrics.md; keys match measurements.engine.EXPRESSIONS.
    REST = "rest", "Rest"
    BROW_RAISE = "brow_raise", "Brow raise"
    GENTLE_EYE_CLOSURE = "gentle_eye_closure", "Gentle eye closure"
    FULL_EYE_CLOSURE = "full_eye_closure", "Full eye closure"
    SMILE_CLOSED = "smile_closed", "Closed-lip smile"
    SMILE_OPEN = "smile_open", "Broad smile (teeth showing)"
    PUCKER = "pucker", "Pucker (“ooo”)"
    LOWER_LIP_DEPRESSION = "lower_lip_depression", "Lower lip depression (“eee”)"


def photo_upload_path(instance: "Photo", filename: str) -> str:
    # No patient identifier and no original file name in the stored path.
    return f"photos/{instance.patient.study_id}/{instance.patient_id}/{uuid.uuid4().hex}"


class Photo(models.Model):
    # failure_code of a photo the scoring service gave up on (not a quality gate): retryable.
    SCORING_ERROR = "engine_error"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued for scoring"
        PROCESSING = "processing", "Scoring"
        SCORED = "scored", "Scored"
        FAILED = "failed", "Failed a quality check"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="photos")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="photos")
    expression = models.CharField(max_length=25, choices=Expression.choices)
    original = models.FileField(upload_to=photo_upload_path, max_length=300)
    original_filename = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # Only the current photo of a visit and expression enters the outcome tables;
    # a retake clears this flag on the old photo, which stays in the record.
    is_current = models.BooleanField(default=True)
    replaced_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=20, blank=True)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The worker's last error (a storage outage, a bug), shown to data managers when scoring gives up.
    last_error = models.TextField(blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["claimed_at", "claim_token", "queued_at", "attempts"])

    class Meta:
        ordering = ["visit", "expression", "-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "expression"],
                condition=Q(is_current=True),
                name="photo_one_current_per_visit_expression",
                violation_error_message="This visit already has a current photo for that expression.",
            ),
            models.UniqueConstraint(
                fields=["sha256"],
                name="photo_sha256_unique",
                violation_error_message="This exact file was already uploaded.",
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(failure_reason=""), name="photo_failure_has_reason"
            ),
        ]
        indexes = [
            # Serves the periodic sweep: photos left pending or processing too long.
            models.Index(fields=["status", "queued_at"], name="photo_status_queued_idx"),
        ]

    def __str__(self):
        return f"{self.patient} {self.visit.scheduled_visit} {self.get_expression_display()}"

    def get_absolute_url(self):
        return reverse("photo_detail", args=[self.pk])

    @property
    def has_failed(self) -> bool:
        return self.status == self.Status.FAILED

    @property
    def awaits_score(self) -> bool:
        """Queued or being scored: the page will show the result when it is ready."""
        return self.status in (self.Status.PENDING, self.Status.PROCESSING)


class PhotoScore(models.Model):
    """The engine's output for one photo under one engine version."""

    photo = models.ForeignKey(Photo, on_delete=models.PROTECT, related_name="scores")
    engine_version = models.CharField(max_length=20)
    model_version = models.CharField(max_length=80)
    status = models.CharField(max_length=20, help_text="'scored' or the quality gate that failed.")
    reason = models.TextField(blank=True)
    mm_per_px = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict)
    landmarks = models.JSONField(default=list, help_text="478 x 2 landmark positions in original-image pixels.")
    image_width = models.PositiveIntegerField(null=True, blank=True)
    image_height = models.PositiveIntegerField(null=True, blank=True)
    # Which photo's irises set the frame and the millimetre scale: the photo itself, or the visit's
    # open-eye reference for an eye closure or a photo with doubtful irises (docs/metrics.md,
    # "A visit-level frame and scale"). Empty when the photo failed before it was measured.
    scale_photo = models.ForeignKey(
        Photo,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The photo whose irises set this score's frame and millimetre scale.",
    )
    # Why the photo's own irises were not used (empty when they were): the engine's scale_note.
    scale_note = models.CharField(max_length=200, blank=True)
    # What the quality gates looked at (yaw, roll, eye openings, iris size, passes).
    quality = models.JSONField(default=dict, blank=True)
    # The head's pose from the mesh's 3D landmarks, in degrees (docs/metrics.md, "Head pose"), so that an
    # investigator can check that pose does not differ between arms. Null when no single face was measured.
    yaw_deg = models.FloatField(
        null=True, blank=True, help_text="Head turn, degrees; positive turned to the patient's left."
    )
    pitch_deg = models.FloatField(null=True, blank=True, help_text="Head pitch, degrees; positive chin raised.")
    roll_deg = models.FloatField(
        null=True, blank=True, help_text="Head tilt, degrees; positive towards the patient's left shoulder."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A score is replaced only when the reference its scale came from changes (the visit's open-eye
    # photo retaken, or scored after this one); the replaced values stay in this history, with why.
    history = HistoricalRecords(excluded_fields=["landmarks"])

    class Meta:
        ordering = ["photo", "-created_at"]
        constraints = [
            # Scored exactly once per engine version, whatever the worker crashes and redeliveries.
            models.UniqueConstraint(fields=["photo", "engine_version"], name="score_one_per_engine_version"),
        ]
        indexes = [
            # The distinct versions in a few index probes (analysis.selectors.analysis_engine_version).
            models.Index(fields=["engine_version"], name="score_engine_version"),
        ]

    def __str__(self):
        return f"{self.photo} @ {self.engine_version}: {self.status}"

    @property
    def passed(self) -> bool:
        return self.status == "scored"

    @property
    def scaled_from_reference(self) -> bool:
        return self.scale_photo_id is not None and self.scale_photo_id != self.photo_id
