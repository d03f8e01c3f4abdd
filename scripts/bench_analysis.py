"""Outcome analysis benchmark (python scripts/bench_analysis.py; part of make bench).

Generates 10,000 patients, 40,000 visits and 80,000 scored photos (two expressions per visit,
the engine's full metric set; rows only, no images) in a throw-away PostgreSQL database, then
measures in one run: the single SQL query that fetches the summary's rows (the floor), the
summary cold and warm (cached), the query count at 100 and at 10,000 patients, and the peak
memory growth of streaming one million rows of the long-format CSV.
Targets (issue 7): cold <= 3 x floor; warm < 30 ms; the same query count at both sizes;
CSV streaming peak growth < 100 MB.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATIENTS, SMALL_PATIENTS = 10_000, 100
VISITS = ("baseline", "week-2", "week-4", "week-12")
EXPRESSIONS = ("smile_closed", "rest")
METRIC = "commissure_height_deviation_mm"
CSV_ROWS = 1_000_000


def _setup_django():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")
    django.setup()


def generate(code: str, patients: int, seed: int = 1) -> int:
    """Rows only, through bulk_create: the benchmark measures reading, not the services' writes."""
    import numpy as np

    from measurements.engine import METRIC_DEFINITIONS
    from measurements.models import Photo, PhotoScore
    from patients.models import Patient, Visit
    from scripts.benchdata import bulk_study

    rng = np.random.default_rng(seed)
    study, user, schedule, enrolled = bulk_study(code, "Benchmark", patients)
    patient_rows = list(Patient.objects.filter(study=study).order_by("pk"))
    visits = [
        Visit(patient=p, scheduled_visit=schedule[c], date_performed=enrolled + timedelta(days=schedule[c].day_offset),
              house_brackmann=3, created_by=user)
        for p in patient_rows for c in VISITS
    ]  # fmt: skip
    Visit.objects.bulk_create(visits, batch_size=5000)
    visits = list(Visit.objects.filter(patient__study=study).order_by("pk").values_list("pk", "patient_id"))
    photos = [
        Photo(patient_id=patient_id, visit_id=visit_id, expression=e, original=f"bench/{code}/{visit_id}-{e}",
              size_bytes=1, sha256=f"{code}-{visit_id}-{e}".ljust(64, "0")[:64], status="scored", uploaded_by=user)
        for visit_id, patient_id in visits for e in EXPRESSIONS
    ]  # fmt: skip
    Photo.objects.bulk_create(photos, batch_size=5000)
    photo_ids = list(Photo.objects.filter(patient__study=study).values_list("pk", flat=True))
    names = [d.name for d in METRIC_DEFINITIONS]
    values = rng.normal(3, 1, size=(len(photo_ids), len(names))).round(3)
    scores = [
        PhotoScore(photo_id=pk, engine_version="1.1.0", model_version="bench", status="scored", mm_per_px=0.1,
                   metrics=dict(zip(names, map(float, row), strict=True)), landmarks=[])
        for pk, row in zip(photo_ids, values, strict=True)
    ]  # fmt: skip
    PhotoScore.objects.bulk_create(scores, batch_size=5000)
    return study.pk


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def measure(study_pk: int, small_pk: int) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analysis.metrics import engine_inputs
    from analysis.selectors import analysis_engine_version, rows_queryset
    from analysis.summary import outcome_summary
    from patients.models import Patient, Study

    study, small = Study.objects.get(pk=study_pk), Study.objects.get(pk=small_pk)
    version = analysis_engine_version(study)
    qs = rows_queryset(study, expressions=[EXPRESSIONS[0]], keys=engine_inputs([METRIC]), version=version,
                       patients=Patient.objects.filter(study=study))  # fmt: skip
    sql, params = qs.query.sql_with_params()

    def floor():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    floor_ms = _best(floor, 3)
    args = {"metric": METRIC, "expression": EXPRESSIONS[0]}

    def cold(which):
        cache.clear()
        outcome_summary(which, **args)

    cold_ms = _best(lambda: cold(study), 3)  # best of three, as the floor
    from analysis import statistics as st
    from analysis.selectors import outcome_table
    from analysis.summary import values_frame

    frame = values_frame(outcome_table(study, expressions=[EXPRESSIONS[0]], metrics=[METRIC]), METRIC)
    mixed_ms = _best(lambda: st.mixed_model(frame, baseline_visit="baseline", visit_order=list(VISITS)), 3)
    table_ms = _best(lambda: outcome_table(study, expressions=[EXPRESSIONS[0]], metrics=[METRIC]), 3)
    warm_ms = _best(lambda: outcome_summary(study, **args), 5)
    counts = {}
    for name, which in (("small", small), ("large", study)):
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            outcome_summary(which, **args)
        counts[name] = len(queries)
    return {
        "floor_ms": floor_ms,
        "cold_ms": cold_ms,
        "mixed_ms": mixed_ms,
        "table_ms": table_ms,
        "warm_ms": warm_ms,
        "queries_100": counts["small"],
        "queries_10000": counts["large"],
        "rows": qs.count(),
    }


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stream_csv_child(study_pk: int) -> dict:
    """In its own process (its peak memory is its own): stream CSV_ROWS rows of the long dataset."""
    from analysis.downloads import stream_csv
    from analysis.long_format import COLUMN_NAMES, study_rows
    from patients.models import Study

    study = Study.objects.get(pk=study_pk)
    codes = dict(study.patients.values_list("pk", "study_code"))
    before = _current_rss_mb()
    started = time.perf_counter()
    written = 0
    # The process's lifetime peak (ru_maxrss) includes the imports' transient peak, so the
    # resident set is sampled while streaming instead.
    peak = before
    with open(os.devnull, "w") as sink:
        for line in stream_csv(COLUMN_NAMES, study_rows(study, patient_key=codes.__getitem__)):
            sink.write(line)
            written += 1
            if written % 5000 == 0:
                peak = max(peak, _current_rss_mb())
            if written > CSV_ROWS:
                break
    seconds = time.perf_counter() - started
    peak = max(peak, _current_rss_mb())
    return {"csv_rows": written - 1, "csv_seconds": seconds, "csv_peak_growth_mb": peak - before}


def run() -> dict:
    """Create the database, generate, measure, stream in a child, drop the database."""
    _setup_django()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        small_pk = generate("BENCHS", SMALL_PATIENTS, seed=2)
        study_pk = generate("BENCH", PATIENTS)
        generated_s = time.perf_counter() - started
        # What autovacuum does to a live database after a bulk load: fresh planner statistics.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        result = measure(study_pk, small_pk)
        connection.close()
        child = subprocess.run(
            [sys.executable, __file__, "--csv-child", str(study_pk)],
            cwd=ROOT, check=True, capture_output=True, text=True,
            env={**os.environ, "BENCH_DATABASE_NAME": test_db},
        ).stdout  # fmt: skip
        result.update(json.loads(child.strip().splitlines()[-1]))
        result["generate_s"] = generated_s
        return result
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


def report(r: dict) -> list[str]:
    checks = [
        ("summary cold <= 3 x floor, ms", r["cold_ms"], 3 * r["floor_ms"], r["cold_ms"] <= 3 * r["floor_ms"]),
        ("summary warm (cached) < 30 ms", r["warm_ms"], 30.0, r["warm_ms"] < 30),
        ("queries at 100 patients == at 10,000", r["queries_10000"], r["queries_100"],
         r["queries_10000"] == r["queries_100"]),
        ("CSV streaming peak growth < 100 MB", r["csv_peak_growth_mb"], 100.0, r["csv_peak_growth_mb"] < 100),
    ]  # fmt: skip
    lines = [
        "## Outcome analysis",
        "",
        f"{PATIENTS:,} patients, {PATIENTS * len(VISITS):,} visits, {PATIENTS * len(VISITS) * len(EXPRESSIONS):,} "
        f"scored photos with the engine's full metric set (rows only; generated in {r['generate_s']:.0f} s).",
        f"Summary of `{METRIC}`, `{EXPRESSIONS[0]}`, all sites; the floor is the one SQL query that fetches its "
        f"{r['rows']:,} rows (`analysis.selectors.rows_queryset`), executed and fetched.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| floor: the rows query, ms | {r['floor_ms']:.0f} |",
        f"| summary cold (cache cleared), ms | {r['cold_ms']:.0f} |",
        f"| of which: the outcome table (engine version, rows query, rows built), ms | {r['table_ms']:.0f} |",
        f"| of which: the mixed model (analysis.mixed_model), ms | {r['mixed_ms']:.0f} |",
        f"| summary warm (cached), ms | {r['warm_ms']:.1f} |",
        f"| queries, 100 patients / 10,000 patients | {r['queries_100']} / {r['queries_10000']} |",
        f"| long CSV: rows streamed, seconds | {r['csv_rows']:,}, {r['csv_seconds']:.0f} |",
        f"| long CSV: peak memory growth, MB | {r['csv_peak_growth_mb']:.0f} |",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|---|",
    ]
    for label, measured, limit, ok in checks:
        lines.append(f"| {label} | {measured:.1f} | {limit:.1f} | {'yes' if ok else '**no**'} |")
    return lines + [
        "",
        "Reading these numbers:",
        "",
        "- Cold is the engine-version query, the rows query, building the table with pandas, the statistics",
        "  per visit and the mixed model. The mixed model is fitted through the random intercept's closed form",
        "  (analysis/mixed_model.py, checked against statsmodels MixedLM in tests/analysis/test_mixed_model.py);",
        "  MixedLM itself took 27.6 s here at 10,000 patients (2026-11-30), as its optimizer solves a system per",
        "  patient in Python at every step. The rows are built from the query's result with pandas, not a dict",
        "  per row (3.1 s before, without the mixed model).",
        "- The generated database is vacuumed and analysed before measuring, as autovacuum keeps a live one.",
        "- Warm is one stamp query (primary-key look-ups) and the cache read.",
        "- The long CSV is read 100 patients at a time; memory growth is the largest resident set sampled",
        "  while streaming, minus the resident set before.",
        "- Timings are from a 2-core machine shared with other sessions; expect noise of a factor of 2.",
        "",
    ]


if __name__ == "__main__" and "--csv-child" in sys.argv:
    sys.path.insert(0, str(ROOT))
    _setup_django()
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = os.environ["BENCH_DATABASE_NAME"]
    print(json.dumps(stream_csv_child(int(sys.argv[-1]))))

if __name__ == "__main__" and "--run" in sys.argv:
    sys.path.insert(0, str(ROOT))
    print(json.dumps(run()))


def run_in_subprocess() -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--run"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from scripts.benchdoc import write_section

    print("Outcome analysis ...", flush=True)
    lines = report(run_in_subprocess())
    write_section(ROOT / "docs" / "benchmarks.md", "analysis", "\n".join(lines))
    print("\n".join(lines))
    return 0 if all("**no**" not in line for line in lines) else 1


if __name__ == "__main__" and "--run" not in sys.argv and "--csv-child" not in sys.argv:
    sys.exit(main())
