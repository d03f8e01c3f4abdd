"""The public API: versions, constants, results as JSON, no Django."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import measurements.engine as engine
from measurements.engine import (
    ENGINE_VERSION,
    EXPRESSIONS,
    METRIC_DEFINITIONS,
    MODEL_VERSION,
    PASSES,
    render_overlay,
    score_image_bytes,
)
from tests import imaging

ROOT = Path(__file__).resolve().parents[2]


def test_versions_and_constants():
    assert ENGINE_VERSION == "1.2.0"
    assert MODEL_VERSION == "mediapipe-0.10.21/face_mesh-refined-478"
    assert PASSES == 17  # 1 face-detector pass + 16 averaged landmark passes
    assert engine.AVERAGED_PASSES == 16 and engine.FIND_PASSES == 1
    # Engine 1.1.0's second stage, written out: a change here is a new engine version.
    assert engine.PASS_GEOMETRY == tuple(
        (-5.0 + 10.0 * i / 6, 0.03 if i % 2 else -0.03, i / 7, (5 * i % 7) / 7) for i in range(7)
    )
    assert EXPRESSIONS == (
        "rest",
        "brow_raise",
        "gentle_eye_closure",
        "full_eye_closure",
        "smile_closed",
        "smile_open",
        "pucker",
        "lower_lip_depression",
    )
    assert set(engine.STATUSES) == {
        "scored", "unreadable", "no_face", "multiple_faces", "face_too_small", "head_turned", "eyes_closed",
        "no_reference",
    }  # fmt: skip


def test_engine_imports_nothing_from_django():
    code = (
        "import sys, measurements.engine, measurements.engine.cli;"
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_face_mesh_is_created_once():
    assert engine.get_face_mesh() is engine.get_face_mesh()


def test_scoring_models_are_created_once():
    from measurements.engine import landmarks

    engine.load_models()
    graph = landmarks.get_landmark_graph()
    engine.load_models()
    assert landmarks.get_landmark_graph() is graph
    assert landmarks.get_short_range_detector() is landmarks.get_short_range_detector()


def test_result_serialises_to_json(face_result):
    data = face_result.to_dict()
    text = json.dumps(data)
    back = json.loads(text)
    assert back["status"] == "scored"
    assert back["engine_version"] == ENGINE_VERSION
    assert back["model_version"] == MODEL_VERSION
    assert len(back["landmarks"]) == 478
    assert set(back["metrics"]) == set(face_result.metrics)
    assert back["image_size"] == [1536, 1536]
    assert "landmarks" not in face_result.to_dict(include_landmarks=False)


def test_failed_result_serialises_too():
    result = score_image_bytes(b"")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == "unreadable" and data["landmarks"] is None and data["metrics"] == {}


def test_every_scored_metric_is_defined(face_result):
    defined = {d.name for d in METRIC_DEFINITIONS}
    assert set(face_result.metrics) <= defined


def test_overlay_is_a_clean_image_of_the_same_size(face, face_result):
    image = render_overlay(face, face_result)
    assert image.size == (face.shape[1], face.shape[0])
    assert image.mode == "RGB"
    assert not image.info.get("exif") and len(image.getexif()) == 0
    assert not np.array_equal(np.asarray(image), face)


def test_overlay_at_a_different_resolution_and_for_failures(face, face_result):
    small = imaging.halve(face)
    assert render_overlay(small, face_result).size == (small.shape[1], small.shape[0])
    failed = score_image_bytes(b"")
    assert render_overlay(small, failed).size == (small.shape[1], small.shape[0])


def test_concurrent_scoring_gives_the_same_answers(face, face_result):
    from concurrent.futures import ThreadPoolExecutor

    from measurements.engine import score_array

    photos = [face, imaging.mirror(face)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda img: score_array(img, expression="smile_open"), photos))
    assert results[0].metrics == face_result.metrics
    assert results[1].metrics["commissure_height_left_mm"] == pytest.approx(
        face_result.metrics["commissure_height_right_mm"], abs=1e-6
    )


@pytest.mark.parametrize("count", [2, 3, 4, 5, 7, 9])
def test_pass_geometry_spreads_rotations_and_covers_the_subpixel_lattice(count):
    from measurements.engine.landmarks import pass_geometry

    crops = pass_geometry(count)
    assert len(crops) == count
    rotations = [c[0] for c in crops]
    assert rotations[0] == -5.0 and rotations[-1] == 5.0 and rotations == sorted(rotations)
    assert {c[1] for c in crops} == {-0.03, 0.03}
    # Every column and every row of the count x count sub-pixel lattice is used once.
    assert sorted(round(c[2] * count) for c in crops) == list(range(count))
    assert sorted(round(c[3] * count) for c in crops) == list(range(count))


def test_pass_geometry_of_one_crop_is_the_placement_and_of_none_an_error():
    from measurements.engine.landmarks import pass_geometry

    assert pass_geometry(1) == ((0.0, 0.0, 0.0, 0.0),)
    with pytest.raises(ValueError):
        pass_geometry(0)
