"""Scoring benchmarks (make bench): per-photo cost of the pipeline against its floor and a naive pipeline.

Each stage runs in a fresh subprocess, so that its peak memory (ru_maxrss) is its own:
  a  the floor: one bare Face Mesh pass on an already decoded 1024-px array
  b  the whole pipeline as a worker runs it: stored file -> claim -> decode -> passes -> metrics -> saved scores
  c  a naive pipeline: decode at full resolution, build the model per photo, one pass
Targets (issue 3): b <= 1.5 x (PASSES x a); b at least 4x faster than c; worker peak RSS <= 600 MB.
Results are written to docs/benchmarks.md with the command and the machine.
"""

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTO_COUNT = 100
WIDTH, HEIGHT = 4032, 3024


def _photos(count: int, workdir: Path) -> list[Path]:
    """Generated 4032x3024 JPEGs of a face, each a little different (position and a commissure pull)."""
    from tests.imaging import large_photo_jpeg

    paths = []
    for i in range(count):
        path = workdir / f"photo-{i:03d}.jpg"
        if not path.exists():
            path.write_bytes(large_photo_jpeg(width=WIDTH, height=HEIGHT, variant=i))
        paths.append(path)
    return paths


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_a(paths: list[Path]) -> dict:
    import numpy as np
    from PIL import Image

    from measurements.engine.landmarks import get_face_mesh, run_mesh

    get_face_mesh()
    arrays = []
    for path in paths[:10]:
        with Image.open(path) as image:
            image.draft("RGB", (1024, 1024))
            image = image.convert("RGB")
            image.thumbnail((1024, 1024))
            arrays.append(np.asarray(image))
    run_mesh(arrays[0])  # warm-up
    times = []
    for i in range(len(paths)):
        rgb = arrays[i % len(arrays)]
        started = time.perf_counter()
        faces = run_mesh(rgb)
        times.append(time.perf_counter() - started)
        assert faces, "the floor pass found no face"
    return {"per_photo_ms": statistics.median(times) * 1000, "mean_ms": statistics.mean(times) * 1000}


def stage_b(paths: list[Path]) -> dict:
    """The worker's path, with the real database (PostgreSQL under make bench) and storage."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")
    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    from django.db import connection

    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        return _stage_b_run(paths, settings, test_db)
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


def _stage_b_run(paths, settings, test_db) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile

    from measurements import engine, services
    from measurements.models import Photo
    from patients import services as patient_services
    from patients.demo import seed_demo

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-media-")
    study, _ = seed_demo(patients_per_site=1)
    user = get_user_model().objects.get(username="coordinator.lon")
    patient = study.patients.filter(site__code="LON", status="enrolled").first()
    visit = patient.visits.first() or patient_services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(day_offset=0),
        by=user,
        date_performed=patient.enrollment_date,
    )
    # Store the photos directly (no queueing): the stage measures the worker, not the upload.
    photo_ids = []
    for i, path in enumerate(paths):
        data = path.read_bytes()
        photo = Photo(
            patient=patient,
            visit=visit,
            expression="smile_open",
            is_current=False,
            size_bytes=len(data),
            sha256=f"{i:064x}",
            uploaded_by=user,
            content_type="image/jpeg",
        )
        photo.original.save(path.name, ContentFile(data), save=False)
        photo.save()
        photo_ids.append(photo.pk)
    engine.load_models()  # what worker_process_init does
    times, outcomes = [], []
    for photo_id in photo_ids:
        started = time.perf_counter()
        outcomes.append(services.photo_score(photo_id=photo_id))
        times.append(time.perf_counter() - started)
    return {
        "per_photo_ms": statistics.median(times) * 1000,
        "mean_ms": statistics.mean(times) * 1000,
        "photos_per_second": len(times) / sum(times),
        "scored": outcomes.count("scored"),
        "outcomes": sorted(set(outcomes)),
        "passes": engine.PASSES,
        "database": test_db,
    }


def stage_c(paths: list[Path]) -> dict:
    import numpy as np
    from mediapipe.python.solutions import face_mesh
    from PIL import Image, ImageOps

    times = []
    for path in paths:
        started = time.perf_counter()
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
        with face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=2) as mesh:
            result = mesh.process(rgb)
        times.append(time.perf_counter() - started)
        assert result.multi_face_landmarks, "the naive pass found no face"
    return {"per_photo_ms": statistics.median(times) * 1000, "mean_ms": statistics.mean(times) * 1000}


STAGES = {"a": stage_a, "b": stage_b, "c": stage_c}


def run_stage(name: str, workdir: Path, count: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--workdir", str(workdir), "--count", str(count)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {system}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=sorted(STAGES))
    parser.add_argument("--workdir")
    parser.add_argument("--count", type=int, default=PHOTO_COUNT)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()

    if args.stage:
        paths = _photos(args.count, Path(args.workdir))
        result = STAGES[args.stage](paths)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="bench-photos-"))
    print(f"Generating {args.count} photos of {WIDTH}x{HEIGHT} in {workdir} ...", flush=True)
    _photos(args.count, workdir)
    results = {}
    for name in "abc":
        print(f"Stage {name} ...", flush=True)
        results[name] = run_stage(name, workdir, args.count)
        print(f"  {results[name]}", flush=True)

    a, b, c = results["a"], results["b"], results["c"]
    passes = b["passes"]
    floor_budget = 1.5 * passes * a["per_photo_ms"]
    checks = [
        ("(b) <= 1.5 x (passes x (a)), ms", b["per_photo_ms"], floor_budget, b["per_photo_ms"] <= floor_budget),
        (
            "(c) / (b), at least 4",
            c["per_photo_ms"] / b["per_photo_ms"],
            4.0,
            c["per_photo_ms"] >= 4 * b["per_photo_ms"],
        ),
        ("worker peak RSS in (b), MB, at most 600", b["peak_rss_mb"], 600.0, b["peak_rss_mb"] <= 600),
    ]
    stages = [
        ("a", "floor: one bare Face Mesh pass on a decoded 1024-px array", a),
        ("b", f"whole pipeline, stored file to saved scores ({passes} model passes)", b),
        ("c", "naive: full-resolution decode, model built per photo, one pass", c),
    ]
    command = "make bench" if os.environ.get("MAKELEVEL") else "python scripts/bench.py"
    database = "PostgreSQL" if "postgres" in os.environ.get("DATABASE_URL", "") else "SQLite"
    lines = [
        "# Benchmarks",
        "",
        "Scoring cost per photo in one worker process. Regenerate with `make bench` (runs `python scripts/bench.py`).",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, command `{command}`",
        f"- Machine: {machine()}",
        f"- Photos: {args.count} generated {WIDTH}x{HEIGHT} JPEGs (tests/imaging.py `large_photo_jpeg`)",
        f"- Database for (b): {database}; storage: local files through Django's storage API",
        "",
        "| stage | what | median ms / photo | mean ms / photo | peak RSS MB |",
        "|---|---|---:|---:|---:|",
    ]
    for name, what, r in stages:
        lines.append(f"| {name} | {what} | {r['per_photo_ms']:.1f} | {r['mean_ms']:.1f} | {r['peak_rss_mb']:.0f} |")
    lines += [
        "",
        f"Throughput of (b): **{b['photos_per_second']:.2f} photos per second per worker process** "
        f"({b['scored']} of {args.count} scored; outcomes {', '.join(b['outcomes'])}).",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|---|",
    ]
    lines_after_checks = [
        "",
        "## Reading these numbers",
        "",
        "- (a) is one complete MediaPipe Face Mesh call (detector and landmark model) on a 1024-px array.",
        "- (b) counts every model run of the engine: one face-detector run and 16 landmark passes on",
        "  192-px crops (8 mirror pairs). Around them: the JPEG decode in draft mode, the crop warps,",
        "  the metrics, and the worker's database work (claim, score row, status, audit row).",
        "- (c) is cheap on this machine because MediaPipe resizes internally and builds its graph in a",
        "  few tens of milliseconds; its cost is mostly the full-resolution decode.",
        "- Averaging 16 passes is what keeps the commissure deviation within 0.3 mm under rotation,",
        "  halving and re-encoding (tests/engine/test_precision.py); a pipeline 4x faster than (c)",
        "  leaves room for about two passes, whose spread is several times larger. See docs/metrics.md.",
    ]
    for label, measured, limit, ok in checks:
        lines.append(f"| {label} | {measured:.2f} | {limit:.2f} | {'yes' if ok else '**no**'} |")
    lines += lines_after_checks
    lines.append("")
    Path(args.output).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
