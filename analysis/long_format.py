"""The long-format outcome dataset: its columns, its data dictionary and its rows, defined once.

One row per patient x visit x expression x metric. The investigators' download and the
anonymized API dataset both build their rows here; they differ only in the patient key
(`patient_key`: the study code for investigators, a pseudonym for API clients). Nothing
in the shared part carries a study code, a site or a calendar date: time is the day since
enrollment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pandas as pd

from measurements.models import Expression
from patients.missing_codes import MissingCode

from .metrics import ANALYSIS_METRICS
from .selectors import MISSING_CODED, POSE_COLUMNS, OutcomeTable

# (variable, label, type, unit, allowed values)
COLUMNS: tuple[tuple[str, str, str, str, str], ...] = (
    ("patient", "Patient key (study code, or a pseudonym in the anonymized dataset)", "string", "", "any"),
    ("arm", "Treatment arm (code)", "string", "", "arm codes of the study"),
    ("visit", "Visit code of the study's schedule", "string", "", "visit codes of the study"),
    ("visit_day", "Scheduled day of the visit after enrollment", "integer", "days", ">= 0"),
    ("day_since_enrollment", "Day the visit was performed, counted from enrollment", "integer", "days", ">= 0"),
    (
        "expression",
        "Photo expression; empty for clinician grades, which belong to the visit",
        "string",
        "",
        ", ".join(Expression.values) + " or empty",
    ),
    ("engine_version", "Scoring engine version of the photo metric; empty for grades", "string", "", "x.y.z or empty"),
    ("metric", "Outcome measured", "string", "", "see the metric rows of this dictionary"),
    (
        "value",
        "Value of the outcome; empty where the item was marked missing (see missing_code)",
        "number",
        "see unit",
        "real or empty",
    ),
    ("unit", "Unit of the value", "string", "", "mm, deg, %, grade, points"),
    (
        "yaw_deg",
        "Head turn in the photo, positive turned to the patient's left (docs/metrics.md, Head pose); empty for grades",
        "number",
        "deg",
        "-90 to 90 or empty",
    ),
    (
        "pitch_deg",
        "Head pitch in the photo, positive chin raised (docs/metrics.md, Head pose); empty for grades",
        "number",
        "deg",
        "-90 to 90 or empty",
    ),
    (
        "roll_deg",
        "Head tilt in the photo, positive towards the patient's left shoulder (docs/metrics.md, Head pose); "
        "empty for grades",
        "number",
        "deg",
        "-180 to 180 or empty",
    ),
    (
        "missing_code",
        "Why the item has no value: the missing-data code the site recorded instead of it (docs/analysis.md, "
        "Missing-data codes); empty where a value exists",
        "string",
        "",
        ", ".join(MissingCode.values) + " or empty",
    ),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in COLUMNS)


def data_dictionary(metrics=ANALYSIS_METRICS) -> list[dict]:
    """The columns, then one entry per metric (the allowed values of `metric`); pass the study's
    metric definitions to include its own outcomes."""
    entries = [
        {"variable": name, "label": label, "type": type_, "unit": unit, "allowed_values": allowed}
        for name, label, type_, unit, allowed in COLUMNS
    ]
    entries += [
        {
            "variable": f"metric={m.name}",
            "label": m.label,
            "type": "integer" if m.ordinal else "number",
            "unit": m.unit,
            "allowed_values": m.allowed,
        }
        for m in metrics
    ]
    return entries


def long_rows(table: OutcomeTable, *, patient_key: Callable[[int], str]) -> Iterator[tuple]:
    """Rows in COLUMN_NAMES order: included values, and items marked missing with a code (value empty,
    `missing_code` set); grades and study-defined outcomes once per visit. Other gaps have no row.

    `patient_key` maps a patient id to the key written in the `patient` column.
    """
    definitions = table.definitions
    photo_metrics = [m for m in table.metrics if definitions[m].source == "photo"]
    visit_metrics = [m for m in table.metrics if definitions[m].source != "photo"]
    columns = list(table.rows.columns)
    at = {name: columns.index(name) for name in columns}
    # Plain tuples by position: metric names such as "outcome:qol-total" are not identifiers.
    # The photo's head pose goes with each of its rows, so that pose can be compared between arms.
    pose_at = [at[name] for name in POSE_COLUMNS]
    no_pose = (None,) * len(POSE_COLUMNS)
    exclusion = table.rows["exclusion"]
    coded_prefix = MISSING_CODED + ":"
    # Counted photos, and the photo slots marked missing with a code (excluded under it, selectors.MISSING_CODED).
    photo_rows = table.rows[(exclusion == "") | exclusion.str.startswith(coded_prefix)]
    for row in photo_rows.itertuples(index=False, name=None) if photo_metrics else ():
        common = _common(row, at, patient_key)
        if row[at["exclusion"]]:  # coded missing: one row per metric, with the code and no value
            code = row[at["exclusion"]].removeprefix(coded_prefix)
            for name in photo_metrics:
                yield (*common, row[at["expression"]], "", name, None, definitions[name].unit, *no_pose, code)
            continue
        pose = tuple(None if _missing(row[i]) else round(float(row[i]), 2) for i in pose_at)
        for name in photo_metrics:
            value = row[at[name]]
            if not _missing(value):
                yield (
                    *common,
                    row[at["expression"]],
                    row[at["engine_version"]],
                    name,
                    value,
                    definitions[name].unit,
                    *pose,
                    None,
                )
    if visit_metrics:
        visits = table.rows[~table.rows["exclusion"].isin(["voided_visit", "after_withdrawal"])]
        visits = visits.drop_duplicates("visit_id")
        no_codes = pd.Series(None, index=table.rows.index, dtype=object)
        codes = {name: table.missing_codes.get(name, no_codes) for name in visit_metrics}
        for index, row in zip(visits.index, visits.itertuples(index=False, name=None)):
            common = _common(row, at, patient_key)
            for name in visit_metrics:
                value = row[at[name]]
                if not _missing(value):
                    value = int(value) if float(value).is_integer() else value
                    yield (*common, "", "", name, value, definitions[name].unit, *no_pose, None)
                elif codes[name].get(index) is not None:
                    yield (*common, "", "", name, None, definitions[name].unit, *no_pose, codes[name][index])


def study_rows(study, *, patient_key: Callable[[int], str], chunk: int = 100) -> Iterator[tuple]:
    """Every row of a study's long dataset, read `chunk` patients at a time so that memory stays
    flat however large the study (the download streams these rows as CSV). A slice of 100
    patients holds a few thousand table rows (tens of MB as Python objects); a query per slice
    is the price (docs/benchmarks.md)."""
    from patients.models import Patient

    from .selectors import analysis_engine_version, outcome_table

    version = analysis_engine_version(study)
    ids = list(Patient.objects.filter(study=study, arm__isnull=False).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), chunk):
        table = outcome_table(study, patient_ids=ids[start : start + chunk], version=version)
        yield from long_rows(table, patient_key=patient_key)


def _common(row: tuple, at: dict, patient_key) -> tuple:
    return (
        patient_key(row[at["patient_id"]]),
        row[at["arm_code"]],
        row[at["visit_code"]],
        row[at["day_offset"]],
        row[at["day_since_enrollment"]],
    )


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
