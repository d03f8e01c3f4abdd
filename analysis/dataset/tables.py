"""The dataset's tables: their columns (the data dictionary) and the queries behind their rows.

A Table names its columns once; the JSON schema, the CSV header, the data dictionary
and the exclusion check all read them from here. Most tables are one queryset; the
outcomes table (analysis/dataset/outcomes.py) is built by analysis.long_format's row builder
and so brings its own row stream and pages.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import DurationField, ExpressionWrapper, F, Q, QuerySet, Sum

from patients.models import (
    Aetiology,
    InjectionPoint,
    InjectionSide,
    Muscle,
    Patient,
    Product,
    RecordStatus,
    Sex,
    Side,
    Study,
)

from .anonymity import age_in_years, age_label, banding_statement, choose_banding
from .exclusions import check_columns


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str  # "string", "integer", "number"
    unit: str = ""
    allowed: tuple[str, ...] = ()
    nullable: bool = False


@dataclass
class Table:
    name: str
    description: str
    columns: list[Column]
    inclusion: str
    # row from the queryset (or the stream) -> {column: value} for output
    present: Callable[[Any, "ExportContext"], dict[str, Any]]
    ordering: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    # (study, filters, context) -> queryset of rows (dicts); context carries per-export values.
    queryset: Callable[[Study, dict, "ExportContext"], QuerySet] | None = None
    # A table that is not one queryset: (study, filters, context) -> tuples in column order ...
    stream: Callable[[Study, dict, "ExportContext"], Iterator[tuple]] | None = None
    # ... and (study, filters, context, cursor, page size) -> (rows, next cursor or None).
    page: Callable[[Study, dict, "ExportContext", str | None, int], tuple[list, str | None]] | None = None
    # (study) -> more data-dictionary entries (the outcomes' metrics with their labels and units)
    dictionary_extra: Callable[[Study], Iterator[dict[str, str]]] | None = None

    def __post_init__(self):
        check_columns(self.name, [c.name for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class ExportContext:
    """What every table of one export shares: site coding, age banding and its k."""

    study: Study
    site_labels: dict[int, str]
    arm_codes: dict[int, str]
    banding: str
    k: int | None
    visit_codes: dict[int, str] = field(default_factory=dict)

    @property
    def banding_statement(self) -> str:
        return banding_statement(self.banding, self.k, self.study.min_k)


def subjects_included(study: Study) -> QuerySet[Patient]:
    """Inclusion rule for subjects: every patient who was enrolled and randomized (withdrawn ones too);
    never screening-only, never a patient who was not randomized (docs/analysis.md)."""
    return Patient.objects.filter(study=study, enrollment_date__isnull=False, arm__isnull=False)


def coded_sites(study: Study) -> dict[int, str]:
    """Site primary key -> its coded label in API clients' data: site-1, site-2, ... in the order the
    sites were created, never the site's name or code. The dataset and the summary's site filter
    for API clients (analysis.api) both use it."""
    return {pk: f"site-{i}" for i, pk in enumerate(study.sites.order_by("pk").values_list("pk", flat=True), 1)}


def export_context(study: Study) -> ExportContext:
    """Three queries, whatever the cohort size: sites, arms, and the quasi-identifiers of every subject."""
    site_labels = coded_sites(study)
    arm_codes = dict(study.arms.values_list("pk", "code"))
    quasi = [
        (age_in_years(born, enrolled), sex, site_labels[site_id], aetiology)
        for born, enrolled, sex, site_id, aetiology in subjects_included(study).values_list(
            "identifiers__date_of_birth", "enrollment_date", "sex", "site_id", "aetiology"
        )
        if enrolled is not None  # always, by the inclusion rule; said for the type checker
    ]
    banding, k = choose_banding(quasi, study.min_k)
    return ExportContext(study=study, site_labels=site_labels, arm_codes=arm_codes, banding=banding, k=k)


def _choices(choices) -> tuple[str, ...]:
    return tuple(value for value, _ in choices)


SUBJECT_STATUSES = (Patient.Status.ENROLLED, Patient.Status.COMPLETED, Patient.Status.WITHDRAWN)


def _subjects_queryset(study: Study, filters: dict, ctx: ExportContext) -> QuerySet:
    patients = subjects_included(study)
    if filters.get("arm"):
        patients = patients.filter(arm__code=filters["arm"])
    return patients.values(
        "arm_id",
        "site_id",
        "sex",
        "affected_side",
        "aetiology",
        "months_since_onset",
        "baseline_house_brackmann",
        "status",
        "enrollment_date",
        subject_id=F("pseudonym__subject_id"),
        born=F("identifiers__date_of_birth"),
    )


def _present_subject(row: dict, ctx: ExportContext) -> dict[str, Any]:
    return {
        "subject_id": row["subject_id"],
        "arm": ctx.arm_codes.get(row["arm_id"]),
        "site": ctx.site_labels[row["site_id"]],
        "sex": row["sex"],
        "age_years": age_label(age_in_years(row["born"], row["enrollment_date"]), ctx.banding),
        "affected_side": row["affected_side"],
        "aetiology": row["aetiology"],
        "months_since_onset": row["months_since_onset"],
        "baseline_house_brackmann": row["baseline_house_brackmann"],
        "status": row["status"],
    }


SUBJECTS = Table(
    name="subjects",
    description="One row per subject.",
    columns=[
        Column(
            "subject_id", "Pseudonymous subject identifier (HMAC of the internal id; stable within a study)", "string"
        ),
        Column("arm", "Treatment arm code", "string", nullable=True),
        Column("site", "Site, coded site-1, site-2, … (never the site's name or code)", "string"),
        Column("sex", "Sex", "string", allowed=_choices(Sex.choices)),
        Column(
            "age_years",
            "Age at enrollment: whole years, or a 5- or 10-year band when k-anonymity needs it; 90+ for 90 and over",
            "string",
            unit="years",
        ),
        Column("affected_side", "Side of the facial palsy", "string", allowed=_choices(Side.choices)),
        Column("aetiology", "Cause of the palsy", "string", allowed=_choices(Aetiology.choices)),
        Column("months_since_onset", "Months from onset of the palsy to screening", "integer", unit="months"),
        Column(
            "baseline_house_brackmann",
            "House-Brackmann grade at baseline (1 normal – 6 total paralysis)",
            "integer",
            allowed=("1", "2", "3", "4", "5", "6"),
        ),
        Column(
            "status", "Trial status (the reason for withdrawal is never exported)", "string", allowed=SUBJECT_STATUSES
        ),
    ],
    inclusion="Every patient who was enrolled (has an enrollment date), including those later withdrawn; "
    "patients only screened are not subjects.",
    queryset=_subjects_queryset,
    present=_present_subject,
    ordering=("subject_id",),
    filters=("arm",),
)


def _injections_queryset(study: Study, filters: dict, ctx: ExportContext) -> QuerySet:
    points = InjectionPoint.objects.filter(
        status=RecordStatus.RECORDED,
        session__status=RecordStatus.RECORDED,
        session__patient__in=subjects_included(study),
    ).filter(Q(session__visit__isnull=True) | Q(session__visit__status=RecordStatus.RECORDED))
    if filters.get("arm"):
        points = points.filter(session__patient__arm__code=filters["arm"])
    if filters.get("visit"):
        points = points.filter(session__visit__scheduled_visit__code=filters["visit"])
    return points.values(
        "muscle",
        "side",
        subject_id=F("session__patient__pseudonym__subject_id"),
        visit=F("session__visit__scheduled_visit__code"),
        product=F("session__product"),
        day=ExpressionWrapper(
            F("session__date") - F("session__patient__enrollment_date"), output_field=DurationField()
        ),
    ).annotate(units=Sum("units"))


def _present_injection(row: dict, ctx: ExportContext) -> dict[str, Any]:
    return {
        "subject_id": row["subject_id"],
        "visit": row["visit"],
        "day": row["day"].days,
        "product": row["product"],
        "muscle": row["muscle"],
        "side": row["side"],
        "units": float(row["units"]),
    }


INJECTIONS = Table(
    name="injections",
    description="One row per subject x visit x muscle x side: the units injected there.",
    columns=[
        Column("subject_id", "Pseudonymous subject identifier", "string"),
        Column(
            "visit", "Scheduled visit code of the session (empty if recorded outside a visit)", "string", nullable=True
        ),
        Column("day", "Days from enrollment to the injection session", "integer", unit="days"),
        Column("product", "Botulinum toxin product", "string", allowed=_choices(Product.choices)),
        Column(
            "muscle",
            "Muscle injected (free-text names of other muscles are not exported)",
            "string",
            allowed=_choices(Muscle.choices),
        ),
        Column("side", "Side injected", "string", allowed=_choices(InjectionSide.choices)),
        Column("units", "Units injected into this muscle and side at this session", "number", unit="U"),
    ],
    inclusion="Recorded (not voided) injection points of recorded sessions of subjects; sessions attached to a "
    "voided visit are left out. Points of one session in the same muscle and side are summed.",
    queryset=_injections_queryset,
    present=_present_injection,
    ordering=("subject_id", "day", "visit", "muscle", "side", "product"),
    filters=("arm", "visit"),
)


def rows(table: Table, study: Study, filters: dict, ctx: ExportContext) -> Iterator[dict[str, Any]]:
    """Every row as {column: value}, streamed from the database in chunks (constant memory)."""
    if table.stream is not None:
        for row in table.stream(study, filters, ctx):
            yield table.present(row, ctx)
        return
    assert table.queryset is not None
    queryset = table.queryset(study, filters, ctx).order_by(*table.ordering)
    for row in queryset.iterator(chunk_size=2000):
        yield table.present(row, ctx)
