"""The demo's parallel scoring (analysis/demo_scoring.py): spawned processes score every photo.

The processes are spawned, so they set Django up from the environment, not from this test's
settings: the test points DATABASE_URL and MEDIA_ROOT at the test database and its media, and
commits its rows (a transactional test) so that the other processes can see them.
"""

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection

from measurements.models import Photo, PhotoScore
from measurements.services import derived_image_name
from patients.models import Study


@pytest.mark.django_db(transaction=True)
def test_two_processes_score_every_demo_photo(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT, settings.VAR_DIR = tmp_path / "media", tmp_path
    db = connection.settings_dict
    monkeypatch.setenv("DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    out = StringIO()

    call_command(
        "seed_demo", "--patients", "2", "--expressions", "smile_open", "--jobs", "2",
        i_know_this_is_not_production=True, stdout=out,
    )  # fmt: skip

    photos = Photo.objects.filter(patient__study=Study.objects.get())
    assert photos.count() > 0 and "Scoring" in out.getvalue() and "with 2 processes" in out.getvalue()
    # Every photo was taken by a process: none left pending, one score each, and its derived images built.
    assert not photos.filter(status=Photo.Status.PENDING).exists()
    assert PhotoScore.objects.filter(photo__in=photos).count() == photos.count()
    assert photos.filter(status=Photo.Status.SCORED).exists()
    for score in PhotoScore.objects.filter(photo__in=photos).select_related("photo"):
        names = [derived_image_name(score.photo, "view"), derived_image_name(score.photo, "thumbnail")]
        names += [derived_image_name(score.photo, "overlay", score)] if score.landmarks else []
        assert all(default_storage.exists(name) for name in names), names


@pytest.mark.django_db(transaction=True)
def test_eye_closures_scored_before_their_rest_photo_end_with_its_scale(settings, tmp_path, monkeypatch):
    """The closures are uploaded, and so scored, before each visit's rest photo: they come back
    no_reference, and the rest photo's scoring queues them again (measurements/visit_scale.py)."""
    settings.MEDIA_ROOT, settings.VAR_DIR = tmp_path / "media", tmp_path
    db = connection.settings_dict
    monkeypatch.setenv("DATABASE_URL", f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    monkeypatch.setenv("MEDIA_ROOT", str(settings.MEDIA_ROOT))
    monkeypatch.setenv("VAR_DIR", str(tmp_path))

    call_command(
        "seed_demo", "--patients", "2", "--expressions", "full_eye_closure,rest", "--jobs", "2",
        i_know_this_is_not_production=True, stdout=StringIO(),
    )  # fmt: skip

    closures = Photo.objects.filter(patient__study=Study.objects.get(), expression="full_eye_closure")
    assert closures.exists()
    assert set(closures.values_list("status", flat=True)) == {Photo.Status.SCORED}
    for score in PhotoScore.objects.filter(photo__in=closures).select_related("photo", "scale_photo"):
        assert score.scale_photo.visit_id == score.photo.visit_id and score.scale_photo.expression == "rest"
        assert [h.status for h in score.history.order_by("history_date")] == ["no_reference", "scored"]
