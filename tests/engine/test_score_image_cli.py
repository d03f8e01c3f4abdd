"""The score_image command's logic (``run``), without Django settings."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from measurements.engine import UNSIGNED_METRIC_NAMES
from measurements.management.commands.score_image import run
from tests import imaging


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory, face):
    path = tmp_path_factory.mktemp("photos") / "smile.jpg"
    path.write_bytes(imaging.to_jpeg_bytes(face, quality=92))
    return path


def run_json(path, **kwargs):
    out = io.StringIO()
    code = run(path, as_json=True, stdout=out, **kwargs)
    text = out.getvalue()
    assert text.count("\n") == 1  # exactly one JSON object
    return code, json.loads(text)


def test_scored_photo_as_json(photo_path):
    code, data = run_json(photo_path, expression="smile_open", affected_side="left")
    assert code == 0
    assert data["status"] == "scored" and data["reason"] == ""
    assert data["engine_version"] == "1.2.0"
    assert data["model_version"].startswith("mediapipe-0.10.21")
    assert 0.3 < data["mm_per_px"] < 0.7
    for name in UNSIGNED_METRIC_NAMES:
        assert isinstance(data[name], float), name
    assert "commissure_height_signed_mm" in data


def test_scored_photo_as_table(photo_path):
    out = io.StringIO()
    code = run(photo_path, stdout=out)
    text = out.getvalue()
    assert code == 0
    assert "scored" in text and "commissure_height_deviation_mm" in text and " mm" in text


def test_failed_gate_exits_3(tmp_path):
    path = tmp_path / "coffee.jpg"
    path.write_bytes(imaging.to_jpeg_bytes(imaging.no_face_image()))
    code, data = run_json(path)
    assert code == 3
    assert data["status"] == "no_face" and data["reason"]
    assert data["mm_per_px"] is None


def test_unreadable_file_exits_2(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo")
    code, data = run_json(path)
    assert code == 2 and data["status"] == "unreadable"


def test_missing_file_exits_2(tmp_path):
    code, data = run_json(tmp_path / "nowhere.jpg")
    assert code == 2 and data["status"] == "unreadable"
    assert "no file" in data["reason"]
    out = io.StringIO()
    assert run(tmp_path / "nowhere.jpg", stdout=out) == 2
    assert "unreadable" in out.getvalue()


ROOT = Path(__file__).resolve().parents[2]


def manage(*args):
    """Run ``manage.py`` in a subprocess with the test run's environment
    (settings come from DJANGO_SETTINGS_MODULE / SECRET_KEY as for pytest)."""
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "trialsite.settings")
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_score_image_json(photo_path):
    done = manage("score_image", str(photo_path), "--json", "--expression", "smile_open", "--affected-side", "right")
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)  # stdout holds exactly one JSON object
    assert data["status"] == "scored"
    assert "commissure_height_signed_mm" in data


def test_manage_py_score_image_missing_file(tmp_path):
    done = manage("score_image", str(tmp_path / "nowhere.jpg"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "unreadable" in done.stdout


def test_an_eye_closure_takes_its_scale_from_the_reference_photo(photo_path, tmp_path, face, face_reference):
    closed = tmp_path / "closed.jpg"
    closed.write_bytes(imaging.to_jpeg_bytes(imaging.close_eyes(face, reference=face_reference), quality=92))
    code, alone = run_json(closed, expression="full_eye_closure")
    assert (code, alone["status"], alone["mm_per_px"]) == (3, "no_reference", None)
    code, data = run_json(closed, expression="full_eye_closure", reference=photo_path)
    assert (code, data["status"], data["scale_source"]) == (0, "scored", "reference")
    assert "eye_closure_right_pct" in data
