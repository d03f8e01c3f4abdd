"""The dataset's tables: their columns (the data dictionary) and the queries behind their rows.

A Table names its columns once; the JSON schema, the CSV header, the data dictionary,
the exclusion check and the k-anonymity all read them from here. Every column says what it
is (`Role`): the subject's key, a quasi-identifier (counted in k, generalised or
suppressed: anonymity.py) or an outcome. Most tables are one queryset; the outcomes table
(analysis/dataset/outcomes.py) is built by analysis.long_format's row builder and so brings
its own row stream and pages.
"""

import enum
from collections.abc import Callable, Iterable, Iterator
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

from .anonymity import (
    AETIOLOGY_BANDINGS,
    AGE_BANDINGS,
    HOUSE_BRACKMANN_BANDINGS,
    HOUSE_BRACKMANN_BANDS,
    NOT_BELLS_PALSY,
    ONSET_BANDINGS,
    SUPPRESSED,
    QuasiIdentifier,
    Release,
    aetiology_label,
    age_in_years,
    age_label,
    house_brackmann_label,
    months_label,
    release,
    statement,
)
from .exclusions import check_columns


class Role(enum.Enum):
    """What a column is to the k-anonymity; every column must say (a Column cannot be made without it)."""

    # The pseudonymous subject_id: unique by design, the key the tables join on; not a fact about the person.
    KEY = "key"
    # A fact about the subject an outsider could know (who they are, their palsy, their place in the
    # trial): counted in k, and generalised or suppressed until k reaches the study's min_k.
    QUASI_IDENTIFIER = "quasi-identifier"
    # What the trial measured or gave, per visit or session (values, visits, days, doses): the data the
    # dataset is for, not counted in k.
    OUTCOME = "outcome"


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str  # "string", "integer", "number"
    unit: str = ""
    allowed: tuple[str, ...] = ()
    nullable: bool = False
    role: Role = field(kw_only=True)
    # For a quasi-identifier: False if it is never suppressed (the arm), then k may be unreachable.
    suppressible: bool = field(default=True, kw_only=True)
    # For a quasi-identifier the ladder generalises: (raw value, banding) -> published label.
    generalise: Callable[[Any, str], str] | None = field(default=None, kw_only=True)

    @property
    def values_allowed(self) -> tuple[str, ...]:
        """`allowed`, and "suppressed" where the column may carry it."""
        if self.allowed and self.role is Role.QUASI_IDENTIFIER and self.suppressible:
            return (*self.allowed, SUPPRESSED)
        return self.allowed


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
        unclassified = [c.name for c in self.columns if not isinstance(getattr(c, "role", None), Role)]
        if unclassified:
            raise ValueError(
                f"Table {self.name!r}: classify {', '.join(unclassified)} as a Role (key, quasi-identifier or "
                "outcome) so that the k-anonymity knows whether to count it"
            )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def quasi_identifiers(self) -> list[Column]:
        return [c for c in self.columns if c.role is Role.QUASI_IDENTIFIER]


@dataclass
class ExportContext:
    """What every table of one export shares: site coding, and the subjects' published quasi-identifiers."""

    study: Study
    site_labels: dict[int, str]
    arm_codes: dict[int, str]
    release: Release
    # subject_id -> {quasi-identifier column: its published value}
    published: dict[str, dict[str, str | None]]
    visit_codes: dict[int, str] = field(default_factory=dict)

    @property
    def k(self) -> int | None:
        return self.release.k

    @property
    def banding(self) -> dict[str, str]:
        return self.release.banding

    @property
    def statement(self) -> list[str]:
        return statement(self.release)

    def publish(self, table: Table, record: dict[str, Any]) -> dict[str, Any] | None:
        """A row as {column: value} with its subject's published quasi-identifiers (banded, suppressed).

        None for a subject the release does not hold (enrolled while this export was being read):
        its quasi-identifiers were not part of the k computed, so its row is left out of this export.
        """
        columns = [c.name for c in table.quasi_identifiers]
        if columns:
            values = self.published.get(record["subject_id"])
            if values is None:
                return None
            for name in columns:
                record[name] = values[name]
        return record

    def publish_tuples(self, table: Table, rows: Iterable[tuple]) -> Iterable[tuple]:
        """`publish` for rows as tuples in column order (the outcomes' millions of rows).

        Only the columns that can differ from the recorded value are rewritten: a quasi-identifier
        never suppressed nor generalised (the arm) is published as recorded (registry.py checks
        it is a string there), so a table with no other one streams untouched.
        """
        columns = [
            c.name
            for c in SUBJECTS.quasi_identifiers
            if (c.suppressible or c.generalise) and c.name in table.column_names
        ]
        if not columns:
            return rows
        names = table.column_names
        key = names.index("subject_id")
        positions = [(names.index(name), name) for name in columns]

        def rewrite(rows: Iterable[tuple]) -> Iterator[tuple]:
            for row in rows:
                values = self.published.get(row[key])
                if values is None:  # not in the release (see publish)
                    continue
                out = list(row)
                for position, name in positions:
                    out[position] = values[name]
                yield tuple(out)

        return rewrite(rows)


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
    """Three queries, whatever the cohort size: sites, arms, and the quasi-identifiers of every subject.

    Raises anonymity.KAnonymityUnreachable when no banding or suppression gives k >= min_k.
    """
    site_labels = coded_sites(study)
    arm_codes = dict(study.arms.values_list("pk", "code"))
    quasi = SUBJECTS.quasi_identifiers
    facts = [
        _subject_facts(row, site_labels, arm_codes)
        for row in _subjects_rows(study, {}).order_by(*SUBJECTS.ordering).iterator(chunk_size=2000)
    ]
    rel = release(
        [tuple(f[c.name] for c in quasi) for f in facts],
        [QuasiIdentifier(c.name, suppressible=c.suppressible, generalise=c.generalise) for c in quasi],
        SUBJECT_LADDER,
        study.min_k,
    )
    published = {f["subject_id"]: dict(zip(rel.columns, values)) for f, values in zip(facts, rel.records)}
    return ExportContext(study, site_labels, arm_codes, release=rel, published=published)


def _choices(choices) -> tuple[str, ...]:
    return tuple(value for value, _ in choices)


SUBJECT_STATUSES = (Patient.Status.ENROLLED, Patient.Status.COMPLETED, Patient.Status.WITHDRAWN)


def _subjects_queryset(study: Study, filters: dict, ctx: ExportContext) -> QuerySet:
    return _subjects_rows(study, filters)


def _subjects_rows(study: Study, filters: dict) -> QuerySet:
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


def _subject_facts(row: dict, site_labels: dict[int, str], arm_codes: dict[int, str]) -> dict[str, Any]:
    """The subject's recorded values, before banding and suppression (ages and months as integers)."""
    return {
        "subject_id": row["subject_id"],
        "arm": arm_codes.get(row["arm_id"]),
        "site": site_labels[row["site_id"]],
        "sex": row["sex"],
        "age_years": age_in_years(row["born"], row["enrollment_date"]),
        "affected_side": row["affected_side"],
        "aetiology": row["aetiology"],
        "months_since_onset": row["months_since_onset"],
        "baseline_house_brackmann": row["baseline_house_brackmann"],
        "status": row["status"],
    }


def _present_subject(row: dict, ctx: ExportContext) -> dict[str, Any]:
    # Every quasi-identifier is replaced by its published value in ExportContext.publish.
    return _subject_facts(row, ctx.site_labels, ctx.arm_codes)


QI = Role.QUASI_IDENTIFIER
_OR_SUPPRESSED = f', or "{SUPPRESSED}" where k-anonymity needs it'

SUBJECT_COLUMNS = [
    Column(
        "subject_id",
        "Pseudonymous subject identifier (HMAC of the internal id; stable within a study)",
        "string",
        role=Role.KEY,
    ),
    # Never suppressed: a subject without an arm drops out of every between-arm comparison.
    Column("arm", "Treatment arm code (never suppressed)", "string", nullable=True, role=QI, suppressible=False),
    Column("site", f"Site, coded site-1, site-2, … (never the site's name or code){_OR_SUPPRESSED}", "string", role=QI),
    Column("sex", f"Sex{_OR_SUPPRESSED}", "string", allowed=_choices(Sex.choices), role=QI),
    Column(
        "age_years",
        "Age at enrollment: whole years, or a 5-, 10- or 20-year band (20-39, …, 80+) or one of two bands "
        "(<60, 60+) when k-anonymity needs it; 90+ for 90 and over" + _OR_SUPPRESSED,
        "string",
        unit="years",
        role=QI,
        generalise=age_label,
    ),
    Column(
        "affected_side", f"Side of the facial palsy{_OR_SUPPRESSED}", "string", allowed=_choices(Side.choices), role=QI
    ),
    Column(
        "aetiology",
        f"Cause of the palsy, or {NOT_BELLS_PALSY} for any cause but Bell's palsy when k-anonymity needs it"
        + _OR_SUPPRESSED,
        "string",
        allowed=(*_choices(Aetiology.choices), NOT_BELLS_PALSY),
        role=QI,
        generalise=aetiology_label,
    ),
    Column(
        "months_since_onset",
        "Months from onset of the palsy to screening: whole months, or a 6- or 12-month band, clinical bands "
        "(<12, 12-35, 36+) or two bands (<12, 12+) when k-anonymity needs it; 120+ for 120 and over" + _OR_SUPPRESSED,
        "string",
        unit="months",
        role=QI,
        generalise=months_label,
    ),
    Column(
        "baseline_house_brackmann",
        "House-Brackmann grade at baseline (1 normal – 6 total paralysis), or the randomization stratum's band "
        f"(1-3, 4-6) when k-anonymity needs it{_OR_SUPPRESSED}",
        "string",
        allowed=("1", "2", "3", "4", "5", "6", *HOUSE_BRACKMANN_BANDS),
        role=QI,
        generalise=house_brackmann_label,
    ),
    Column(
        "status",
        f"Trial status (the reason for withdrawal is never exported){_OR_SUPPRESSED}",
        "string",
        allowed=SUBJECT_STATUSES,
        role=QI,
    ),
]


def _step(age: str, onset: str, grade: str = "grade", aetiology: str = "cause") -> dict[str, str]:
    return {"age_years": age, "months_since_onset": onset, "baseline_house_brackmann": grade, "aetiology": aetiology}


# Generalisation before suppression, finest first (anonymity.release): age bands, then months
# since onset in bands, then both coarser, then the categorical ones. Each step is at least as
# coarse as the one before in every column (each band a union of the finer step's bands), so
# that "a tie goes to the finer step" is well defined. Every step names every column that has
# `generalise`. Kept short: release suppresses each step that does not reach min_k by itself.
SUBJECT_LADDER: tuple[dict[str, str], ...] = (
    _step("years", "months"),
    _step("5-year", "months"),
    _step("5-year", "6-month"),
    _step("10-year", "12-month"),
    _step("20-year", "12-month"),
    _step("20-year", "clinical"),
    _step("20-year", "clinical", "stratum"),
    _step("2-band", "clinical", "stratum"),
    _step("2-band", "2-band", "stratum"),
    _step("2-band", "2-band", "stratum", "bells-or-not"),
)


def _check_ladder(columns: list[Column], ladder: tuple[dict[str, str], ...]) -> None:
    """Every step bands exactly the columns that have `generalise`, each with one of its own bandings,
    never finer than the step before."""
    bandings = {
        "age_years": AGE_BANDINGS,
        "months_since_onset": ONSET_BANDINGS,
        "baseline_house_brackmann": HOUSE_BRACKMANN_BANDINGS,
        "aetiology": AETIOLOGY_BANDINGS,
    }
    banded = {c.name for c in columns if c.generalise}
    for before, step in zip((None, *ladder), ladder):
        if set(step) != banded or any(step[name] not in bandings.get(name, ()) for name in step):
            raise ValueError(f"The subjects' ladder step {step} must band exactly {sorted(banded)}")
        if before and any(bandings[n].index(step[n]) < bandings[n].index(before[n]) for n in step):
            raise ValueError(f"The subjects' ladder step {step} is finer than the one before it")


_check_ladder(SUBJECT_COLUMNS, SUBJECT_LADDER)

SUBJECTS = Table(
    name="subjects",
    description="One row per subject.",
    columns=SUBJECT_COLUMNS,
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
        Column("subject_id", "Pseudonymous subject identifier", "string", role=Role.KEY),
        Column(
            "visit",
            "Scheduled visit code of the session (empty if recorded outside a visit)",
            "string",
            nullable=True,
            role=Role.OUTCOME,
        ),
        Column("day", "Days from enrollment to the injection session", "integer", unit="days", role=Role.OUTCOME),
        Column("product", "Botulinum toxin product", "string", allowed=_choices(Product.choices), role=Role.OUTCOME),
        Column(
            "muscle",
            "Muscle injected (free-text names of other muscles are not exported)",
            "string",
            allowed=_choices(Muscle.choices),
            role=Role.OUTCOME,
        ),
        Column("side", "Side injected", "string", allowed=_choices(InjectionSide.choices), role=Role.OUTCOME),
        Column(
            "units",
            "Units injected into this muscle and side at this session",
            "number",
            unit="U",
            role=Role.OUTCOME,
        ),
    ],
    inclusion="Recorded (not voided) injection points of recorded sessions of subjects; sessions attached to a "
    "voided visit are left out. Points of one session in the same muscle and side are summed.",
    queryset=_injections_queryset,
    present=_present_injection,
    ordering=("subject_id", "day", "visit", "muscle", "side", "product"),
    filters=("arm", "visit"),
)


def rows(table: Table, study: Study, filters: dict, ctx: ExportContext) -> Iterator[dict[str, Any]]:
    """Every row as {column: value}, published (ExportContext.publish), streamed in chunks (constant memory)."""
    if table.stream is not None:
        for row in ctx.publish_tuples(table, table.stream(study, filters, ctx)):
            yield table.present(row, ctx)
        return
    assert table.queryset is not None
    queryset = table.queryset(study, filters, ctx).order_by(*table.ordering)
    for row in queryset.iterator(chunk_size=2000):
        record = present(table, row, ctx)
        if record is not None:
            yield record


def present(table: Table, row: Any, ctx: ExportContext) -> dict[str, Any] | None:
    """One queryset row as the API client gets it: the table's own values, its subject's published ones."""
    return ctx.publish(table, table.present(row, ctx))
