"""Scoring the demo's waiting photos on several cores (`make run`, `manage.py seed_demo`).

Only where tasks run in-process (no broker): the processes run the scoring task's own body, so a
photo is claimed, scored and its derived images built exactly as a worker would.

Stopping half-way loses nothing and scores nothing twice (tests/analysis/test_demo_background_scoring.py):
- one run at a time: a run holds an exclusive lock on a file beside the demo database, which the
  operating system releases however the run ends (Ctrl-C, a kill, a crash);
- so a run that gets the lock knows every photo still "scoring" was claimed by a run that is gone,
  and gives it back to the queue before it starts (a claim is otherwise only taken over after the
  task's time limit, and the demo has no sweep to do it);
- a photo is marked scored in the same transaction that writes its score (measurements.services),
  so a killed process leaves it either scored or waiting, never half; its derived images, built
  after, are completed on the next run if the kill came in between;
- Ctrl-C reaches the parent only (the processes ignore it): it stops the processes and gives back
  the photos they held, at once.

Importing nothing from Django at the top: the scoring processes are spawned, and a spawned process
imports this module to find its functions before Django is set up in it.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

INTERRUPTED = "The demo's scoring stopped before this photo was done; it is scored when the demo runs again."


class ScoringAlreadyRunning(Exception):
    pass


@dataclass
class ScoringRun:
    total: int  # the study's photos
    done_before: int  # scored or failed before this run
    scored: int = 0  # in this run
    failed: int = 0
    released: int = 0  # left "scoring" by a run that is gone, given back before starting
    seconds: float = 0.0
    jobs: int = 1

    @property
    def done(self) -> int:
        return self.done_before + self.scored + self.failed


def default_jobs() -> int:
    """Every core but one, which stays free for the web server (at least one)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _lock_path(study_code: str) -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "demo" / f"scoring-{study_code}.lock"


@contextlib.contextmanager
def scoring_lock(study_code: str) -> Iterator[None]:
    path = _lock_path(study_code)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScoringAlreadyRunning(
                f"Another process is scoring the photos of {study_code} (it holds {path})."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _scoring_process_start() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops us and releases our photos
    import django

    django.setup()
    from measurements import engine

    engine.load_models()  # once per process, as a worker does


def _score_one(photo_id: int) -> str:
    from measurements.tasks import score_photo

    # The task's own body, run here: score, then the preview, thumbnail and overlay.
    return str(score_photo.apply(args=(photo_id,)).result)


def _derive_one(photo_id: int) -> str:
    from measurements.services import photo_derive_images

    photo_derive_images(photo_id=photo_id)
    return "derived"


def _release_claims(study) -> int:
    """Give back every photo of the study still marked as being scored (only called under the lock)."""
    from measurements.models import Photo
    from measurements.services import photo_release

    held = list(Photo.objects.filter(patient__study=study, status=Photo.Status.PROCESSING).values_list("pk", flat=True))
    for photo_id in held:
        photo_release(photo_id=photo_id, error=INTERRUPTED)
    return len(held)


def _missing_derived_images(study) -> list[int]:
    """Finished photos whose last derived image (the overlay, or the thumbnail without landmarks) is
    missing: a run killed between scoring a photo and drawing its images."""
    from django.core.files.storage import default_storage

    from measurements import engine
    from measurements.models import Photo, PhotoScore
    from measurements.selectors import derived_image_name

    finished = Photo.objects.filter(patient__study=study, status__in=[Photo.Status.SCORED, Photo.Status.FAILED])
    with_overlay = {
        score.photo_id: score
        for score in PhotoScore.objects.filter(photo__in=finished, engine_version=engine.ENGINE_VERSION)
        .exclude(landmarks=[])
        .only("photo_id", "engine_version")
    }
    missing = []
    for photo in finished.only("pk", "sha256"):
        score = with_overlay.get(photo.pk)
        last = derived_image_name(photo, "overlay", score) if score else derived_image_name(photo, "thumbnail")
        if not default_storage.exists(last):
            missing.append(photo.pk)
    return missing


def scoring_counts(study) -> tuple[int, int]:
    """(done, total): the study's photos scored or failed, and all of them."""
    from django.db.models import Count, Q

    from measurements.models import Photo

    counts = Photo.objects.filter(patient__study=study).aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(status__in=[Photo.Status.SCORED, Photo.Status.FAILED]))
    )
    return counts["done"], counts["total"]


def score_waiting(*, study, jobs: int, progress: Callable[[ScoringRun], None] | None = None) -> ScoringRun:
    """Score every photo of the study that waits, with `jobs` fresh processes; resumable.

    A photo one of them cannot score stays waiting (the task's own error handling releases it).
    Raises ScoringAlreadyRunning when another run holds the study's lock.
    """
    from django.db import connections

    from measurements.models import Photo

    with scoring_lock(study.code):
        released = _release_claims(study)
        done, total = scoring_counts(study)
        run = ScoringRun(total=total, done_before=done, released=released, jobs=jobs)
        waiting = list(
            Photo.objects.filter(patient__study=study, status=Photo.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        unfinished = _missing_derived_images(study)
        if progress:
            progress(run)
        if not waiting and not unfinished:
            return run
        started = time.monotonic()
        connections.close_all()  # the children open their own
        pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_scoring_process_start)
        try:
            for _ in pool.imap_unordered(_derive_one, unfinished):
                pass
            # One photo at a time, so that the progress moves with each and an interrupted run
            # holds at most one photo per process.
            for outcome in pool.imap_unordered(_score_one, waiting):
                if outcome == "scored":
                    run.scored += 1
                elif outcome not in ("skipped", "superseded"):
                    run.failed += 1
                run.seconds = time.monotonic() - started
                if progress:
                    progress(run)
            pool.close()
        except BaseException:
            pool.terminate()  # Ctrl-C or an error: stop the processes now, then give back what they held
            pool.join()
            _release_claims(study)
            raise
        pool.join()
        run.seconds = time.monotonic() - started
        return run
