"""The left/right pair table."""

import re
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from measurements.engine.landmarks import run_mesh
from measurements.engine.metrics import (
    BROW_LEFT,
    LOWER_LID_LEFT,
    LOWER_LID_RIGHT,
    UPPER_LID_LEFT,
    UPPER_LID_RIGHT,
)
from measurements.engine.pairs import MIDLINE, MIRROR, N_LANDMARKS, mirror_landmarks
from tests import imaging


def test_table_is_an_involution_over_all_478_points():
    assert MIRROR.shape == (N_LANDMARKS,)
    assert sorted(MIRROR.tolist()) == list(range(N_LANDMARKS))
    assert np.array_equal(MIRROR[MIRROR], np.arange(N_LANDMARKS))


def test_known_pairs():
    for right, left in [
        (61, 291),
        (159, 386),
        (145, 374),
        (33, 263),
        (133, 362),
        (468, 473),
        (78, 308),
        (70, 300),
        (107, 336),
    ]:
        assert MIRROR[right] == left
        assert MIRROR[left] == right


def test_midline_points_map_to_themselves_and_nothing_else_does():
    fixed = [i for i in range(N_LANDMARKS) if MIRROR[i] == i]
    assert fixed == sorted(MIDLINE)
    for i in (0, 1, 4, 13, 14, 17, 152, 168):
        assert i in fixed


def test_left_contours_are_the_documented_ones():
    assert BROW_LEFT == (300, 293, 334, 296, 336)
    assert UPPER_LID_LEFT == (263, 466, 388, 387, 386, 385, 384, 398, 362)
    assert LOWER_LID_LEFT == (263, 249, 390, 373, 374, 380, 381, 382, 362)
    assert 159 in UPPER_LID_RIGHT and 145 in LOWER_LID_RIGHT


def test_mirror_landmarks_twice_is_identity():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 500, size=(N_LANDMARKS, 2))
    assert np.allclose(mirror_landmarks(mirror_landmarks(pts, 500.0), 500.0), pts)


def test_table_agrees_with_the_landmark_model(face):
    """The mesh of the mirrored photo, mirrored back, lands on the partners.

    Optimal one-to-one assignment between the two point sets, summed over a
    few versions of the photo, reproduces the table exactly: the model itself
    confirms which point mirrors which.
    """
    cost = np.zeros((N_LANDMARKS, N_LANDMARKS))
    for img in (face, imaging.rotate(face, 5), imaging.halve(face)):
        width = img.shape[1]
        (direct,) = run_mesh(img)
        (flipped,) = run_mesh(imaging.mirror(img))
        flipped[:, 0] = width - flipped[:, 0]  # positions back in the photo, labels as found
        scale = np.linalg.norm(direct[468] - direct[473])
        cost += np.linalg.norm(direct[:, None] - flipped[None], axis=2) / scale
    rows, cols = linear_sum_assignment(cost)
    # flipped point j (labelled j in the mirror image) sits where direct point rows[k] is.
    derived = np.empty(N_LANDMARKS, dtype=int)
    derived[cols] = rows
    assert np.array_equal(derived, MIRROR)


def _documented_pairs() -> list[tuple[int, int]]:
    """(right, left) pairs from docs/metrics.md's landmark table: rows with both sides filled in
    whose right and left columns list points in the same order."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    section = text.split("## Landmarks", 1)[1].split("\n## ", 1)[0]
    pairs = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[2] or not re.search(r"\d", cells[1]) or "/" in cells[1]:
            continue
        right = [int(n) for n in re.findall(r"\d+", cells[1])]
        left = [int(n) for n in re.findall(r"\d+", cells[2])]
        assert len(right) == len(left), line
        pairs += list(zip(right, left))
    return pairs


def test_table_pairs_every_point_the_docs_list_by_side():
    """The documented structures (iris, commissures, brows, lids) pair point by point; a single
    wrong pair in MIRROR among them fails here, without running the landmark model."""
    pairs = _documented_pairs()
    assert len(pairs) > 25
    wrong = [(right, left, int(MIRROR[right])) for right, left in pairs if MIRROR[right] != left]
    assert wrong == []
