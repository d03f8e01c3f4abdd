"""The trial's records: studies, sites, arms, schedule, patients, visits, injections, randomization.

Clinical rows are never deleted by the application: they are withdrawn or voided
with a reason, and every change is kept by django-simple-history together with
who made it and why (see services.py, which sets the change reason).
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from .formatting import units_display
from .grading import eface, house_brackmann, sunnybrook

# The scales a study can choose for its visits (docs/grading.md). Sunnybrook and eFACE are graded
# item by item (`scale_models.ScaleAssessment`); House-Brackmann is the visit's own field.
SCALE_CHOICES = [
    (sunnybrook.SUNNYBROOK.code, sunnybrook.SUNNYBROOK.name),
    (eface.EFACE.code, eface.EFACE.name),
    ("house_brackmann", "House-Brackmann"),
]


def all_scales() -> list[str]:
    """The default of `Study.scales`: every scale the system knows."""
    return [code for code, _ in SCALE_CHOICES]


class Study(models.Model):
    class Randomization(models.TextChoices):
        SYSTEM = "system", "Randomized in this system"
        EXTERNAL = "external", "Arms assigned outside the system"

    code = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=300)
    randomization = models.CharField(max_length=10, choices=Randomization.choices, default=Randomization.SYSTEM)
    max_units_per_point = models.DecimalField(
        "maximum units per injection point", max_digits=6, decimal_places=2, default=Decimal("10")
    )
    max_units_per_session = models.DecimalField(
        "maximum units per session", max_digits=6, decimal_places=2, default=Decimal("50")
    )
    responder_threshold_mm = models.DecimalField(
        "responder threshold (mm)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text="A patient whose commissure height deviation improves by at least this much is a responder.",
    )
    # Seed of the concealed allocation list; only data managers see it (admin).
    randomization_seed = models.CharField(max_length=64, blank=True, editable=False)
    min_k = models.PositiveSmallIntegerField(
        "minimum group size (k) in exports",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="The anonymized dataset bands ages, months since onset, House-Brackmann grades and "
        "aetiologies, and suppresses single values (the fewest it finds), until every group of subjects "
        "sharing all their quasi-identifiers has at least this many; it is refused "
        "when an arm has fewer (docs/api.md, k-anonymity).",
    )
    # Closing a study locks its database: no data is entered or corrected until a data manager
    # reopens it (services.study_close / study_reopen, with a reason; never edited as a plain field).
    closed_on = models.DateField(
        "closed on (database locked)",
        null=True,
        blank=True,
        editable=False,
        help_text="Set when a data manager closes the study: from then on no data can be entered or corrected.",
    )
    results_open_to_coordinators = models.BooleanField(
        "outcome results open to coordinators once closed",
        default=False,
        help_text="Takes effect only once the study is closed: its coordinators may then see the outcome "
        "results. While the study runs they never do (between-arm results bias the people who collect data).",
    )
    scales = models.JSONField(
        "clinician-graded scales its visits record",
        default=all_scales,
        blank=True,
        help_text="Codes of the scales graded at each visit: " + ", ".join(c for c, _ in SCALE_CHOICES) + ".",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_units_per_point__gt=0) & Q(max_units_per_session__gte=models.F("max_units_per_point")),
                name="study_unit_ceilings_positive_and_ordered",
            ),
            models.CheckConstraint(
                condition=Q(responder_threshold_mm__gt=0), name="study_responder_threshold_positive"
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def randomizes_in_system(self) -> bool:
        return self.randomization == self.Randomization.SYSTEM

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None

    def clean(self):
        super().clean()
        known = {code for code, _ in SCALE_CHOICES}
        if not isinstance(self.scales, list) or not set(self.scales) <= known:
            raise ValidationError({"scales": f"Choose scales among {', '.join(sorted(known))}."})

    def records_scale(self, code: str) -> bool:
        return code in (self.scales or [])


class Site(models.Model):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(max_length=8, help_text="Prefix of the study codes of this site's patients.")
    name = models.CharField(max_length=200)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="site_code_unique_per_study"),
        ]

    def __str__(self):
        return f"{self.code} – {self.name}"


class TreatmentArm(models.Model):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="arms")
    code = models.SlugField(max_length=20)
    name = models.CharField(max_length=100)
    receives_injections = models.BooleanField(default=True)
    allocation_weight = models.PositiveSmallIntegerField(
        default=1, help_text="Share of the allocation ratio: 1 and 1 give 1:1, 2 and 1 give 2:1."
    )
    description = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="arm_code_unique_per_study"),
            models.UniqueConstraint(fields=["study", "name"], name="arm_name_unique_per_study"),
            models.CheckConstraint(condition=Q(allocation_weight__gte=1), name="arm_allocation_weight_positive"),
        ]

    def __str__(self):
        return self.name


class ScheduledVisit(models.Model):
    """One named visit of the study's schedule, at a day offset from enrollment."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="schedule")
    code = models.SlugField(max_length=20)
    name = models.CharField(max_length=100)
    day_offset = models.PositiveIntegerField(help_text="Days after enrollment; the baseline is day 0.")
    window_before_days = models.PositiveIntegerField(default=0)
    window_after_days = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "day_offset"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="scheduled_visit_code_unique_per_study"),
            models.UniqueConstraint(fields=["study", "day_offset"], name="scheduled_visit_day_unique_per_study"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_baseline(self) -> bool:
        return self.day_offset == 0

    def window_for(self, enrollment_date):
        """(earliest, target, latest) dates of this visit for a patient enrolled on enrollment_date."""
        target = enrollment_date + timedelta(days=self.day_offset)
        return (
            target - timedelta(days=self.window_before_days),
            target,
            target + timedelta(days=self.window_after_days),
        )


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other / not stated"


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


class Aetiology(models.TextChoices):
    BELLS_PALSY = "bells_palsy", "Bell's palsy"
    TRAUMA = "trauma", "Trauma"
    TUMOUR_RESECTION = "tumour_resection", "Tumour resection"
    IATROGENIC = "iatrogenic", "Iatrogenic / surgical"
    CONGENITAL = "congenital", "Congenital"
    OTHER = "other", "Other"


class SeverityBand(models.TextChoices):
    """Randomization stratum from the baseline House-Brackmann grade."""

    MILD_MODERATE = "mild_moderate", "House-Brackmann I–III"
    SEVERE = "severe", "House-Brackmann IV–VI"

    @classmethod
    def for_grade(cls, grade: int) -> "SeverityBand":
        return cls.MILD_MODERATE if grade <= 3 else cls.SEVERE


HOUSE_BRACKMANN_CHOICES = house_brackmann.choices()


class Patient(models.Model):
    class Status(models.TextChoices):
        SCREENING = "screening", "Screening"
        ENROLLED = "enrolled", "Enrolled"
        WITHDRAWN = "withdrawn", "Withdrawn"
        COMPLETED = "completed", "Completed"

    class ArmAssignment(models.TextChoices):
        RANDOMIZED = "randomized", "Randomized in this system"
        EXTERNAL = "external", "Assigned outside the system"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="patients")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    study_code = models.CharField(max_length=20, unique=True, editable=False)
    site_sequence = models.PositiveIntegerField(editable=False)
    sex = models.CharField(max_length=10, choices=Sex.choices)
    affected_side = models.CharField(max_length=5, choices=Side.choices)
    aetiology = models.CharField(max_length=20, choices=Aetiology.choices)
    months_since_onset = models.PositiveIntegerField(validators=[MaxValueValidator(1200)])
    baseline_house_brackmann = models.PositiveSmallIntegerField(
        "baseline House-Brackmann grade", choices=HOUSE_BRACKMANN_CHOICES
    )
    consent_date = models.DateField(null=True, blank=True)
    enrollment_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCREENING)
    withdrawal_reason = models.TextField(blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)
    arm = models.ForeignKey(TreatmentArm, on_delete=models.PROTECT, null=True, blank=True, related_name="patients")
    arm_assignment = models.CharField(max_length=10, choices=ArmAssignment.choices, blank=True)
    arm_assignment_reason = models.TextField(blank=True)
    arm_assigned_at = models.DateTimeField(null=True, blank=True)
    arm_assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["study_code"]
        constraints = [
            models.UniqueConstraint(fields=["site", "site_sequence"], name="patient_sequence_unique_per_site"),
            models.CheckConstraint(
                condition=Q(baseline_house_brackmann__gte=1, baseline_house_brackmann__lte=6),
                name="patient_house_brackmann_range",
            ),
            models.CheckConstraint(
                condition=Q(status="screening")
                | Q(enrollment_date__isnull=False, consent_date__isnull=False)
                | Q(status="withdrawn"),
                name="patient_enrolled_has_consent_and_enrollment_dates",
            ),
            models.CheckConstraint(
                condition=Q(consent_date__isnull=True)
                | Q(enrollment_date__isnull=True)
                | Q(consent_date__lte=models.F("enrollment_date")),
                name="patient_consent_not_after_enrollment",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | (~Q(withdrawal_reason="") & Q(withdrawn_on__isnull=False)),
                name="patient_withdrawal_has_reason_and_date",
            ),
            models.CheckConstraint(
                condition=(Q(arm__isnull=True) & Q(arm_assignment="") & Q(arm_assigned_at__isnull=True))
                | (Q(arm__isnull=False) & ~Q(arm_assignment="") & Q(arm_assigned_at__isnull=False)),
                name="patient_arm_assignment_complete",
            ),
            models.CheckConstraint(
                condition=~Q(arm_assignment="external") | ~Q(arm_assignment_reason=""),
                name="patient_external_assignment_has_reason",
            ),
        ]

    def __str__(self):
        return self.study_code

    def get_absolute_url(self):
        return reverse("patient_detail", args=[self.pk])

    @property
    def severity_band(self) -> str:
        return SeverityBand.for_grade(self.baseline_house_brackmann)

    @property
    def is_randomized(self) -> bool:
        return self.arm_id is not None

    @property
    def accepts_new_data(self) -> bool:
        return self.status == self.Status.ENROLLED

    @property
    def is_screening(self) -> bool:
        return self.status == self.Status.SCREENING

    @property
    def is_withdrawn(self) -> bool:
        return self.status == self.Status.WITHDRAWN

    @property
    def arm_assigned_externally(self) -> bool:
        return self.arm_assignment == self.ArmAssignment.EXTERNAL


class PatientIdentifiers(models.Model):
    """Everything that identifies a person, kept apart from the clinical record.

    Only coordinators of the patient's site (and data managers) ever see this
    row; nothing here leaves the system in an export or over the API.
    """

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, primary_key=True, related_name="identifiers")
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    medical_record_number = models.CharField(max_length=50)
    phone = models.CharField(max_length=50, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "patient identifiers"

    def __str__(self):
        return f"Identifiers of {self.patient_id}"


class RecordStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded"
    VOIDED = "voided", "Voided"


class Visit(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visits")
    scheduled_visit = models.ForeignKey(ScheduledVisit, on_delete=models.PROTECT, related_name="visits")
    date_performed = models.DateField()
    house_brackmann = models.PositiveSmallIntegerField(
        "House-Brackmann grade", choices=HOUSE_BRACKMANN_CHOICES, null=True, blank=True
    )
    # Typed in as one number (the item-level Sunnybrook form is patients.grading.sunnybrook). Signed:
    # the composite is movement − rest − synkinesis and runs from −15, never clamped to 0.
    sunnybrook_composite = models.SmallIntegerField(
        "Sunnybrook composite score",
        null=True,
        blank=True,
        validators=[MinValueValidator(sunnybrook.COMPOSITE_MIN), MaxValueValidator(sunnybrook.COMPOSITE_MAX)],
        help_text="−15 (worst) to 100 (normal): voluntary movement − resting symmetry − synkinesis.",
    )
    # The old free-text box. Adverse events are records of their own (AdverseEvent); migration 0005
    # carried every text into one ("other", the whole text as its description, from_free_text for
    # review), except a text that only said there was none ("None.", "n/a"). Not editable anywhere
    # (no form, serializer or service writes it), yet kept with its history rather than dropped: a
    # dropped column would lose those "none" texts and the record of what the site first wrote.
    adverse_events = models.TextField(
        "adverse events (old free text, read only)",
        blank=True,
        editable=False,
        help_text="Carried over to structured adverse events; kept unchanged for the record.",
    )
    notes = models.TextField(blank=True)
    protocol_deviation_reason = models.TextField(
        blank=True, help_text="Required when the visit date falls outside the scheduled window."
    )
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RECORDED)
    void_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "scheduled_visit__day_offset"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "scheduled_visit"],
                condition=Q(status="recorded"),
                name="visit_one_per_scheduled_visit",
                violation_error_message="This scheduled visit has already been recorded for this patient.",
            ),
            models.CheckConstraint(
                condition=Q(house_brackmann__isnull=True) | Q(house_brackmann__gte=1, house_brackmann__lte=6),
                name="visit_house_brackmann_range",
            ),
            models.CheckConstraint(
                condition=Q(sunnybrook_composite__isnull=True)
                | Q(
                    sunnybrook_composite__gte=sunnybrook.COMPOSITE_MIN,
                    sunnybrook_composite__lte=sunnybrook.COMPOSITE_MAX,
                ),
                name="visit_sunnybrook_range",
            ),
            models.CheckConstraint(condition=~Q(status="voided") | ~Q(void_reason=""), name="visit_void_has_reason"),
        ]

    def __str__(self):
        return f"{self.patient} {self.scheduled_visit}"

    def get_absolute_url(self):
        return reverse("visit_edit", args=[self.patient_id, self.pk])

    @property
    def is_voided(self) -> bool:
        return self.status == RecordStatus.VOIDED


class Product(models.TextChoices):
    ONABOTULINUMTOXIN_A = "onabotulinumtoxinA", "onabotulinumtoxinA (Botox)"
    ABOBOTULINUMTOXIN_A = "abobotulinumtoxinA", "abobotulinumtoxinA (Dysport)"
    INCOBOTULINUMTOXIN_A = "incobotulinumtoxinA", "incobotulinumtoxinA (Xeomin)"
    OTHER = "other", "Other"


class Muscle(models.TextChoices):
    DEPRESSOR_ANGULI_ORIS = "depressor_anguli_oris", "Depressor anguli oris"
    DEPRESSOR_LABII_INFERIORIS = "depressor_labii_inferioris", "Depressor labii inferioris"
    ZYGOMATICUS_MAJOR = "zygomaticus_major", "Zygomaticus major"
    ZYGOMATICUS_MINOR = "zygomaticus_minor", "Zygomaticus minor"
    RISORIUS = "risorius", "Risorius"
    LEVATOR_LABII_SUPERIORIS = "levator_labii_superioris", "Levator labii superioris"
    ORBICULARIS_ORIS = "orbicularis_oris", "Orbicularis oris"
    ORBICULARIS_OCULI = "orbicularis_oculi", "Orbicularis oculi"
    FRONTALIS = "frontalis", "Frontalis"
    CORRUGATOR = "corrugator", "Corrugator"
    PROCERUS = "procerus", "Procerus"
    MENTALIS = "mentalis", "Mentalis"
    PLATYSMA = "platysma", "Platysma"
    MASSETER = "masseter", "Masseter"
    OTHER = "other", "Other"


class InjectionSide(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    MIDLINE = "midline", "Midline"


class InjectionSession(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="injection_sessions")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="injection_sessions")
    date = models.DateField()
    product = models.CharField(max_length=25, choices=Product.choices)
    product_other = models.CharField("other product", max_length=100, blank=True)
    lot_number = models.CharField(max_length=50)
    diluent_ml_per_100_units = models.DecimalField(
        "dilution (mL saline per 100 U)",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("20"))],
    )
    injector = models.CharField(max_length=100)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RECORDED)
    void_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(product="other") | ~Q(product_other=""), name="injection_other_product_named"
            ),
            models.CheckConstraint(condition=Q(diluent_ml_per_100_units__gt=0), name="injection_dilution_positive"),
            models.CheckConstraint(
                condition=~Q(status="voided") | ~Q(void_reason=""), name="injection_void_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.patient} injection {self.date}"

    def get_absolute_url(self):
        return reverse("injection_edit", args=[self.patient_id, self.pk])

    @property
    def total_units(self) -> Decimal:
        """Derived, never typed: the sum of the points (annotated by selectors when listing)."""
        annotated = getattr(self, "annotated_total_units", None)
        if annotated is not None:
            return annotated
        return sum((p.units for p in self.points.all() if p.status == RecordStatus.RECORDED), Decimal("0"))

    @property
    def is_voided(self) -> bool:
        return self.status == RecordStatus.VOIDED

    @property
    def product_name(self) -> str:
        """The product as the record names it: the typed name when it is not one of the list's."""
        return self.product_other if self.product == Product.OTHER else self.get_product_display()


# An absolute sanity ceiling the database can enforce on its own; the study's
# own, lower, per-point and per-session ceilings are enforced by the services.
ABSOLUTE_MAX_UNITS_PER_POINT = Decimal("100")


class InjectionPoint(models.Model):
    session = models.ForeignKey(InjectionSession, on_delete=models.CASCADE, related_name="points")
    muscle = models.CharField(max_length=30, choices=Muscle.choices)
    muscle_other = models.CharField("other muscle", max_length=100, blank=True)
    side = models.CharField(max_length=7, choices=InjectionSide.choices)
    units = models.DecimalField(max_digits=6, decimal_places=2)
    # A point removed when its session is corrected is voided, never deleted.
    status = models.CharField(max_length=10, choices=RecordStatus.choices, default=RecordStatus.RECORDED)
    void_reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="voided") | ~Q(void_reason=""), name="injection_point_void_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(units__gt=0) & Q(units__lte=ABSOLUTE_MAX_UNITS_PER_POINT),
                name="injection_point_units_in_range",
            ),
            models.CheckConstraint(
                condition=~Q(muscle="other") | ~Q(muscle_other=""), name="injection_point_other_muscle_named"
            ),
        ]

    def __str__(self):
        return f"{self.get_muscle_display()} {self.side} {units_display(self.units)} U"

    @property
    def is_voided(self) -> bool:
        return self.status == RecordStatus.VOIDED

    @property
    def muscle_name(self) -> str:
        """The muscle as the record names it: the typed name when it is not one of the list's."""
        return self.muscle_other if self.muscle == Muscle.OTHER else self.get_muscle_display()


class StudyRole(models.Model):
    """What a user may do in a study. A coordinator holds one row per site."""

    class Role(models.TextChoices):
        COORDINATOR = "coordinator", "Study coordinator"
        INVESTIGATOR = "investigator", "Investigator"
        DATA_MANAGER = "data_manager", "Data manager"
        API_CLIENT = "api_client", "API client"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_roles")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=15, choices=Role.choices)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, blank=True, related_name="roles")

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "study", "role", "site"],
                condition=Q(site__isnull=False),
                name="study_role_unique_per_site",
            ),
            models.UniqueConstraint(
                fields=["user", "study", "role"], condition=Q(site__isnull=True), name="study_role_unique_study_wide"
            ),
            models.CheckConstraint(
                condition=Q(role="coordinator", site__isnull=False) | (~Q(role="coordinator") & Q(site__isnull=True)),
                name="study_role_site_only_for_coordinators",
            ),
        ]

    def __str__(self):
        where = f" at {self.site.code}" if self.site_id else ""
        return f"{self.user} – {self.get_role_display()} in {self.study}{where}"


class RandomizationStratum(models.Model):
    """One stratum (site x baseline severity band) of a study's concealed allocation list."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="strata")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="strata")
    severity_band = models.CharField(max_length=15, choices=SeverityBand.choices)

    class Meta:
        verbose_name_plural = "randomization strata"
        constraints = [
            models.UniqueConstraint(fields=["study", "site", "severity_band"], name="stratum_unique"),
        ]

    def __str__(self):
        return f"{self.site.code} / {self.get_severity_band_display()}"


class RandomizationSlot(models.Model):
    """One position of the concealed list. Visible only to data managers."""

    stratum = models.ForeignKey(RandomizationStratum, on_delete=models.PROTECT, related_name="slots")
    position = models.PositiveIntegerField()
    block_number = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    arm = models.ForeignKey(TreatmentArm, on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="randomization_slot"
    )
    allocated_at = models.DateTimeField(null=True, blank=True)
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["stratum", "position"]
        constraints = [
            models.UniqueConstraint(fields=["stratum", "position"], name="slot_position_unique_per_stratum"),
            models.CheckConstraint(
                condition=Q(patient__isnull=True, allocated_at__isnull=True)
                | Q(patient__isnull=False, allocated_at__isnull=False),
                name="slot_allocation_complete",
            ),
        ]
        indexes = [
            # Serves "next free slot of this stratum", the allocation query.
            models.Index(fields=["stratum", "position"], condition=Q(patient__isnull=True), name="slot_free_idx"),
        ]

    def __str__(self):
        return f"{self.stratum} #{self.position}"


class StudyOutcome(models.Model):
    """A numeric outcome the study defines beyond the photos and grades (a quality-of-life scale,
    a connectivity score): recorded per visit by coordinators or imported by a data manager."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="outcomes")
    code = models.SlugField(max_length=30, help_text="Short name used in imports and downloads, e.g. qol-total.")
    name = models.CharField(max_length=100)
    unit = models.CharField(max_length=20, help_text="e.g. points, mm, %")
    min_value = models.DecimalField("lowest allowed value", max_digits=12, decimal_places=4)
    max_value = models.DecimalField("highest allowed value", max_digits=12, decimal_places=4)
    description = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["study", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="study_outcome_code_unique_per_study"),
            models.CheckConstraint(condition=Q(min_value__lt=models.F("max_value")), name="study_outcome_range"),
        ]

    def __str__(self):
        return f"{self.name} ({self.unit})"


class VisitOutcomeValue(models.Model):
    """The value of a study-defined outcome at one visit."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="outcome_values")
    outcome = models.ForeignKey(StudyOutcome, on_delete=models.PROTECT, related_name="values")
    value = models.DecimalField(max_digits=12, decimal_places=4)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()

    class Meta:
        ordering = ["visit", "outcome"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "outcome"], name="visit_outcome_value_one_per_visit"),
        ]

    def __str__(self):
        return f"{self.outcome.code} = {self.value}"


# Tokens and pseudonyms live in their own module, away from the clinical tables.
# Adverse events live in their own module; imported here so that Django registers them.
from .adverse_event_models import AdverseEvent  # noqa: E402, F401
from .allocation_models import AllocationListDownload  # noqa: E402, F401
from .api_models import ApiToken, PseudonymKey, SubjectPseudonym  # noqa: E402, F401
from .eligibility_models import EligibilityAnswer, EligibilityCriterion  # noqa: E402, F401
from .missing_codes import MissingItem  # noqa: E402, F401
from .scale_models import ScaleAssessment  # noqa: E402, F401
