"""The anonymized outcomes dataset at scale (make bench): CSV streaming against PostgreSQL's COPY.

Builds, in a throw-away PostgreSQL database, a study of 10,000 subjects x 4 visits x 8
expressions with the engine's 34 metrics per photo (about 11 million stored values; rows
only, written with COPY FROM, no images). Then, in one run:

- PostgreSQL's own `COPY (SELECT ...) TO STDOUT WITH CSV` of the same long rows (the same
  inclusion rules, the same oriented metrics and grades, computed in SQL; no ORDER BY, so
  the cheapest form) into /dev/null: the floor;
- `GET /api/v1/studies/{code}/dataset/?format=csv` through Django (session of an
  investigator), its streamed body read to the end, in a child process whose peak memory
  growth is its own;
- JSON pages of 10, 100 and 1,000 rows: queries per page.

Targets (issue 8): CSV rate >= 30% of COPY's, peak memory growth < 100 MB, the same number
of queries for every page size. Results go to docs/benchmarks.md, section "dataset".
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.benchdoc import machine, write_section  # noqa: E402

SUBJECTS = 10_000
VISITS = ("baseline", "week-2", "week-4", "week-12")
CODE = "BENCHDS"
DATABASE = "test_bench_dataset"
PAGE_SIZES = (10, 100, 1000)


def _setup_django():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")
    django.setup()


def _copy_in(model, rows, *, batch: int = 50_000) -> None:
    """COPY FROM STDIN: rows are dicts by attname; absent fields take the field's default."""
    from django.db import connection
    from django.db.models import JSONField

    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.is_relation]
    now = datetime.now().astimezone()
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            defaults[f.attname] = now
        else:
            defaults[f.attname] = f.get_default()  # "" for a blank string field, None where null is allowed
    columns = ", ".join(f'"{f.column}"' for f in fields)
    sql = f"COPY \"{model._meta.db_table}\" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"

    def cell(f, value):
        if value is None:
            return "\\N"
        if isinstance(f, JSONField):
            return json.dumps(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    pending = 0
    with connection.cursor() as cursor:
        for row in rows:
            writer.writerow([cell(f, row.get(f.attname, defaults[f.attname])) for f in fields])
            pending += 1
            if pending == batch:
                buffer.seek(0)
                cursor.cursor.copy_expert(sql, buffer)
                buffer, pending = io.StringIO(), 0
                writer = csv.writer(buffer, lineterminator="\n")
        if pending:
            buffer.seek(0)
            cursor.cursor.copy_expert(sql, buffer)


def generate(subjects: int, seed: int = 1) -> int:
    """The study's rows: services for the set-up, bulk rows for everything that scales."""
    import numpy as np

    from measurements.engine import ENGINE_VERSION, METRIC_DEFINITIONS
    from measurements.models import Expression, Photo, PhotoScore
    from patients.models import Patient, PatientIdentifiers, Visit
    from patients.pseudonyms import pseudonyms_ensure
    from scripts.benchdata import bulk_study

    rng = np.random.default_rng(seed)
    study, user, schedule, enrolled = bulk_study(CODE, "Dataset benchmark", subjects)
    ids = list(Patient.objects.filter(study=study).order_by("pk").values_list("pk", flat=True))
    ages = rng.integers(18, 80, size=len(ids))
    PatientIdentifiers.objects.bulk_create(
        [
            PatientIdentifiers(
                patient_id=pk,
                full_name="Bench",
                medical_record_number=f"B{pk}",
                date_of_birth=enrolled - timedelta(days=int(365.25 * age) + 30),
            )
            for pk, age in zip(ids, ages)
        ],  # fmt: skip
        batch_size=5000,
    )
    pseudonyms_ensure(study=study)
    _copy_in(
        Visit,
        (
            {
                "patient_id": pk,
                "scheduled_visit_id": schedule[c].pk,
                "house_brackmann": 3,
                "sunnybrook_composite": 70,
                "date_performed": enrolled + timedelta(days=schedule[c].day_offset),
                "created_by_id": user.pk,
            }
            for pk in ids
            for c in VISITS
        ),  # fmt: skip
    )
    visits = list(Visit.objects.filter(patient__study=study).order_by("pk").values_list("pk", "patient_id"))
    expressions = list(Expression.values)
    _copy_in(
        Photo,
        (
            {
                "patient_id": patient_id,
                "visit_id": visit_id,
                "expression": e,
                "original": f"bench/{visit_id}-{e}",
                "size_bytes": 1,
                "sha256": f"{visit_id:032d}{i:032d}",
                "status": "scored",
                "uploaded_by_id": user.pk,
                "is_current": True,
            }
            for visit_id, patient_id in visits
            for i, e in enumerate(expressions)
        ),  # fmt: skip
    )
    photo_ids = list(Photo.objects.filter(patient__study=study).order_by("pk").values_list("pk", flat=True))
    names = [d.name for d in METRIC_DEFINITIONS]

    def scores():
        for start in range(0, len(photo_ids), 10_000):
            chunk = photo_ids[start : start + 10_000]
            values = rng.normal(10, 3, size=(len(chunk), len(names))).round(3)
            for pk, row in zip(chunk, values.tolist()):
                yield {"photo_id": pk, "engine_version": ENGINE_VERSION, "model_version": "bench", "status": "scored",
                       "mm_per_px": 0.1, "metrics": dict(zip(names, row)), "landmarks": []}  # fmt: skip

    _copy_in(PhotoScore, scores())
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return study.pk


def copy_sql(study) -> tuple[str, int]:
    """The outcomes table's rows, computed by PostgreSQL alone, and how many there are.

    Rows: randomized subjects; recorded visits not after withdrawal; current photos whose
    score under the study's newest engine version passed; every photo metric (oriented ones
    by the affected side, as analysis.metrics.oriented_values); grades and the study's own
    outcomes once per visit. The fixture has no study-defined outcome, no failed photo and
    no withdrawal, so the SQL leaves out what would only match those.
    """
    from django.db import connection

    from analysis.metrics import ANALYSIS_METRICS, GRADE_METRIC_NAMES
    from analysis.selectors import analysis_engine_version
    from measurements.engine.metrics import MIN_RATIO_DENOMINATOR

    def num(key: str) -> str:
        return f"(s.metrics->>'{key}')::float8"

    photo_values = []
    for m in ANALYSIS_METRICS:
        if m.source != "photo":
            continue
        if m.orientation is None:
            expr = num(m.name)
        else:
            right, left, sign, role = m.orientation
            affected = f"CASE p.affected_side WHEN 'left' THEN {num(left)} WHEN 'right' THEN {num(right)} END"
            unaffected = f"CASE p.affected_side WHEN 'left' THEN {num(right)} WHEN 'right' THEN {num(left)} END"
            expr = {
                "affected": affected,
                "unaffected": unaffected,
                # analysis.metrics.oriented_values: undefined over a near-zero unaffected value.
                "ratio": f"CASE WHEN ({unaffected}) >= {MIN_RATIO_DENOMINATOR} THEN ({affected}) / ({unaffected}) END",
            }.get(role, f"{sign} * (({affected}) - ({unaffected}))")
        photo_values.append(f"('{m.name}', {expr}, '{m.unit}')")
    grade_values = [f"('{name}', v.{name}::float8, '{m.unit}')" for m in ANALYSIS_METRICS for name in [m.name]
                    if name in GRADE_METRIC_NAMES]  # fmt: skip
    version = analysis_engine_version(study) or ""
    assert re.fullmatch(r"[0-9A-Za-z.+-]*", version), version  # written into the SQL below
    base = f"""
        FROM patients_visit v
        JOIN patients_patient p ON p.id = v.patient_id
        JOIN patients_subjectpseudonym sp ON sp.patient_id = p.id
        JOIN patients_treatmentarm a ON a.id = p.arm_id
        JOIN patients_scheduledvisit sv ON sv.id = v.scheduled_visit_id
        WHERE p.study_id = {int(study.pk)} AND p.enrollment_date IS NOT NULL AND v.status = 'recorded'
          AND (p.withdrawn_on IS NULL OR v.date_performed <= p.withdrawn_on)
    """
    sql = f"""
        SELECT sp.subject_id, a.code, sv.code, v.date_performed - p.enrollment_date, ph.expression,
               m.name, m.value, m.unit, sc.engine_version
        {
        base.replace(
            "WHERE",
            '''
        JOIN measurements_photo ph ON ph.visit_id = v.id AND ph.is_current
        JOIN measurements_photoscore sc ON sc.photo_id = ph.id AND sc.status = 'scored'
                                        AND sc.engine_version = '{version}'
        CROSS JOIN LATERAL (SELECT sc.metrics) AS s(metrics)
        CROSS JOIN LATERAL (VALUES {photo}) AS m(name, value, unit)
        WHERE m.value IS NOT NULL AND''',
        )
        .replace("{photo}", ", ".join(photo_values))
        .replace("{version}", version)
    }
        UNION ALL
        SELECT sp.subject_id, a.code, sv.code, v.date_performed - p.enrollment_date, '',
               m.name, m.value, m.unit, ''
        {
        base.replace(
            "WHERE",
            "CROSS JOIN LATERAL (VALUES "
            + ", ".join(grade_values)
            + ''') AS m(name, value, unit)
        WHERE m.value IS NOT NULL AND''',
        )
    }
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS rows")
        (count,) = cursor.fetchone()
    return sql, count


def measure_copy(study_pk: int) -> dict:
    from django.db import connection

    from patients.models import Study

    sql, count = copy_sql(Study.objects.get(pk=study_pk))
    with connection.cursor() as cursor, open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        cursor.cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH CSV", sink)
        seconds = time.perf_counter() - started
        copied = cursor.cursor.rowcount
    return {"copy_rows": copied, "copy_count": count, "copy_seconds": seconds}


def measure_pages(study_pk: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from patients.models import Study, StudyRole

    study = Study.objects.get(pk=study_pk)
    user, _ = get_user_model().objects.get_or_create(username="bench-investigator")
    StudyRole.objects.get_or_create(user=user, study=study, role=StudyRole.Role.INVESTIGATOR)
    client = Client()
    client.force_login(user)
    client.get(f"/api/v1/studies/{study.code}/dataset/", {"page_size": 1}, secure=True)  # imports, as above
    out = {}
    for size in PAGE_SIZES:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(f"/api/v1/studies/{study.code}/dataset/", {"page_size": size}, secure=True)
            seconds = time.perf_counter() - started
        assert response.status_code == 200, response.content[:500]
        out[str(size)] = {"queries": len(queries), "rows": len(response.json()["results"]), "ms": seconds * 1000}
    return out


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> None:
    """Restart the high-water mark (VmHWM) at the current resident set (Linux 4.0+).

    Not getrusage's ru_maxrss: a process started by fork and exec inherits its parent's peak
    there, so the parent's generated rows would count as the child's memory.
    """
    Path("/proc/self/clear_refs").write_text("5")


def stream_child(study_pk: int) -> dict:
    """In its own process: the CSV endpoint's body, read to the end; time, rows, bytes, peak memory growth."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from patients.models import Study, StudyRole

    study = Study.objects.get(pk=study_pk)
    user, _ = get_user_model().objects.get_or_create(username="bench-investigator")
    StudyRole.objects.get_or_create(user=user, study=study, role=StudyRole.Role.INVESTIGATOR)
    client = Client()
    client.force_login(user)
    # A running server has its modules imported (pandas, statsmodels' dependencies): one small
    # page first, so that neither the time nor the memory growth counts the imports.
    assert client.get(f"/api/v1/studies/{study.code}/dataset/", {"page_size": 1}, secure=True).status_code == 200
    _reset_peak()
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/api/v1/studies/{study.code}/dataset/", {"format": "csv"}, secure=True)
    lines = size = 0
    for piece in response.streaming_content:
        lines += piece.count(b"\n")
        size += len(piece)
    seconds = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    return {"csv_rows": lines - 1, "csv_bytes": size, "csv_seconds": seconds, "csv_peak_growth_mb": peak - before}


def run(subjects: int) -> dict:
    _setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = DATABASE
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        study_pk = generate(subjects)
        result: dict = {"generate_s": time.perf_counter() - started, "subjects": subjects}
        result.update(measure_copy(study_pk))
        result["pages"] = measure_pages(study_pk)
        connection.close()
        child = subprocess.run(
            [sys.executable, __file__, "--stream-child", str(study_pk)],
            cwd=ROOT, check=True, capture_output=True, text=True,
            env={**os.environ, "BENCH_DATABASE_NAME": test_db},
        ).stdout  # fmt: skip
        result.update(json.loads(child.strip().splitlines()[-1]))
        return result
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


def report(r: dict) -> str:
    copy_rate = r["copy_rows"] / r["copy_seconds"]
    csv_rate = r["csv_rows"] / r["csv_seconds"]
    ratio = csv_rate / copy_rate
    pages = r["pages"]
    queries = {p["queries"] for p in pages.values()}
    checks = [
        ("CSV rate / COPY rate >= 0.30", f"{ratio:.2f}", ratio >= 0.30),
        ("CSV peak memory growth < 100 MB", f"{r['csv_peak_growth_mb']:.0f} MB", r["csv_peak_growth_mb"] < 100),
        ("same rows as COPY", f"{r['csv_rows']:,} / {r['copy_rows']:,}", r["csv_rows"] == r["copy_rows"]),
        ("JSON page queries the same for every size", " / ".join(str(p["queries"]) for p in pages.values()),
         len(queries) == 1),
    ]  # fmt: skip
    lines = [
        "## Anonymized dataset: the outcomes table",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python scripts/bench_dataset.py` (in `make bench`)",
        f"- Machine: {machine()}",
        "",
        f"{r['subjects']:,} subjects x {len(VISITS)} visits x 8 expressions, the engine's 34 metrics per photo "
        f"(rows only, written with COPY FROM in {r['generate_s']:.0f} s). The outcomes table has "
        f"{r['csv_rows']:,} rows: per photo, the 26 stored metrics that count plus the 24 oriented to the affected "
        "side; per visit, two clinician grades.",
        "",
        "| measure | rows | seconds | rows/s |",
        "|---|---:|---:|---:|",
        f"| PostgreSQL `COPY (SELECT ...) TO STDOUT WITH CSV` into /dev/null | {r['copy_rows']:,} | "
        f"{r['copy_seconds']:.1f} | {copy_rate:,.0f} |",
        f"| `GET .../dataset/?format=csv` through Django, body read to the end | {r['csv_rows']:,} | "
        f"{r['csv_seconds']:.1f} | {csv_rate:,.0f} |",
        "",
        f"CSV body {r['csv_bytes'] / 1e6:,.0f} MB; peak memory growth of the streaming process "
        f"{r['csv_peak_growth_mb']:.0f} MB.",
        "",
        "| JSON page size | rows returned | queries | ms |",
        "|---:|---:|---:|---:|",
        *(f"| {size} | {p['rows']} | {p['queries']} | {p['ms']:.0f} |" for size, p in pages.items()),
        "",
        "| target | measured | met |",
        "|---|---:|---|",
        *(f"| {label} | {value} | {'yes' if ok else '**no**'} |" for label, value, ok in checks),
        "",
        "Reading these numbers:",
        "",
        "- The COPY computes the same rows in SQL (oriented metrics by CASE on the affected side, grades by a",
        "  LATERAL VALUES), unordered: the cheapest form PostgreSQL has. The endpoint sorts by subject, reads",
        "  100 subjects per outcome table (analysis.selectors, five queries, values oriented with pandas) and",
        "  writes every row in Python (analysis.long_format.long_rows): the ratio is the cost of one definition of",
        "  the rows, shared with the outcome tables.",
        "- Memory growth is the process's peak resident set (VmHWM, reset just before) minus its resident set",
        "  before the request, in a process that has served one small page first (imports not counted, as in a",
        "  running server).",
        "- A JSON page's time grows with the study, not with the page: each page computes k over every",
        "  subject's quasi-identifiers. The pages above come after a warm-up page.",
        "- Timings are from a 2-core machine shared with other sessions; expect noise of a factor of 2.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=SUBJECTS)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--no-write", action="store_true", help="print only (for a smaller trial run)")
    args = parser.parse_args()
    result = run(args.subjects)
    print(json.dumps(result))  # the raw numbers, for the record
    text = report(result)
    print(text)
    if not args.no_write:
        write_section(Path(args.output), "dataset", text)
    ok = result["csv_rows"] / result["csv_seconds"] >= 0.3 * result["copy_rows"] / result["copy_seconds"]
    return 0 if ok and result["csv_peak_growth_mb"] < 100 else 1


if __name__ == "__main__" and "--stream-child" in sys.argv:
    _setup_django()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.DATABASES["default"]["NAME"] = os.environ["BENCH_DATABASE_NAME"]
    print(json.dumps(stream_child(int(sys.argv[-1]))))
elif __name__ == "__main__":
    sys.exit(main())
