"""`make run`: the demo is served while its photos are scored in the background, and a scoring
stopped half-way (Ctrl-C) resumes on the next run with nothing scored twice and nothing left "scoring".

The scoring runs as `make run` runs it, `manage.py run_demo` in a process of its own (here without
its web server: the test client serves the pages), against the test database: a transactional
test, so that the other processes see the rows (as in test_demo_scoring.py).
"""

import os
import re
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from analysis.demo_scoring import ScoringAlreadyRunning, score_waiting, scoring_lock
from measurements.models import Photo, PhotoScore
from measurements.services import photo_claim
from patients.demo import DEMO_STUDY_CODE
from patients.models import Study

ROOT = Path(__file__).resolve().parents[2]
SMALL_DEMO = ("--patients", "2", "--expressions", "smile_open,rest", "--jobs", "1")


@pytest.fixture
def demo_env(settings, tmp_path, monkeypatch):
    """The test's database, media and var/ for this process and the scoring processes alike."""
    settings.MEDIA_ROOT, settings.VAR_DIR = tmp_path / "media", tmp_path
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **env}


def _start_scoring(env, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_demo", "--score-only", "--jobs", "1"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _login(client, username: str):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _shown_progress(page: str) -> tuple[int, int]:
    done, total = re.search(r"data-scoring-progress>([\d,]+) of ([\d,]+)<", page).groups()
    return int(done.replace(",", "")), int(total.replace(",", ""))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_demo_is_served_while_scored_and_an_interrupted_scoring_resumes(demo_env, client, tmp_path):
    out = StringIO()
    call_command("seed_demo", *SMALL_DEMO, "--score-later", i_know_this_is_not_production=True, stdout=out)
    study = Study.objects.get(code=DEMO_STUDY_CODE)
    photos = Photo.objects.filter(patient__study=study)
    total = photos.count()
    assert total == 16 and not photos.exclude(status=Photo.Status.PENDING).exists()
    assert f"being scored in the background: 0 of {total} so far" in out.getvalue()
    assert "Demo logins" in out.getvalue()

    # Served before any photo is scored: the bar, the queued photos, the outcomes page's note.
    dashboard = _login(client, "datamanager").get(reverse("dashboard")).content.decode()
    assert "Scoring the photos" in dashboard and _shown_progress(dashboard) == (0, total)
    patient = photos.filter(patient__site__code="LON").first().patient
    page = _login(client, "coordinator.lon").get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "Queued for scoring" in page
    outcomes = _login(client, "investigator").get(reverse("study_outcomes", args=[study.code]))
    assert outcomes.status_code == 200
    assert f"Photos are still being scored: 0 of {total} so far" in outcomes.content.decode()

    # The scoring runs in its own process; the pages follow it.
    first = _start_scoring(demo_env, tmp_path / "first.log")
    try:
        _wait_for(lambda: photos.filter(status=Photo.Status.SCORED).count() >= 3, timeout=180, what="3 photos scored")
        dashboard = _login(client, "datamanager").get(reverse("dashboard")).content.decode()
        done, shown_total = _shown_progress(dashboard)
        assert 3 <= done < total and shown_total == total
        assert re.search(r"(about \d+ min|under a minute) left", dashboard)
        outcomes = _login(client, "investigator").get(reverse("study_outcomes", args=[study.code]))
        assert outcomes.status_code == 200 and "Photos are still being scored" in outcomes.content.decode()
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C
        first.wait(timeout=60)
    log = (tmp_path / "first.log").read_text()
    assert first.returncode == 0, log
    assert "Stopped: " in log and "resumes where this stopped" in log
    # Stopped half-way: nothing left "scoring", no photo with two scores.
    scored_before = dict(photos.filter(status=Photo.Status.SCORED).values_list("pk", "scored_at"))
    assert 3 <= len(scored_before) < total
    assert not photos.filter(status=Photo.Status.PROCESSING).exists()
    assert PhotoScore.objects.filter(photo__in=photos).count() == len(scored_before)

    # A run killed outright (no Ctrl-C to clean up) leaves a photo claimed, shown as being scored.
    orphan = photos.filter(status=Photo.Status.PENDING, patient__site__code="LON").first()
    assert photo_claim(photo_id=orphan.pk) is not None
    page = _login(client, "coordinator.lon").get(reverse("patient_detail", args=[orphan.patient_id])).content.decode()
    assert re.search(rf'data-photo-status="{orphan.pk}">Scoring<', page)

    # The next run resumes: it gives the orphan back, scores the rest, and nothing twice.
    again = _start_scoring(demo_env, tmp_path / "again.log")
    again.wait(timeout=300)
    log = (tmp_path / "again.log").read_text()
    assert again.returncode == 0, log
    assert f"Demo photos scored: {total} of {total}" in log and "1 resumed after an interruption" in log
    assert not photos.filter(status__in=[Photo.Status.PENDING, Photo.Status.PROCESSING]).exists()
    assert PhotoScore.objects.filter(photo__in=photos).count() == total
    assert dict(photos.filter(pk__in=scored_before).values_list("pk", "scored_at")) == scored_before
    assert "Scoring the photos" not in _login(client, "datamanager").get(reverse("dashboard")).content.decode()
    outcomes = _login(client, "investigator").get(reverse("study_outcomes", args=[study.code])).content.decode()
    assert "Photos are still being scored" not in outcomes


@pytest.mark.django_db
def test_one_scoring_run_at_a_time(settings, tmp_path, study):
    settings.VAR_DIR = tmp_path
    study.code = DEMO_STUDY_CODE
    with scoring_lock(study.code):
        with pytest.raises(ScoringAlreadyRunning, match="Another process is scoring the photos"):
            score_waiting(study=study, jobs=1)
