"""The one place that decides which records enter an analysis (docs/analysis.md, "Which data count").

`outcome_table(study, ...)` turns the records into plain pandas tables; the statistics
(analysis.statistics), the pages, the downloads and the API all start from it. It reads
PhotoScore rows, never Photo.status: a rescore puts scored photos back to "pending" while
their old scores stay valid for the engine version that produced them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import CharField, F, FilteredRelation, FloatField, IntegerField, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.http import Http404

from measurements.engine import GATE_STATUSES
from measurements.models import Expression, PhotoScore
from patients import schedule
from patients.missing_codes import ItemKind, MissingCode, MissingItem
from patients.models import Patient, RecordStatus, ScheduledVisit, Study, StudyOutcome, Visit, VisitOutcomeValue
from patients.selectors import Access, enrolled_visit_window

from .metrics import (
    ANALYSIS_METRICS_BY_NAME,
    GRADE_METRIC_NAMES,
    STUDY_OUTCOME_PREFIX,
    AnalysisMetric,
    engine_inputs,
    oriented_values,
    study_outcome_metric,
)

# Exclusion reasons, in the order pages list them.
NO_PHOTO = "no_photo"
NOT_SCORED = "not_scored"
FAILED = "failed"  # reported as "failed:<gate>", e.g. failed:head_turned
VOIDED = "voided_visit"
WITHDRAWN = "after_withdrawal"
NO_AFFECTED_SIDE = "no_affected_side"
# An item marked missing with a code (patients.missing_codes) is excluded under its code, "missing:<code>":
# never counted as a zero or a value, and never lumped with the items nobody accounted for.
MISSING_CODED = "missing"
# The reasons that exclude a whole visit, and with it its grades and study-defined outcomes.
VISIT_EXCLUSIONS = (VOIDED, WITHDRAWN)
EXCLUSION_LABELS = {
    NO_PHOTO: "No current photo for this expression at a recorded visit",
    NOT_SCORED: "Photo not (yet) scored by the analysis engine version",
    VOIDED: "Visit voided",
    WITHDRAWN: "Visit after the patient's withdrawal",
    NO_AFFECTED_SIDE: "No affected side on record (oriented metrics only)",
    "failed:unreadable": "Photo could not be read",
    **{f"failed:{gate}": f"Failed the quality gate: {gate.replace('_', ' ')}" for gate in GATE_STATUSES},
    # docs/metrics.md, "A visit-level frame and scale": an eye closure is never given a guessed scale.
    "failed:no_reference": "No millimetres: the visit has no usable open-eye photo to take the scale from",
    **{f"{MISSING_CODED}:{code}": f"Missing: {label.lower()}" for code, label in MissingCode.choices},
}

ROW_COLUMNS = [
    "patient_id",
    "site_code",
    "arm_code",
    "arm_name",
    "treated_arm",
    "affected_side",
    "visit_id",
    "visit_code",
    "visit_name",
    "day_offset",
    "day_since_enrollment",
    "expression",
    "photo_id",
    "engine_version",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "exclusion",
]
# The head pose of the row's photo under the analysis' engine (docs/metrics.md, "Head pose"): degrees,
# None where there is no scored face. It describes the photo, it is not an outcome.
POSE_COLUMNS = ["yaw_deg", "pitch_deg", "roll_deg"]


def _version_key(version: str) -> tuple:
    # "1.10.0" is newer than "1.9.2": compare numerically, part by part.
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-+]", version))


# Every distinct engine version, one index probe each (a "loose index scan" on score_engine_version):
# a handful of versions however many scores. MIN() rather than ORDER BY ... LIMIT keeps it valid
# in SQLite, the embedded default, as well as PostgreSQL.
_ENGINE_VERSIONS_SQL = """
WITH RECURSIVE versions(engine_version) AS (
    SELECT MIN(engine_version) FROM {table}
    UNION ALL
    SELECT (SELECT MIN(s.engine_version) FROM {table} s WHERE s.engine_version > v.engine_version)
    FROM versions v WHERE v.engine_version IS NOT NULL
)
SELECT engine_version FROM versions WHERE engine_version IS NOT NULL
"""


def analysis_engine_version(study: Study) -> str | None:
    """The newest engine version that has scored photos in the study.

    A photo that failed a quality gate was scored too (its result is the failure), so a
    study whose only photos failed still names its version and its failures.

    One query lists the versions scored anywhere (a few); then, newest first, an EXISTS per
    version until one has a score in the study: usually the first. Collecting the study's
    distinct versions from its scores instead reads every score of the study (a fifth of a
    second at 10,000 patients, docs/benchmarks.md).
    """
    with connection.cursor() as cursor:
        cursor.execute(_ENGINE_VERSIONS_SQL.format(table=connection.ops.quote_name(PhotoScore._meta.db_table)))
        versions = sorted((row[0] for row in cursor.fetchall()), key=_version_key, reverse=True)
    for version in versions:
        if PhotoScore.objects.filter(engine_version=version, photo__patient__study=study).exists():
            return version
    return None


@dataclass
class OutcomeTable:
    """One row per randomized patient x recorded visit x expression, with a column per metric.

    `rows` holds included and excluded rows alike (`exclusion` is "" when the row counts);
    a metric column is NaN wherever the value does not count. `patients` has one row per
    randomized patient (the denominators); `not_randomized` counts those who never count.
    """

    study_code: str
    engine_version: str | None
    expressions: list[str]
    metrics: list[str]
    rows: pd.DataFrame
    patients: pd.DataFrame
    not_randomized: int
    site_code: str | None = None
    side_missing_patients: int = 0
    definitions: dict[str, AnalysisMetric] = field(default_factory=lambda: dict(ANALYSIS_METRICS_BY_NAME))
    # Per grade or study-outcome metric, the missing-data code of each row's visit (None where not coded),
    # aligned with `rows`. A photo slot's code is in its `exclusion` ("missing:<code>") instead.
    missing_codes: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def included(self) -> pd.DataFrame:
        return self.rows[self.rows["exclusion"] == ""]

    def exclusions(self, metric: str | None = None) -> list[dict]:
        """Rows (photos or visit slots) and distinct patients excluded, by reason.

        For an oriented metric, included rows of patients without an affected side are
        counted as `no_affected_side`.
        """
        reasons = self.rows["exclusion"].copy()
        if metric and self.definitions[metric].source != "photo":
            # A grade or study outcome belongs to the visit: a photo's fate does not exclude it.
            reasons[~reasons.isin(VISIT_EXCLUSIONS)] = ""
            coded = self.missing_codes.get(metric)
            if coded is not None:
                coded = coded.reindex(reasons.index)
                reasons = reasons.where((reasons != "") | coded.isna(), MISSING_CODED + ":" + coded.fillna(""))
            reasons = reasons.where(~self.rows.duplicated("visit_id"), "")
        if metric and self.definitions[metric].needs_side:
            reasons[(reasons == "") & ~self.rows["affected_side"].isin(["left", "right"])] = NO_AFFECTED_SIDE
        out = []
        for reason, group in self.rows[reasons != ""].groupby(reasons[reasons != ""], sort=True):
            out.append(
                {
                    "reason": reason,
                    "label": EXCLUSION_LABELS.get(reason, reason),
                    "rows": len(group),
                    "patients": int(group["patient_id"].nunique()),
                }
            )
        if self.not_randomized:
            out.append(
                {
                    "reason": "not_randomized",
                    "label": "Registered but never randomized (never counted)",
                    "rows": 0,
                    "patients": self.not_randomized,
                }
            )
        return out


def _exclusions(raw: pd.DataFrame, performed: pd.Series, *, photos: bool = True) -> np.ndarray:
    """The exclusion reason of every slot, "" when it counts; the first rule that applies wins.
    Without `photos` (a table of visit-level outcomes only) only the visit's own rules apply."""
    withdrawn = pd.to_datetime(raw["withdrawn_on"])
    status = raw["score_status"]
    conditions = [
        (raw["visit_status"] != RecordStatus.RECORDED).to_numpy(),
        (performed > withdrawn).to_numpy(),  # NaT compares False: no withdrawal, no date
    ]
    reasons: list = [VOIDED, WITHDRAWN]
    if photos:
        conditions += [raw["photo_id"].isna().to_numpy(), status.isna().to_numpy(), (status != "scored").to_numpy()]
        reasons += [NO_PHOTO, NOT_SCORED, (FAILED + ":" + status.astype(object).fillna("")).to_numpy()]
    return np.select(conditions, reasons, default="").astype(object)


def _oriented(metric: AnalysisMetric, raw: pd.DataFrame, counts: np.ndarray) -> np.ndarray:
    """The metric for every slot, oriented to the affected side (analysis.metrics); NaN where it does not count."""

    def engine_values(key: str) -> np.ndarray:
        return pd.to_numeric(raw[f"m__{key}"], errors="coerce").to_numpy(dtype=float)

    values = oriented_values(metric, engine_values, raw["affected_side"].to_numpy(dtype=object))
    return np.where(counts, values, np.nan)


def _slots(raw: pd.DataFrame, expressions: list[str]) -> pd.DataFrame:
    """One row per visit x expression: the query's LEFT JOIN gives nothing for an expression
    without a current photo, and such a slot still needs its row ("no photo", or "voided"
    when the visit was voided)."""
    photo_columns = ["photo_id", "expression", "score_status", *POSE_COLUMNS] + [
        c for c in raw.columns if c.startswith("m__")
    ]
    if not expressions:  # visit-level outcomes only: one slot per visit, no photo
        return raw.assign(expression="")
    visits = raw.drop(columns=photo_columns).drop_duplicates("visit_id")
    slots = visits.merge(pd.DataFrame({"expression": expressions}), how="cross")
    photos = raw.loc[raw["photo_id"].notna(), ["visit_id", *photo_columns]]
    return slots.merge(photos, on=["visit_id", "expression"], how="left", sort=False)


def _fetch_frame(queryset) -> pd.DataFrame:
    """Runs the rows query and hands its result straight to pandas, one row per visit x current
    photo. Through the ORM's dict per row, reading cost more than the query itself at 10,000
    patients (docs/benchmarks.md); the columns are plain values that need no ORM conversion."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return frame_from_cursor(cursor)


def frame_from_cursor(cursor) -> pd.DataFrame:
    """An executed DB-API cursor's rows as a DataFrame named by its columns. Each entry of
    `description` is a sequence whose first item is the name (psycopg2 gives objects, SQLite tuples)."""
    return pd.DataFrame.from_records(cursor.fetchall(), columns=[column[0] for column in cursor.description])


def rows_queryset(study: Study, *, expressions: list[str], keys: list[str], version: str | None, patients):
    """The one SQL query behind the table: every visit of the randomized `patients`, LEFT JOINed to
    its current photo of the expressions and that photo's score under `version`, with the engine
    metrics `keys` extracted from the score's JSON. scripts/bench.py times it as the floor. With no
    `expressions` (grades and study-defined outcomes only) no photo is joined: one row per visit."""
    visits = Visit.objects.filter(patient__in=patients.filter(arm__isnull=False))
    photo_fields: dict = {
        "photo_id": Value(None, output_field=IntegerField()),
        "expression": Value(None, output_field=CharField()),
        "score_status": Value(None, output_field=CharField()),
        **{name: Value(None, output_field=FloatField()) for name in POSE_COLUMNS},
    }
    if expressions:
        visits, photo_fields = _with_current_photos(visits, expressions=expressions, keys=keys, version=version)
    fields = {
        "site_code": F("patient__site__code"),
        "arm_code": F("patient__arm__code"),
        "arm_name": F("patient__arm__name"),
        "treated_arm": F("patient__arm__receives_injections"),
        "affected_side": F("patient__affected_side"),
        "enrollment_date": F("patient__enrollment_date"),
        "withdrawn_on": F("patient__withdrawn_on"),
        "visit_id": F("id"),
        "visit_status": F("status"),
        "performed": F("date_performed"),
        "visit_code": F("scheduled_visit__code"),
        "visit_name": F("scheduled_visit__name"),
        "day_offset": F("scheduled_visit__day_offset"),
        **photo_fields,
    }
    return visits.values("patient_id", "house_brackmann", "sunnybrook_composite", **fields).order_by(
        "patient_id", "scheduled_visit__day_offset", "id"
    )


def _with_current_photos(visits, *, expressions: list[str], keys: list[str], version: str | None):
    """The visits LEFT JOINed to their current photo of the expressions and its score under `version`,
    and the photo's fields to select."""
    visits = visits.annotate(
        current_photo=FilteredRelation(
            "photos", condition=Q(photos__is_current=True, photos__expression__in=expressions)
        ),
    ).annotate(
        score=FilteredRelation(
            "current_photo__scores", condition=Q(current_photo__scores__engine_version=version or "")
        ),
    )
    return visits, {
        "photo_id": F("current_photo__id"),
        "expression": F("current_photo__expression"),
        "score_status": F("score__status"),
        **{name: F(f"score__{name}") for name in POSE_COLUMNS},
        **{f"m__{key}": KeyTextTransform(key, "score__metrics") for key in keys},
    }


def outcome_table(
    study: Study,
    *,
    expressions: list[str] | None = None,
    metrics: list[str] | None = None,
    site_code: str | None = None,
    patient_ids: list[int] | None = None,
    version: str | None = None,
) -> OutcomeTable:
    """The records under the inclusion rules, in six queries whatever the number of patients.

    `metrics` are analysis metric names (analysis.metrics); None means all of them. With
    `expressions` None every expression of the standard set is returned; with an empty list none
    (one row per visit, for the grades and study-defined outcomes). `patient_ids` (and a
    `version` already looked up) let the streamed dataset read the study a slice at a time.
    """
    expressions = list(Expression.values if expressions is None else expressions)
    definitions = metric_definitions(study)
    metrics = list(metrics) if metrics is not None else list(definitions)
    version = version or analysis_engine_version(study)
    keys = engine_inputs(metrics)

    patients = Patient.objects.filter(study=study)
    if site_code:
        patients = patients.filter(site__code=site_code)
    if patient_ids is not None:
        patients = patients.filter(pk__in=patient_ids)
    query = rows_queryset(study, expressions=expressions, keys=keys, version=version, patients=patients)
    raw = _slots(_fetch_frame(query), expressions)

    performed = pd.to_datetime(raw["performed"])
    exclusion = _exclusions(raw, performed, photos=bool(expressions))
    coded = _missing_codes(patients)
    if expressions:
        photo_codes = pd.Series(
            [coded.get((v, ItemKind.PHOTO.value, e)) for v, e in zip(raw["visit_id"], raw["expression"])],
            index=raw.index,
            dtype=object,
        )
        exclusion = np.where(
            (exclusion == NO_PHOTO) & photo_codes.notna().to_numpy(),
            (MISSING_CODED + ":" + photo_codes.fillna("")).to_numpy(),
            exclusion,
        ).astype(object)
    counts = exclusion == ""
    # Grades belong to the visit: they count when the visit counts, whatever its photos.
    visit_counts = ~np.isin(exclusion, [VOIDED, WITHDRAWN])
    days = (performed - pd.to_datetime(raw["enrollment_date"])).dt.days.astype("Int64")
    visit_values = _study_outcome_values(study, [m for m in metrics if definitions[m].source == "study"])
    values: dict[str, np.ndarray] = {}
    missing_codes: dict[str, pd.Series] = {}
    for name in metrics:
        definition = definitions[name]
        if definition.source == "photo":
            values[name] = _oriented(definition, raw, counts) if expressions else np.full(len(raw), np.nan)
            continue
        if name in GRADE_METRIC_NAMES:
            recorded = pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype=float)
        else:
            recorded = raw["visit_id"].map(visit_values[name]).to_numpy(dtype=float)
        values[name] = np.where(visit_counts, recorded, np.nan)
        kind, item = (
            (ItemKind.GRADE.value, name)
            if name in GRADE_METRIC_NAMES
            else (ItemKind.OUTCOME.value, name.removeprefix(STUDY_OUTCOME_PREFIX))
        )
        codes = [coded.get((v, kind, item)) for v in raw["visit_id"]]
        # A code only where the visit counts and no value is there (recording the value voids the code).
        missing_codes[name] = pd.Series(codes, index=raw.index, dtype=object).where(
            visit_counts & np.isnan(recorded), None
        )
    rows = pd.DataFrame(
        {
            **{name: raw[name] for name in ROW_COLUMNS if name in raw.columns},
            "day_since_enrollment": days.astype(object).where(days.notna(), None),
            "engine_version": pd.Series(version, index=raw.index, dtype=object).where(counts & bool(expressions), None),
            "exclusion": exclusion,
            **values,
        },
        columns=ROW_COLUMNS + metrics,
    )

    # Every patient of the study (or site) in one query: the randomized are the denominators,
    # the others are only counted.
    patient_frame = _fetch_frame(
        patients.values(
            "arm_assignment",
            "status",
            "enrollment_date",
            "affected_side",
            "sex",
            "aetiology",
            "months_since_onset",
            "baseline_house_brackmann",
            patient_id=F("id"),
            arm_code=F("arm__code"),
            arm_name=F("arm__name"),
            treated_arm=F("arm__receives_injections"),
            site_code=F("site__code"),
        )
    )
    not_randomized = int(patient_frame["arm_code"].isna().sum()) if not patient_frame.empty else 0
    patient_frame = (
        patient_frame[patient_frame["arm_code"].notna()].reset_index(drop=True)
        if not patient_frame.empty
        else patient_frame
    )
    side_missing = int((~patient_frame.get("affected_side", pd.Series(dtype=str)).isin(["left", "right"])).sum())
    return OutcomeTable(
        study_code=study.code,
        engine_version=version,
        expressions=expressions,
        metrics=metrics,
        rows=rows,
        patients=patient_frame,
        not_randomized=not_randomized,
        site_code=site_code,
        side_missing_patients=side_missing,
        definitions=definitions,
        missing_codes=missing_codes,
    )


def _missing_codes(patients) -> dict[tuple[int, str, str], str]:
    """{(visit id, item kind, item code): missing-data code} of the patients' recorded codes, one query."""
    items = MissingItem.objects.filter(visit__patient__in=patients, status=RecordStatus.RECORDED)
    return {
        (v, kind, item): code for v, kind, item, code in items.values_list("visit_id", "item_kind", "item_code", "code")
    }


def study_schedule(study: Study) -> list[ScheduledVisit]:
    """The study's scheduled visits in order, with their windows (one query)."""
    return list(study.schedule.order_by("day_offset"))


# Randomized patients without a counted value at a visit are either "not yet due" (the visit's window
# has not closed: it may still be done) or "missing" (the window closed with nothing recorded, the
# patient left the study before it, or the recorded visit has no value that counts).
NOT_YET_DUE = "not_yet_due"
MISSING = "missing"
NOT_YET_DUE_STATES = frozenset({schedule.UPCOMING, schedule.DUE, schedule.OVERDUE})


def not_yet_due(table: OutcomeTable, visits: list[ScheduledVisit], *, today: date) -> dict[str, set[int]]:
    """{visit code: the randomized patients for whom that visit is not yet due on `today`}.

    The one rule for "not yet due" of the page, the downloads, the summary API and the CONSORT
    diagram: the patient has no recorded (unvoided) visit of that code, is still in the study
    (neither withdrawn nor completed), and the visit's window (patients.schedule) has not closed.
    `visits` is study_schedule's list. Pure over the table: no query. (A recorded visit is done and a
    closed patient's visit is closed under that rule; only the others need their window asked.)
    """
    out: dict[str, set[int]] = {v.code: set() for v in visits}
    patients = table.patients
    if patients.empty:
        return out
    # Plain Python over the columns: pandas' string operations cost more than the rule at 10,000 patients.
    closed = {Patient.Status.WITHDRAWN.value, Patient.Status.COMPLETED.value}
    by_enrollment: dict[date, list[int]] = defaultdict(list)
    for pid, status, enrolled in zip(
        patients["patient_id"].tolist(), patients["status"].tolist(), patients["enrollment_date"].tolist(), strict=True
    ):
        if status not in closed and isinstance(enrolled, date):  # no enrollment date: no window
            by_enrollment[enrolled].append(int(pid))
    recorded: dict[str, set[int]] = defaultdict(set)
    for pid, code, exclusion in zip(
        table.rows["patient_id"].tolist(), table.rows["visit_code"].tolist(), table.rows["exclusion"].tolist(),
        strict=True,
    ):  # fmt: skip
        if exclusion != VOIDED:
            recorded[code].add(int(pid))
    # The window depends only on the enrollment date: the rule is asked once per date and visit, not
    # once per patient.
    for visit in visits:
        for enrolled, ids in by_enrollment.items():
            state = schedule.visit_state(window=enrolled_visit_window(visit, enrolled), recorded=False, today=today)
            if state in NOT_YET_DUE_STATES:
                out[visit.code].update(pid for pid in ids if pid not in recorded[visit.code])
    return out


def metric_definitions(study: Study) -> dict[str, AnalysisMetric]:
    """The engine's metrics, the clinician grades and the study's own outcomes (one query)."""
    definitions = dict(ANALYSIS_METRICS_BY_NAME)
    for code, name, unit, low, high in StudyOutcome.objects.filter(study=study).values_list(
        "code", "name", "unit", "min_value", "max_value"
    ):
        metric = study_outcome_metric(code, name, unit, low.normalize(), high.normalize())
        definitions[metric.name] = metric
    return definitions


def _study_outcome_values(study: Study, names: list[str]) -> dict[str, dict[int, float]]:
    """{metric name: {visit id: value}} of the study-defined outcomes asked for (one query, or none)."""
    out: dict[str, dict[int, float]] = {name: {} for name in names}
    if not names:
        return out
    codes = [n.removeprefix(STUDY_OUTCOME_PREFIX) for n in names]
    rows = VisitOutcomeValue.objects.filter(visit__patient__study=study, outcome__code__in=codes).values_list(
        "visit_id", "outcome__code", "value"
    )
    for visit_id, code, value in rows:
        out[STUDY_OUTCOME_PREFIX + code][visit_id] = float(value)
    return out


def exclusion_counts(table: OutcomeTable, metric: str | None = None) -> Counter:
    return Counter({e["reason"]: e["rows"] for e in table.exclusions(metric)})


# Why a coordinator is refused, on the page and its downloads.
COORDINATOR_REFUSAL = (
    "Outcome results are for investigators and data managers; coordinators do not see them. They open to a "
    "study's coordinators only once the study is closed (its database locked) and a data manager allows it."
)


def _results_open_to_coordinators() -> Q:
    """The one rule for coordinators: between-arm results seen during a running trial bias the people who
    collect its data, so they see them only once the study is closed and a data manager has opened them."""
    return Q(closed_on__isnull=False, results_open_to_coordinators=True)


def study_for_analysis(access: Access, study_code: str) -> Study:
    """The study, if the user may see its between-arm results: investigators and data managers; its
    coordinators only once it is closed and its results opened to them (`_results_open_to_coordinators`).
    Anyone else is told nothing exists. (The API also admits the study's API clients: analysis.api.)"""
    study = Study.objects.filter(code=study_code).first()
    if study is None:
        raise Http404("No such study.")
    require_results_visible(access, study)
    return study


def require_results_visible(access: Access, study: Study) -> None:
    """study_for_analysis's rule for a study already found: PermissionDenied for a coordinator who may
    not see its results yet, Http404 for anyone without a role that sees them."""
    if study.pk in access.investigator_study_ids | access.data_manager_study_ids:
        return
    if study.pk in access.coordinator_study_ids:
        if studies_for_analysis(access).filter(pk=study.pk).exists():
            return
        raise PermissionDenied(COORDINATOR_REFUSAL)
    raise Http404("No such study.")


def studies_for_analysis(access: Access):
    """The studies whose outcome pages the user may open (the navigation's link, the outcomes home)."""
    return Study.objects.filter(
        Q(pk__in=access.investigator_study_ids | access.data_manager_study_ids)
        | (Q(pk__in=access.coordinator_study_ids) & _results_open_to_coordinators())
    ).order_by("code")
