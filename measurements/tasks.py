"""Celery tasks: thin interfaces that take an id, call the service and own the retries."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from . import engine, services

logger = logging.getLogger(__name__)


@worker_process_init.connect
def load_model_once(**kwargs):
    # The MediaPipe graphs are built once per worker process, not per task.
    engine.load_models()


@shared_task(
    bind=True,
    acks_late=True,  # a task is acknowledged only when done: a killed worker's task is redelivered
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
    max_retries=3,
)
def score_photo(self, photo_id: int) -> str:
    try:
        outcome = services.photo_score(photo_id=photo_id)
        # Preview, thumbnail and overlay are made here, so no web request ever decodes a photo.
        # Idempotent: a retry after a storage error builds what is still missing.
        services.photo_derive_images(photo_id=photo_id)
        return outcome
    except SoftTimeLimitExceeded as exc:
        services.photo_release(photo_id=photo_id, error="time limit")
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
    except Exception as exc:
        # Unexpected errors (storage unreachable, a bug): give the photo back and retry with
        # backoff; after the last retry the periodic sweep keeps it queued until MAX_ATTEMPTS.
        services.photo_release(photo_id=photo_id, error=repr(exc))
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@shared_task(acks_late=True, time_limit=300)
def sweep_photos() -> dict:
    result = services.photos_sweep()
    if any(result.values()):
        logger.info("Photo sweep: %s", result)
    return result
