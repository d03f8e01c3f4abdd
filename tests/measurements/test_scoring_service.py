"""Scoring a stored photo: the one place where the engine meets the database.

Only the tests whose subject is scoring run the real engine; they share a few
encoded photos built once per module.
"""

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from measurements import engine, selectors, services
from measurements.engine import ScoreResult
from measurements.models import Expression, Photo, PhotoScore
from tests.imaging import astronaut_face, gradient_image, to_jpeg_bytes

from .files import has_exif, noise_jpeg, upload


@pytest.fixture(scope="module")
def face_jpeg():
    return to_jpeg_bytes(astronaut_face(), quality=90)


@pytest.fixture(scope="module")
def another_face_jpeg():
    return to_jpeg_bytes(astronaut_face(), quality=85)


@pytest.fixture(scope="module")
def gradient_jpeg():
    return to_jpeg_bytes(gradient_image())


def make_stale(photo, settings):
    Photo.objects.filter(pk=photo.pk).update(
        claimed_at=timezone.now() - services.STALE_CLAIM_AFTER - timedelta(seconds=1)
    )


# --- Scoring -------------------------------------------------------------------------------


def test_face_photo_is_scored(add_photo, face_jpeg):
    photo = add_photo(face_jpeg, expression="smile_open")

    assert services.photo_score(photo_id=photo.pk) == "scored"

    photo.refresh_from_db()
    assert photo.status == Photo.Status.SCORED
    assert (photo.failure_code, photo.failure_reason, photo.claim_token) == ("", "", None)
    assert photo.scored_at is not None
    assert photo.attempts == 1
    score = photo.scores.get()
    assert score.status == "scored"
    assert score.engine_version == engine.ENGINE_VERSION
    assert score.model_version == engine.MODEL_VERSION
    assert score.model_version.startswith("mediapipe-")
    assert "commissure_height_deviation_mm" in score.metrics
    assert score.metrics["commissure_height_deviation_mm"] >= 0
    assert len(score.landmarks) == 478
    assert all(len(point) == 2 for point in score.landmarks)
    assert (score.image_width, score.image_height) == (1536, 1536)
    assert 0.2 < score.mm_per_px < 1.0
    assert photo.history.first().history_change_reason == f"Scored by engine {engine.ENGINE_VERSION}: scored"


def test_scored_photo_gets_an_overlay_without_exif_drawn_once(add_photo, face_jpeg, monkeypatch):
    photo = add_photo(face_jpeg)
    services.photo_score(photo_id=photo.pk)
    score = photo.scores.get()

    name = services.photo_overlay(photo=photo, score=score)

    assert name.startswith("derived/overlays/")
    with default_storage.open(name, "rb") as stored:
        overlay = stored.read()
    with Image.open(io.BytesIO(overlay)) as image:
        assert image.format == "JPEG"
        assert image.size[0] > 0
    assert not has_exif(overlay)
    # Kept in storage: a second request draws nothing.
    monkeypatch.setattr(engine, "render_overlay", pytest.fail)
    assert services.photo_overlay(photo=photo, score=score) == name


def test_upload_is_scored_in_process_after_commit_when_no_broker(
    client, coordinator_a, visit_a, face_jpeg, django_capture_on_commit_callbacks
):
    # Without CELERY_BROKER_URL Celery runs eagerly: the on-commit hook scores the photo right away.
    client.force_login(coordinator_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/patients/{visit_a.patient_id}/visits/{visit_a.pk}/photos/", {"photo_rest": upload("rest.jpg", face_jpeg)}
        )

    assert response.status_code == 302
    assert len(callbacks) == 1
    photo = Photo.objects.get()
    assert photo.status == Photo.Status.SCORED, photo.failure_reason
    assert photo.scores.count() == 1


def test_photo_without_a_face_fails_with_a_reason(add_photo, gradient_jpeg):
    photo = add_photo(gradient_jpeg, expression="rest")

    assert services.photo_score(photo_id=photo.pk) == "no_face"

    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert photo.failure_code == "no_face"
    assert "No face was found" in photo.failure_reason
    score = photo.scores.get()
    assert (score.status, score.engine_version) == ("no_face", engine.ENGINE_VERSION)
    assert score.reason == photo.failure_reason
    assert not score.passed
    # A failed photo carries no numbers, so nothing downstream can take it for an outcome.
    assert score.metrics == {}
    assert selectors.metric_rows(score) == []


def test_unreadable_stored_file_fails_instead_of_crashing(add_photo, media_root):
    # The upload check reads only the header; a body that will not decode is the engine's to report.
    data = noise_jpeg(1, (200, 200))
    photo = add_photo(data[: len(data) // 3])

    assert services.photo_score(photo_id=photo.pk) == "unreadable"

    photo.refresh_from_db()
    assert (photo.status, photo.failure_code) == (Photo.Status.FAILED, "unreadable")
    assert photo.failure_reason


# --- Claims: atomic, idempotent -------------------------------------------------------------


def test_second_claim_gets_nothing(add_photo):
    photo = add_photo()

    first = services.photo_claim(photo_id=photo.pk)
    second = services.photo_claim(photo_id=photo.pk)

    assert first is not None
    assert second is None
    photo.refresh_from_db()
    assert (photo.status, photo.claim_token, photo.attempts) == (Photo.Status.PROCESSING, first, 1)


def test_photo_being_scored_elsewhere_is_skipped(add_photo, monkeypatch):
    photo = add_photo()
    services.photo_claim(photo_id=photo.pk)
    monkeypatch.setattr(engine, "score_image_bytes", pytest.fail)

    assert services.photo_score(photo_id=photo.pk) == "skipped"
    assert not PhotoScore.objects.exists()


def test_scoring_a_scored_photo_again_is_skipped_and_writes_nothing(add_photo, face_jpeg, monkeypatch):
    photo = add_photo(face_jpeg)
    services.photo_score(photo_id=photo.pk)
    photo.refresh_from_db()
    before = (photo.status, photo.scored_at, photo.attempts, photo.history.count())
    monkeypatch.setattr(engine, "score_image_bytes", pytest.fail)

    assert services.photo_score(photo_id=photo.pk) == "skipped"

    photo.refresh_from_db()
    assert (photo.status, photo.scored_at, photo.attempts, photo.history.count()) == before
    assert photo.scores.count() == 1


def test_stale_claim_of_a_dead_worker_can_be_taken_over(add_photo, settings):
    photo = add_photo()
    dead = services.photo_claim(photo_id=photo.pk)
    make_stale(photo, settings)

    taken = services.photo_claim(photo_id=photo.pk)

    assert taken is not None and taken != dead
    photo.refresh_from_db()
    assert (photo.claim_token, photo.attempts) == (taken, 2)


def test_claim_younger_than_the_stale_limit_is_not_taken_over(add_photo, settings):
    photo = add_photo()
    services.photo_claim(photo_id=photo.pk)
    Photo.objects.filter(pk=photo.pk).update(
        claimed_at=timezone.now() - services.STALE_CLAIM_AFTER + timedelta(seconds=5)
    )

    assert services.photo_claim(photo_id=photo.pk) is None


def test_a_claim_is_stale_once_older_than_the_tasks_hard_time_limit():
    from measurements.tasks import score_photo

    assert score_photo.time_limit == services.SCORING_TIME_LIMIT
    assert score_photo.soft_time_limit == services.SCORING_SOFT_TIME_LIMIT
    assert timedelta(seconds=score_photo.time_limit) < services.STALE_CLAIM_AFTER
    # Back within two minutes of a kill with beat's sweep every PHOTO_SWEEP_SECONDS (30 s).
    assert services.STALE_CLAIM_AFTER + timedelta(seconds=30) <= timedelta(seconds=110)


def test_superseded_worker_writes_nothing(add_photo, settings):
    photo = add_photo()
    stalled = services.photo_claim(photo_id=photo.pk)
    make_stale(photo, settings)
    current = services.photo_claim(photo_id=photo.pk)
    late_result = ScoreResult(status="no_face", reason="The stalled worker's answer.")

    outcome = services._photo_save_result(photo=photo, token=stalled, result=late_result)

    assert outcome == "superseded"
    assert not PhotoScore.objects.exists()
    photo.refresh_from_db()
    assert (photo.status, photo.claim_token, photo.failure_reason) == (Photo.Status.PROCESSING, current, "")


def test_score_written_before_a_crash_is_not_written_twice(add_photo, face_jpeg, monkeypatch):
    # A worker wrote the score, then died before the status change was committed... or the
    # status was reset by the sweep: the next worker finds the score and only finishes the job.
    photo = add_photo(face_jpeg)
    services.photo_score(photo_id=photo.pk)
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.PENDING, scored_at=None)
    monkeypatch.setattr(engine, "score_image_bytes", pytest.fail)

    assert services.photo_score(photo_id=photo.pk) == "scored"

    photo.refresh_from_db()
    assert photo.status == Photo.Status.SCORED
    assert photo.scores.count() == 1


def test_release_returns_the_photo_to_the_queue(add_photo):
    photo = add_photo()
    services.photo_claim(photo_id=photo.pk)

    services.photo_release(photo_id=photo.pk, error="RuntimeError('storage unreachable')")

    photo.refresh_from_db()
    assert (photo.status, photo.claim_token, photo.claimed_at, photo.queued_at) == (
        Photo.Status.PENDING,
        None,
        None,
        None,
    )
    assert services.photo_claim(photo_id=photo.pk) is not None, "a released photo can be claimed again"


def test_release_leaves_a_finished_photo_alone(add_photo, gradient_jpeg):
    photo = add_photo(gradient_jpeg)
    services.photo_score(photo_id=photo.pk)

    services.photo_release(photo_id=photo.pk, error="late duplicate")

    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED


def test_worker_error_releases_the_photo_for_a_retry(add_photo, monkeypatch):
    from measurements.tasks import score_photo

    photo = add_photo()

    def storage_down(*args, **kwargs):
        raise ConnectionError("storage unreachable")

    monkeypatch.setattr(engine, "score_image_bytes", storage_down)
    score_photo.apply(args=[photo.pk])

    photo.refresh_from_db()
    assert photo.status == Photo.Status.PENDING
    assert photo.claim_token is None
    assert photo.attempts >= 1
    assert not PhotoScore.objects.exists()


# --- The sweep ---------------------------------------------------------------------------------


def test_sweep_resets_a_stale_claim_and_scores_it(add_photo, face_jpeg, settings):
    photo = add_photo(face_jpeg)
    services.photo_claim(photo_id=photo.pk)
    make_stale(photo, settings)

    result = services.photos_sweep()

    assert result == {"reset": 1, "queued": 1, "gave_up": 0}
    photo.refresh_from_db()
    assert photo.status == Photo.Status.SCORED  # eager Celery: queued means scored, here
    assert photo.attempts == 2


def test_sweep_leaves_a_live_claim_alone(add_photo):
    photo = add_photo()
    services.photo_claim(photo_id=photo.pk)

    assert services.photos_sweep() == {"reset": 0, "queued": 0, "gave_up": 0}
    photo.refresh_from_db()
    assert photo.status == Photo.Status.PROCESSING


def test_sweep_queues_photos_that_were_never_queued(add_photo, face_jpeg, gradient_jpeg):
    # on_commit never ran in this test, as if the broker had been down at upload time.
    face, blank = add_photo(face_jpeg, expression="rest"), add_photo(gradient_jpeg, expression="pucker")
    assert Photo.objects.filter(queued_at__isnull=True, status=Photo.Status.PENDING).count() == 2

    assert services.photos_sweep()["queued"] == 2

    assert Photo.objects.get(pk=face.pk).status == Photo.Status.SCORED
    assert Photo.objects.get(pk=blank.pk).failure_code == "no_face"
    assert services.photos_sweep() == {"reset": 0, "queued": 0, "gave_up": 0}


def test_sweep_requeues_a_photo_whose_message_was_lost(add_photo, settings, monkeypatch):
    photo = add_photo()
    lost = timezone.now() - timedelta(seconds=settings.PHOTO_STALE_QUEUE_SECONDS + 1)
    recent = add_photo()
    Photo.objects.filter(pk=photo.pk).update(queued_at=lost)
    Photo.objects.filter(pk=recent.pk).update(queued_at=timezone.now())
    queued = []
    monkeypatch.setattr(services, "_enqueue", queued.append)

    assert services.photos_sweep()["queued"] == 1
    assert queued == [photo.pk]


def test_sweep_gives_up_after_max_attempts_with_a_reason(add_photo, monkeypatch):
    photo = add_photo()
    Photo.objects.filter(pk=photo.pk).update(attempts=services.MAX_ATTEMPTS)
    monkeypatch.setattr(services, "_enqueue", pytest.fail)

    assert services.photos_sweep() == {"reset": 0, "queued": 0, "gave_up": 1}

    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert photo.failure_code == "engine_error"
    assert "failed repeatedly" in photo.failure_reason


def test_photo_that_keeps_crashing_the_engine_ends_failed(add_photo, monkeypatch):
    photo = add_photo()

    def crash(*args, **kwargs):
        raise MemoryError("worker ran out of memory")

    monkeypatch.setattr(engine, "score_image_bytes", crash)
    for _ in range(services.MAX_ATTEMPTS + 1):
        services.photos_sweep()
        Photo.objects.filter(pk=photo.pk, status=Photo.Status.PENDING).update(queued_at=None)

    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED
    assert photo.failure_code == "engine_error"
    assert photo.attempts >= services.MAX_ATTEMPTS


def test_sweep_command_runs(add_photo, gradient_jpeg):
    add_photo(gradient_jpeg)
    out = io.StringIO()

    call_command("sweep_photos", stdout=out)

    assert out.getvalue().strip() == "Reset 0, queued 1, gave up on 0."
    assert Photo.objects.get().status == Photo.Status.FAILED


# --- Rescoring under a new engine -----------------------------------------------------------------


@pytest.fixture
def new_engine(monkeypatch):
    """Pretend a new engine release: the services and the results both say 9.9.9."""
    real = engine.score_image_bytes

    def score_image_bytes(*args, **kwargs):
        result = real(*args, **kwargs)
        result.engine_version = "9.9.9"
        return result

    def install():
        monkeypatch.setattr(engine, "ENGINE_VERSION", "9.9.9")
        monkeypatch.setattr(engine, "score_image_bytes", score_image_bytes)

    return install


def test_rescore_under_a_new_engine_keeps_the_old_score(add_photo, face_jpeg, new_engine):
    photo = add_photo(face_jpeg)
    services.photo_score(photo_id=photo.pk)
    old = photo.scores.get()
    new_engine()

    assert services.photos_rescore() == 1

    photo.refresh_from_db()
    assert photo.status == Photo.Status.SCORED
    versions = dict(photo.scores.values_list("engine_version", "pk"))
    assert versions == {old.engine_version: old.pk, "9.9.9": versions["9.9.9"]}
    assert PhotoScore.objects.get(pk=old.pk).metrics == old.metrics, "the old score is never overwritten"
    assert selectors.current_score(Photo.objects.prefetch_related("scores").get(pk=photo.pk)).engine_version == "9.9.9"
    assert services.photos_rescore() == 0, "nothing left without a 9.9.9 score"


def test_rescore_leaves_photos_already_scored_by_the_current_engine(add_photo, face_jpeg, monkeypatch):
    photo = add_photo(face_jpeg)
    services.photo_score(photo_id=photo.pk)
    monkeypatch.setattr(services, "_enqueue", pytest.fail)

    assert services.photos_rescore() == 0
    photo.refresh_from_db()
    assert photo.status == Photo.Status.SCORED


def test_rescore_command_limited_to_one_study(add_photo, gradient_jpeg, new_engine, study):
    photo = add_photo(gradient_jpeg)
    services.photo_score(photo_id=photo.pk)
    new_engine()
    out = io.StringIO()

    call_command("rescore", "--study", "OTHER-STUDY", stdout=out)
    assert out.getvalue().strip() == "Queued 0 photo(s) for scoring with engine 9.9.9."
    assert photo.scores.count() == 1

    out = io.StringIO()
    call_command("rescore", "--study", study.code, stdout=out)
    assert out.getvalue().strip() == "Queued 1 photo(s) for scoring with engine 9.9.9."
    assert sorted(photo.scores.values_list("engine_version", flat=True)) == [engine.score.ENGINE_VERSION, "9.9.9"]


def test_the_app_and_the_engine_know_the_same_photo_set():
    # Expression (the database's choices) and engine.EXPRESSIONS (the gates') are two lists of
    # one protocol; a photo tagged with a name the engine does not know could never be scored.
    assert tuple(Expression.values) == tuple(engine.EXPRESSIONS)
