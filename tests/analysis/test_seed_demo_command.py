"""`manage.py seed_demo` refuses to run on a production-like configuration and says truthfully
what happened to the demo photos (scored in-process, or only queued for a worker)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analysis.management.commands.seed_demo import photos_report
from measurements.models import Photo
from patients.models import Study

# A small demo keeps these fast: two patients, one expression. One job: with tasks in-process the
# command now scores on every core in spawned processes (analysis/demo_scoring.py), which open the
# configured database, not the test's, and cannot see its uncommitted rows; one job keeps the
# upload's own on-commit queueing, the path these tests are about.
SMALL = ("--patients", "2", "--expressions", "smile_open", "--jobs", "1")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path


def test_refuses_with_debug_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="published password; it runs only with DEBUG=1 .*or with --i-know"):
        call_command("seed_demo", *SMALL, stdout=StringIO())

    assert not Study.objects.exists()


def test_runs_with_debug_on(db, settings):
    settings.DEBUG = True
    out = StringIO()

    call_command("seed_demo", "--no-photos", *SMALL, stdout=out)

    assert "Demo logins" in out.getvalue()


def test_photos_only_queued_are_reported_as_queued_not_scored(db, settings):
    # In a test the upload's on-commit queueing never fires: the photos stay pending, as they do
    # with a broker until a worker takes them.
    out = StringIO()

    call_command("seed_demo", *SMALL, i_know_this_is_not_production=True, stdout=out)

    printed = out.getvalue()
    pending = Photo.objects.filter(status=Photo.Status.PENDING).count()
    assert pending > 0
    assert "scored them" not in printed
    assert f"{pending} queued for the scoring worker (not scored yet" in printed


def test_photos_scored_in_process_are_reported_with_their_outcome(db):
    # With tasks in-process (DEBUG=1) each upload is scored as it commits; here the outcome is
    # set directly, so the report is checked without running the engine on every demo photo.
    call_command("seed_demo", *SMALL, i_know_this_is_not_production=True, stdout=StringIO())
    study = Study.objects.get()
    photos = Photo.objects.filter(patient__study=study)
    total = photos.count()
    photos.update(status=Photo.Status.SCORED)
    photos.filter(pk=photos.first().pk).update(status=Photo.Status.FAILED, failure_reason="No face found.")

    report = photos_report(study, total)

    assert report.endswith(f"{total - 1} scored, 1 failed a quality check.")
    assert "queued" not in report
