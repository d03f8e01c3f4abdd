"""Fixtures for the engine tests: generated photos and their scores.

Everything expensive (warping, running the model) is session-scoped, so each
photo is scored once however many tests look at it. No Django, no database.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` without a configured pythonpath
    sys.path.insert(0, str(ROOT))

from measurements.engine import ScoreResult, score_array  # noqa: E402
from tests import imaging  # noqa: E402

# Scale of the astronaut portrait for most tests: iris about 25 px.
SCALE = 3.0
# Larger base for the precision tests, so that the halved photo (iris about
# 17 px) stays well clear of the 12 px face-size gate.
PRECISION_SCALE = 4.0
PULLS_MM = (0, 1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="session")
def face() -> np.ndarray:
    return imaging.astronaut_face(SCALE)


@pytest.fixture(scope="session")
def face_result(face) -> ScoreResult:
    result = score_array(face, expression="smile_open")
    assert result.status == "scored", result.reason
    return result


@pytest.fixture(scope="session")
def face_reference(face) -> imaging.FaceReference:
    return imaging.face_reference(face)


@pytest.fixture(scope="session")
def lower_corner_side(face_result) -> str:
    """The side whose commissure already sits lower; pulling it down grows the
    deviation linearly (pulling the other side would first shrink it)."""
    m = face_result.metrics
    return "right" if m["commissure_height_right_mm"] > m["commissure_height_left_mm"] else "left"


def _pull_series(face, reference, side) -> dict[int, ScoreResult]:
    out = {}
    for mm in PULLS_MM:
        photo = imaging.pull_commissure_down(face, side, mm, reference=reference)
        out[mm] = score_array(photo, expression="smile_open", affected_side=side)
        assert out[mm].status == "scored", (mm, out[mm].reason)
    return out


@pytest.fixture(scope="session")
def pulled_lower_side(face, face_reference, lower_corner_side) -> dict[int, ScoreResult]:
    return _pull_series(face, face_reference, lower_corner_side)


@pytest.fixture(scope="session")
def pulled_higher_side(face, face_reference, lower_corner_side) -> dict[int, ScoreResult]:
    other = "left" if lower_corner_side == "right" else "right"
    return _pull_series(face, face_reference, other)


@pytest.fixture(scope="session")
def precision_face():
    return imaging.astronaut_face(PRECISION_SCALE)


@pytest.fixture(scope="session")
def precision_base(precision_face) -> ScoreResult:
    result = score_array(precision_face, expression="smile_open")
    assert result.status == "scored", result.reason
    return result
