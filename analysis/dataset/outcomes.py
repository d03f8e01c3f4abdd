"""The outcomes table of the anonymized dataset: analysis.long_format's long rows, keyed by subject_id.

One row per subject x visit x expression x metric. The rows are `analysis.long_format.long_rows`
over `analysis.selectors.outcome_table`: the same rows the outcome tables count, photo
metrics oriented to the affected side as docs/analysis.md defines it, clinician grades and
study-defined outcomes as rows with an empty expression. Only the patient key differs from
the investigators' download (the pseudonym instead of the clinic's study code), and the
columns are renamed to the API's (`day` is the day since enrollment; the scheduled day,
being the schedule's, is left to the visit code).

Rows go out ordered by subject_id, then as the row builder gives them. The outcome table is
read a slice of subjects at a time: CSV in constant memory, and a JSON page in a fixed number
of queries (one to choose its subjects, then the outcome table's own few).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import defaultdict
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from analysis.cache import cached, data_stamp
from analysis.long_format import COLUMN_NAMES, COLUMNS, data_dictionary, long_rows
from analysis.selectors import analysis_engine_version, metric_definitions, outcome_table
from measurements.models import Photo
from patients.api_plumbing import invalid_cursor
from patients.missing_codes import ItemKind, MissingCode, MissingItem
from patients.models import RecordStatus, Study, Visit

from .tables import Column, ExportContext, Role, Table, subjects_included

# Our column -> the row builder's column it comes from.
SOURCE = {
    "subject_id": "patient",
    "arm": "arm",
    "visit": "visit",
    "day": "day_since_enrollment",
    "expression": "expression",
    "metric": "metric",
    "value": "value",
    "unit": "unit",
    "engine_version": "engine_version",
    "yaw_deg": "yaw_deg",
    "pitch_deg": "pitch_deg",
    "roll_deg": "roll_deg",
    "missing_code": "missing_code",
}
_REORDER = itemgetter(*(COLUMN_NAMES.index(source) for source in SOURCE.values()))
_LABELS = {name: (label, type_, unit) for name, label, type_, unit, _ in COLUMNS}
_DAY = COLUMN_NAMES.index("day_since_enrollment")
_VISIT = COLUMN_NAMES.index("visit")
_EXPRESSION = COLUMN_NAMES.index("expression")

# Subjects read per outcome table: the download's slice (analysis.long_format.study_rows), which
# keeps a slice to tens of MB however many photos each subject has.
SLICE = 100


def _column(
    name: str, *, role: Role = Role.OUTCOME, label: str | None = None, nullable: bool = False, **more
) -> Column:
    source_label, type_, unit = _LABELS[SOURCE[name]]
    return Column(name, label or source_label, type_, unit=unit, nullable=nullable, role=role, **more)


COLUMNS_OUT = [
    _column("subject_id", role=Role.KEY, label="Pseudonymous subject identifier (see subjects.csv)"),
    # The subject's arm, as in subjects.csv (registry.py: a subject-level quasi-identifier carries
    # the subjects table's published value).
    _column("arm", role=Role.QUASI_IDENTIFIER, suppressible=False),
    _column("visit"),
    # Null only if a counted visit had no date performed, which the visit form does not allow.
    _column("day", nullable=True),
    _column("expression"),
    _column("metric"),
    # Null where the item was marked missing with a code: the code is then in missing_code.
    _column("value", nullable=True),
    _column("unit"),
    _column("engine_version"),
    # The photo's head pose (docs/metrics.md, "Head pose"): angles, not identifying; null for grades.
    _column("yaw_deg", nullable=True),
    _column("pitch_deg", nullable=True),
    _column("roll_deg", nullable=True),
    # Why an item has no value (patients.missing_codes): a code from a fixed list, never the typed reason.
    _column("missing_code", nullable=True, allowed=tuple(MissingCode.values)),
]


def _subjects(study: Study, filters: dict):
    """The subjects whose rows may appear, in subject_id order (the dataset's subjects table's rule)."""
    subjects = subjects_included(study)
    if filters.get("arm"):
        subjects = subjects.filter(arm__code=filters["arm"])
    return subjects.order_by("pseudonym__subject_id")


def _table_args(study: Study, filters: dict) -> dict:
    """outcome_table's expression and metric arguments for the filters (None: all)."""
    metric, expression = filters.get("metric"), filters.get("expression")
    metrics = [metric] if metric else None
    if expression and not metric:
        # Grades and study outcomes belong to the visit (empty expression): an expression filter leaves them out.
        metrics = [name for name, m in metric_definitions(study).items() if m.source == "photo"]
    return {"expressions": [expression] if expression else None, "metrics": metrics}


def _rows_by_subject(study: Study, window: list[tuple[int, str]], filters: dict, version, args) -> dict[str, list]:
    """{subject_id: its rows in our column order}, for the subjects of `window` ((pk, subject_id) pairs)."""
    keys = dict(window)
    table = outcome_table(study, patient_ids=list(keys), version=version, **args)
    # A day column that holds a missing value somewhere is float; days are whole numbers.
    table.rows["day_since_enrollment"] = (
        table.rows["day_since_enrollment"].map(lambda d: None if d is None or d != d else int(d)).astype(object)
    )
    visit, expression = filters.get("visit"), filters.get("expression")
    grouped: dict[str, list] = defaultdict(list)
    for row in long_rows(table, patient_key=keys.__getitem__):
        if (visit and row[_VISIT] != visit) or (expression and row[_EXPRESSION] != expression):
            continue
        grouped[row[0]].append(_REORDER(row))
    return grouped


def engine_version(study: Study) -> str | None:
    """analysis_engine_version, cached under analysis.cache's data stamp (which holds the newest score's
    id): it reads every score of the study (over a second at 10,000 subjects, docs/benchmarks.md) and
    would otherwise be paid by every JSON page. Scores are only ever added, so a new one renews the key."""
    key = f"dataset:engine-version:{study.pk}:{data_stamp(study)}"
    return cached(key, lambda: analysis_engine_version(study) or "") or None


def stream_rows(study: Study, filters: dict, ctx: ExportContext) -> Iterator[tuple]:
    """Every row, as tuples in column order, SLICE subjects at a time."""
    subjects = list(_subjects(study, filters).values_list("pk", "pseudonym__subject_id"))
    version = engine_version(study)
    args = _table_args(study, filters)
    for start in range(0, len(subjects), SLICE):
        window = subjects[start : start + SLICE]
        grouped = _rows_by_subject(study, window, filters, version, args)
        for _, subject_id in window:
            yield from grouped.get(subject_id, ())


_SUBJECT_ID = re.compile(r"s-[0-9a-f]{16}")


def encode_cursor(subject_id: str, skip: int) -> str:
    return base64.urlsafe_b64encode(f"{subject_id}:{skip}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, int]:
    """(first subject_id of the page, rows of that subject already sent); ("", 0) for the first page."""
    if not cursor:
        return "", 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        subject_id, skip = text.split(":")
        if not _SUBJECT_ID.fullmatch(subject_id) or not skip.isdigit():
            raise ValueError(text)
        return subject_id, int(skip)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None


def _row_bound(filters: dict, n_photo_metrics: int, n_visit_metrics: int):
    """Per subject, an upper bound of its rows: every current photo x photo metrics, every visit x visit metrics.

    Correlated subqueries, not a join and GROUP BY: PostgreSQL evaluates them for the page's
    candidates only (after the sort and LIMIT), not for every subject of the study.
    """
    photos = Photo.objects.filter(patient=OuterRef("pk"), is_current=True)
    visits = Visit.objects.filter(patient=OuterRef("pk"), status=RecordStatus.RECORDED)
    # A photo marked missing with a code has a row of its own (value null, the code in missing_code).
    coded_photos = MissingItem.objects.filter(
        visit__patient=OuterRef("pk"), item_kind=ItemKind.PHOTO, status=RecordStatus.RECORDED
    )
    if filters.get("expression"):
        photos = photos.filter(expression=filters["expression"])
        coded_photos = coded_photos.filter(item_code=filters["expression"])
    if filters.get("visit"):
        photos = photos.filter(visit__scheduled_visit__code=filters["visit"])
        visits = visits.filter(scheduled_visit__code=filters["visit"])
        coded_photos = coded_photos.filter(visit__scheduled_visit__code=filters["visit"])

    def count(queryset, by="patient"):
        counted = queryset.order_by().values(by).annotate(n=Count("*")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return (count(photos) + count(coded_photos, "visit__patient")) * n_photo_metrics + count(visits) * n_visit_metrics


def page_rows(study: Study, filters: dict, ctx: ExportContext, cursor: str | None, size: int):
    """One JSON page: (rows as tuples, next cursor or None), in a fixed number of queries.

    The first query picks the page's subjects (at most SLICE) from an upper bound of their
    row counts, so that a page of 10 rows does not build the outcome table of a hundred
    subjects; the outcome table of those subjects gives the rows. A page can hold fewer rows
    than asked (when the bound overcounts: photos not scored, values missing); `next` is
    null only at the end.
    """
    start, skip = decode_cursor(cursor)
    args = _table_args(study, filters)
    definitions = metric_definitions(study)
    chosen = args["metrics"] or list(definitions)
    n_photo = sum(definitions[m].source == "photo" for m in chosen if m in definitions)
    n_visit = 0 if filters.get("expression") else sum(definitions[m].source != "photo" for m in chosen)
    candidates = list(
        _subjects(study, filters)
        .filter(pseudonym__subject_id__gte=start)
        .annotate(bound=_row_bound(filters, n_photo, n_visit))
        .values_list("pk", "pseudonym__subject_id", "bound")[: SLICE + 1]
    )
    window: list[tuple[int, str]] = []
    expected = 0
    for pk, subject_id, bound in candidates[:SLICE]:
        window.append((pk, subject_id))
        expected += bound
        if expected >= skip + size:
            break
    grouped = _rows_by_subject(study, window, filters, engine_version(study), args) if window else {}
    out: list[tuple] = []
    for index, (_, subject_id) in enumerate(window):
        subject_rows = grouped.get(subject_id, [])
        offset = skip if subject_id == start else 0
        taken = subject_rows[offset : offset + size - len(out)]
        out += taken
        if len(out) == size:
            if offset + len(taken) < len(subject_rows):
                return out, encode_cursor(subject_id, offset + len(taken))
            following = window[index + 1 :] or candidates[len(window) : len(window) + 1]
            return out, encode_cursor(following[0][1], 0) if following else None
    beyond = candidates[len(window) : len(window) + 1]
    return out, encode_cursor(beyond[0][1], 0) if beyond else None


def present(row: tuple, ctx: ExportContext) -> dict[str, Any]:
    return dict(zip(SOURCE, row))


def dictionary_extra(study: Study) -> Iterator[dict[str, str]]:
    """The allowed values of `metric`, each with its label and unit (the study's own outcomes included)."""
    for entry in data_dictionary(metric_definitions(study).values()):
        if entry["variable"].startswith("metric="):
            yield entry


OUTCOMES = Table(
    name="outcomes",
    description="One row per subject x visit x expression x metric (long format): photo metrics, clinician "
    "grades and study-defined outcomes (these two with an empty expression).",
    columns=COLUMNS_OUT,
    inclusion="The rows the outcome tables count (docs/analysis.md, 'Which data count'): randomized subjects, "
    "recorded visits up to withdrawal, current photos scored by the newest engine version that passed the "
    "quality gates; oriented metrics only where the affected side is recorded; grades and study-defined "
    "outcomes of every recorded visit up to withdrawal; and every item the site marked missing with a code "
    "(value null, missing_code set).",
    present=present,
    filters=("arm", "visit", "expression", "metric"),
    stream=stream_rows,
    page=page_rows,
    dictionary_extra=dictionary_extra,
)
